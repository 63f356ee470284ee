// parse: turns a received message into owned, typed parts.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/detail/wire.hpp>
#include <machport/message.hpp>
#include <machport/ool_buffer.hpp>
#include <machport/receive_right.hpp>
#include <machport/result.hpp>
#include <machport/send_once_right.hpp>
#include <machport/send_right.hpp>
#include <machport/trailer.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>

namespace machport {

// The reply right a message carried in its header (msgh_remote_port on receipt).
using reply_right = std::variant<std::monostate, send_right, send_once_right>;

// An OOL port array: the names are copied out of the kernel's array, which is released.
using port_array =
    std::variant<std::vector<send_right>, std::vector<send_once_right>, std::vector<receive_right>>;

// A received descriptor. A port descriptor becomes the right it carried (a right that died in
// flight arrives as MACH_PORT_DEAD, a null one as MACH_PORT_NULL); OOL memory (virtual or
// volatile) an ool_buffer; an OOL port array a port_array; a guarded port a receive_right
// (guarded with the context the kernel chose when received with guarded descriptors, else
// empty: the kernel destroyed the right).
using descriptor = std::variant<send_right, send_once_right, receive_right, ool_buffer, port_array>;

// What a received descriptor was on the wire (mach_msg_descriptor_type_t). The descriptor
// variant alone cannot tell a port from a guarded port, or OOL memory from volatile memory.
enum class descriptor_kind : std::uint8_t {
  port = MACH_MSG_PORT_DESCRIPTOR,
  ool = MACH_MSG_OOL_DESCRIPTOR,
  ool_ports = MACH_MSG_OOL_PORTS_DESCRIPTOR,
  ool_volatile = MACH_MSG_OOL_VOLATILE_DESCRIPTOR,
  guarded_port = MACH_MSG_GUARDED_PORT_DESCRIPTOR,
};

// The kind and disposition of one received descriptor, kept after its right is moved out.
struct descriptor_info {
  descriptor_kind kind = descriptor_kind::port;
  // MACH_MSG_TYPE_PORT_RECEIVE / _SEND / _SEND_ONCE for ports, guarded ports and port arrays;
  // 0 for memory.
  mach_msg_type_name_t disposition = 0;
};

// Reads inline data with the layout rule of the builder (detail::place_inline: each item at
// the next offset, from the start of the message, that is a multiple of its alignment).
// Every read is bounds-checked.
class body_reader {
 public:
  body_reader(std::span<const std::byte> message, std::size_t offset) noexcept
      : msg_(message), off_(offset) {}
  // Copies the next T; unexpected_size if it runs past the message.
  template <class T>
  result<T> read() noexcept {
    static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= detail::max_inline_alignment);
    const std::size_t at = detail::place_inline(off_, alignof(T));
    if (at > msg_.size() || msg_.size() - at < sizeof(T)) return message_errc::unexpected_size;
    T value;
    std::memcpy(&value, msg_.data() + at, sizeof(T));
    off_ = at + sizeof(T);
    return value;
  }
  // The next `n` bytes (no alignment).
  result<std::span<const std::byte>> read_bytes(std::size_t n) noexcept;
  std::size_t offset() const noexcept { return off_; }
  std::size_t remaining() const noexcept { return off_ < msg_.size() ? msg_.size() - off_ : 0; }

 private:
  std::span<const std::byte> msg_;
  std::size_t off_;
};

// A received message taken apart. It owns the reply right and the descriptors' rights and
// memory (take them out with std::move; whatever is left is released with this object) and
// keeps the bytes for body() and trailer().
class parsed_message {
 public:
  mach_msg_id_t id() const noexcept { return id_; }
  mach_msg_bits_t bits() const noexcept { return bits_; }
  // Our name for the receive right the message arrived on (msgh_local_port).
  mach_port_name_t local_port() const noexcept { return local_; }
  reply_right& reply() noexcept { return reply_; }
  std::vector<descriptor>& descriptors() noexcept { return descriptors_; }
  // descriptor_kinds()[i] describes descriptors()[i].
  const std::vector<descriptor_info>& descriptor_kinds() const noexcept { return kinds_; }
  // Inline data: from the end of the descriptors to msgh_size.
  std::span<const std::byte> body() const noexcept;
  // Offset of body() from the start of the message (for alignment).
  std::size_t body_offset() const noexcept { return body_offset_; }
  body_reader reader() const noexcept { return {message_bytes(), body_offset_}; }
  trailer_view trailer() const noexcept;
  std::span<const std::byte> message_bytes() const noexcept;
  // Hands the buffer the message arrived in to `m` (empty, for reuse: receive into it, encode
  // into it); whatever `m` held is released. body(), reader(), trailer() and message_bytes()
  // are empty afterwards; the rights and regions taken apart stay here.
  void recycle_buffer(message& m) noexcept;

 private:
  friend result<parsed_message> parse(message&& m);
  std::unique_ptr<std::uint64_t[]> storage_;
  std::size_t capacity_ = 0;
  mach_msg_id_t id_ = 0;
  mach_msg_bits_t bits_ = 0;
  mach_port_name_t local_ = MACH_PORT_NULL;
  std::size_t size_ = 0;
  std::size_t body_offset_ = 0;
  reply_right reply_;
  std::vector<descriptor> descriptors_;
  std::vector<descriptor_info> kinds_;
};

// Takes a received message apart. Checks every offset and count against the received size:
// msgh_size within the buffer, descriptor count and each descriptor within msgh_size, known
// descriptor types, dispositions a receiver can hold (PORT_RECEIVE/SEND/SEND_ONCE), OOL
// addresses non-null when the size is not 0, and the trailer within the buffer.
//
// On success `m` is empty and everything it owned is in the result. On error (message_errc)
// `m` is empty too, and every right and region it carried has been released (for a malformed
// message: everything in the header and in the descriptors before the malformed one).
// An outgoing message gives message_errc::bad_header_bits and is left untouched.
// Allocation failure throws std::bad_alloc before anything is taken: `m` is unchanged.
result<parsed_message> parse(message&& m);

namespace detail {
// The header checks of parse(): msgh_size within the buffer, a reply disposition a receiver
// can hold. `size` gets msgh_size.
inline message_errc check_received_header(const std::byte* buf, std::size_t length,
                                          std::size_t& size) noexcept {
  if (auto e = check_header(buf, length, size); e != message_errc::success) return e;
  const std::uint8_t remote = remote_disposition(load32(buf + header_bits_offset));
  if (remote != 0 && remote != disp_move_send && remote != disp_move_send_once) {
    return message_errc::bad_header_bits;
  }
  return message_errc::success;
}
// The trailer, if the buffer has room for one after msgh_size, must fit in it.
inline message_errc check_received_trailer(const std::byte* buf, std::size_t length,
                                           std::size_t size) noexcept {
  if (length - size >= min_trailer_size &&
      load32(buf + size + trailer_size_offset) > length - size) {
    return message_errc::bad_trailer;
  }
  return message_errc::success;
}
// The structural checks of parse() on the received message in [buf, buf+length), without
// taking anything: returns success or why it is malformed; `size` gets msgh_size and
// `body_offset` the end of the descriptors.
message_errc validate_received(const std::byte* buf, std::size_t length, std::size_t& size,
                               std::size_t& body_offset) noexcept;
}  // namespace detail

}  // namespace machport
