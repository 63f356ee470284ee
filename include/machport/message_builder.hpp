// message_builder: composes an outgoing message.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/detail/wire.hpp>
#include <machport/message.hpp>
#include <machport/ool_buffer.hpp>
#include <machport/receive_right.hpp>
#include <machport/result.hpp>
#include <machport/send_once_right.hpp>
#include <machport/send_right.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

namespace machport {

// Builds a message: id, an optional reply port, descriptors (in the order added), then
// inline data. The destination is given to send().
//
// Layout (fixed, so that receivers and typed decode can rely on it):
//   header (24 bytes)
//   if any descriptor: msgh_descriptor_count (4 bytes), then the descriptors (12 bytes for a
//     port, 16 for the others), and MACH_MSGH_BITS_COMPLEX is set;
//   inline data: each item at the next offset (from the start of the message) that is a
//     multiple of its alignment (at most 8), padding with zero bytes;
//   msgh_size is rounded up to a multiple of 4.
//
// Rights moved in (send_right&&, send_once_right&&, receive_right&&, ool_buffer&&) belong to
// the builder, then to the message; if the builder or the message is destroyed unsent they are
// released. Rights passed by const& are borrowed: the message refers to them by name (COPY_SEND,
// MAKE_SEND, MAKE_SEND_ONCE), so they must stay alive until the message is sent or destroyed.
// Borrowed OOL memory (a span) is copied by the kernel at send time and must stay valid until
// then.
//
// The add_* calls and build() throw only std::bad_alloc, std::length_error (a region or a
// message past 4 GiB) or std::invalid_argument (a bad alignment, or a guarded receive right
// given to add_port or add_ports); when they throw, the right or region passed stays with the
// caller and the builder is unchanged.
// Whether a receive right sent in a guarded port descriptor arrives immovable
// (MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE) or movable.
enum class guarded_arrival : std::uint8_t { immovable, movable };

class message_builder {
 public:
  explicit message_builder(mach_msg_id_t id = 0) noexcept : id_(id) {}
  ~message_builder();
  message_builder(const message_builder&) = delete;
  message_builder& operator=(const message_builder&) = delete;
  // Moving transfers everything; the source is left empty.
  message_builder(message_builder&& other) noexcept;
  message_builder& operator=(message_builder&& other) noexcept;

  message_builder& id(mach_msg_id_t id) noexcept {
    id_ = id;
    return *this;
  }

  // Reply port (msgh_local_port). Each call replaces (and releases) a previous reply.
  message_builder& reply(send_right&& r);                 // MOVE_SEND
  message_builder& reply(send_once_right&& r);            // MOVE_SEND_ONCE
  message_builder& reply_copy_send(const send_right& r);  // COPY_SEND (borrowed)
  message_builder& reply_make_send(const receive_right& r);       // MAKE_SEND (borrowed)
  message_builder& reply_make_send_once(const receive_right& r);  // MAKE_SEND_ONCE (borrowed)

  // Port descriptors.
  message_builder& add_port(send_right&& r);        // MOVE_SEND
  message_builder& add_port(send_once_right&& r);   // MOVE_SEND_ONCE
  message_builder& add_port(receive_right&& r);     // MOVE_RECEIVE (unguarded only)
  message_builder& add_copy_send(const send_right& r);          // COPY_SEND
  message_builder& add_make_send(const receive_right& r);       // MAKE_SEND
  message_builder& add_make_send_once(const receive_right& r);  // MAKE_SEND_ONCE
  // A guarded port descriptor moving the receive right. A guarded right is sent with its guard
  // as context; an unguarded one with MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND. `arrival` says
  // whether the receiver (receiving with guarded descriptors) gets it immovable.
  message_builder& add_guarded_port(receive_right&& r,
                                    guarded_arrival arrival = guarded_arrival::immovable);

  // OOL memory: an owned buffer moved in (deallocate: the pages leave this task) ...
  message_builder& add_ool(ool_buffer&& buffer);
  // ... or borrowed bytes the kernel copies at send time (deallocate false, virtual copy).
  message_builder& add_ool(std::span<const std::byte> bytes);

  // OOL port arrays. Rights moved in are owned; the const& overload copies send rights. The
  // names are written into a VM region the message owns (deallocate = true, like add_ool of an
  // ool_buffer), so its bytes stay self-contained (see message::detach). Allocation failure
  // (std::bad_alloc) and a guarded receive right (std::invalid_argument, see refuse_guarded)
  // throw before anything is taken from `rights`.
  message_builder& add_ports(std::vector<send_right>&& rights);
  message_builder& add_ports(std::vector<send_once_right>&& rights);
  message_builder& add_ports(std::vector<receive_right>&& rights);
  message_builder& add_ports_copy_send(std::span<const send_right> rights);

  // Inline data, aligned to `alignment` (1, 2, 4 or 8) from the start of the message.
  message_builder& add_data(std::span<const std::byte> bytes, std::size_t alignment = 1);
  template <class T>
  message_builder& add(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>, "inline data must be trivially copyable");
    static_assert(alignof(T) <= detail::max_inline_alignment, "inline data is aligned to at most 8 bytes");
    return add_data(std::as_bytes(std::span<const T, 1>(&value, 1)), alignof(T));
  }

  // The number of bytes the message will have (msgh_size).
  std::size_t size() const noexcept;

  // Returns the message and empties the builder (ownership moves into the message). Throws
  // before anything moves, leaving the builder as it was.
  message build();
  // The same into `into`, reusing its buffer (see message): whatever `into` held is released
  // first. The builder keeps its own memory too, so a builder and a message used for every
  // message of a loop allocate nothing once they are large enough.
  void build(message& into);

 private:
  // An inline item: its bytes are the next `size` bytes of data_ (stored unpadded: where the
  // item goes depends on the descriptors, known only at build()).
  struct data_item {
    std::size_t size;
    std::size_t alignment;
  };
  template <class Make>
  message_builder& append(Make&& make);
  template <class Right>
  message_builder& add_array(std::span<Right> rights, std::uint8_t disposition);
  void set_reply(mach_port_name_t name, std::uint8_t disposition) noexcept;
  void release_all() noexcept;
  std::size_t descriptor_bytes() const noexcept;

  mach_msg_id_t id_ = 0;
  mach_port_name_t reply_name_ = MACH_PORT_NULL;
  std::uint8_t reply_disposition_ = 0;
  // The descriptors as they will be written. An OOL-ports descriptor's array is a VM region
  // the builder owns (address 0 when empty).
  std::vector<detail::raw_descriptor> descriptors_;
  std::vector<data_item> items_;
  std::vector<std::byte> data_;
};

}  // namespace machport
