// message: a Mach message buffer that owns every right and memory region in it.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace machport {

namespace detail {
struct message_access;
}

// An owning Mach message.
//
// A message is in one of three states:
//  - empty: default-constructed, moved from, reset, or consumed by a successful send, a parse
//    or a decode;
//  - outgoing: built by message_builder or encode (or handed back by a send that timed out,
//    or adopted with adopt_outgoing). It owns the rights it carries with a MOVE_* disposition
//    and the OOL regions marked deallocate, and borrows those with COPY_SEND / MAKE_SEND /
//    MAKE_SEND_ONCE (the source right must outlive the send) and OOL memory added as a
//    borrowed span;
//  - received: returned by (or received into by) receive(). It owns the reply right in the header, every right in
//    its descriptors, and every OOL region and port array the kernel mapped for it.
// Destroying a non-empty message releases everything it owns, like mach_msg_destroy:
// send rights and dead names are deallocated, send-once rights deallocated (their port gets a
// send-once notification), receive rights destroyed, VM regions deallocated.
//
// Storage: a message keeps its buffer when it becomes empty (reset, send, decode, detach; a
// move takes it along), so that one message can be reused for every message of a loop without
// allocating: build / encode into it, send it, receive into it, decode it, again. The buffer
// grows when a message needs more and never shrinks (release_buffer() frees it).
class message {
 public:
  enum class state : std::uint8_t { empty, outgoing, received };

  message() noexcept = default;
  ~message() { reset(); }
  message(const message&) = delete;
  message& operator=(const message&) = delete;
  message(message&& other) noexcept;
  message& operator=(message&& other) noexcept;

  // Takes ownership of the message in `bytes` as if it had just been received into this task:
  // the bytes are copied; every right and region the header and descriptors name will be
  // released by this object. `bytes` must hold msgh_size bytes plus the trailer the kernel
  // wrote (fewer than 8 bytes after msgh_size: no trailer, all trailer fields absent). The
  // structure is not trusted: see parse(). OOL addresses must be what the kernel mapped.
  static message adopt_received(std::span<const std::byte> bytes);
  // Takes ownership of an outgoing message (dispositions MOVE_* owned, others borrowed; OOL
  // regions and port arrays marked deallocate owned). Both adopt calls copy `bytes`; they
  // throw std::bad_alloc before taking anything.
  static message adopt_outgoing(std::span<const std::byte> bytes);
  // adopt_received into this message, reusing its buffer (whatever it held is released
  // first). Throws std::bad_alloc (when the buffer must grow) before taking anything.
  void assign_received(std::span<const std::byte> bytes);

  state current_state() const noexcept { return state_; }
  bool empty() const noexcept { return state_ == state::empty; }
  explicit operator bool() const noexcept { return !empty(); }

  // Header fields. Precondition: !empty().
  const mach_msg_header_t& header() const noexcept {
    return *reinterpret_cast<const mach_msg_header_t*>(storage_.get());
  }
  mach_msg_id_t id() const noexcept { return header().msgh_id; }
  // msgh_size: header + body, without the trailer.
  mach_msg_size_t size() const noexcept { return header().msgh_size; }
  bool complex() const noexcept { return (header().msgh_bits & MACH_MSGH_BITS_COMPLEX) != 0; }
  // The msgh_size bytes of the message (clamped to the buffer); empty for an empty message.
  std::span<const std::byte> bytes() const noexcept {
    if (state_ == state::empty || capacity_ < sizeof(mach_msg_header_t)) return {};
    const std::size_t n = size() < capacity_ ? size() : capacity_;
    return {reinterpret_cast<const std::byte*>(storage_.get()), n};
  }
  // The whole buffer: message, trailer and any unused space (also while empty).
  std::span<const std::byte> buffer() const noexcept {
    return {reinterpret_cast<const std::byte*>(storage_.get()), capacity_};
  }

  // Releases everything the message owns now; the message becomes empty (the buffer stays).
  void reset() noexcept;
  // Grows the buffer to at least `bytes` bytes (contents kept). Throws std::bad_alloc.
  void reserve(std::size_t bytes);
  // reset(), then frees the buffer.
  void release_buffer() noexcept;
  // Gives up ownership of every right and region without releasing them (they now belong to
  // whoever the caller hands the bytes to); the message becomes empty. The bytes are
  // self-contained: everything they refer to is a right or a VM region they name (a built
  // message's port arrays included), so a copy of bytes() taken before detach() can be given to
  // adopt_outgoing() and sent.
  void detach() noexcept;

 private:
  friend struct detail::message_access;

  std::unique_ptr<std::uint64_t[]> storage_;  // 8-byte aligned, as mach_msg wants
  std::size_t capacity_ = 0;                  // bytes in storage_
  state state_ = state::empty;
  // Outgoing bytes that came from outside machport's owning types (adopt_outgoing): send()
  // checks every right they name before the kernel sees them (see send.hpp).
  bool foreign_ = false;
};

}  // namespace machport
