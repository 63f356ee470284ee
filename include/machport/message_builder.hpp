// message_builder: composes an outgoing message.
#pragma once

#include <machport/detail/platform.hpp>
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
  message_builder& add_port(receive_right&& r);     // MOVE_RECEIVE (unguarded ports)
  message_builder& add_copy_send(const send_right& r);          // COPY_SEND
  message_builder& add_make_send(const receive_right& r);       // MAKE_SEND
  message_builder& add_make_send_once(const receive_right& r);  // MAKE_SEND_ONCE
  // A guarded port descriptor moving the receive right. A guarded right is sent with its guard
  // as context; an unguarded one with MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND. With
  // `immovable`, the receiver (receiving with guarded descriptors) gets it guarded/immovable.
  message_builder& add_guarded_port(receive_right&& r, bool immovable = true);

  // OOL memory: an owned buffer moved in (deallocate: the pages leave this task) ...
  message_builder& add_ool(ool_buffer&& buffer);
  // ... or borrowed bytes the kernel copies at send time (deallocate false, virtual copy).
  message_builder& add_ool(std::span<const std::byte> bytes);

  // OOL port arrays. Rights moved in are owned; the const& overload copies send rights.
  message_builder& add_ports(std::vector<send_right>&& rights);
  message_builder& add_ports(std::vector<send_once_right>&& rights);
  message_builder& add_ports(std::vector<receive_right>&& rights);
  message_builder& add_ports_copy_send(std::span<const send_right> rights);

  // Inline data, aligned to `alignment` (1, 2, 4 or 8) from the start of the message.
  message_builder& add_data(std::span<const std::byte> bytes, std::size_t alignment = 1);
  template <class T>
  message_builder& add(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>, "inline data must be trivially copyable");
    static_assert(alignof(T) <= 8, "inline data is aligned to at most 8 bytes");
    return add_data(std::as_bytes(std::span<const T, 1>(&value, 1)), alignof(T));
  }

  // The number of bytes the message will have (msgh_size).
  std::size_t size() const noexcept;

  // Produces the message and empties the builder (ownership moves into the message).
  message build();

 private:
  struct pending_descriptor {
    std::uint8_t type = 0;
    std::uint8_t disposition = 0;
    mach_port_name_t name = 0;
    std::uint64_t address = 0;  // OOL / OOL ports; context for guarded
    std::uint32_t count = 0;
    bool deallocate = false;
    std::uint16_t flags = 0;
    bool guarded_right = false;  // guarded descriptor carrying a guarded receive right
    std::vector<mach_port_name_t> names;  // OOL ports
  };
  struct data_item {
    std::vector<std::byte> bytes;
    std::size_t alignment;
  };
  template <class Right>
  message_builder& add_array(std::vector<Right>&& rights, std::uint8_t disposition);
  void release_all() noexcept;
  std::size_t descriptor_bytes() const noexcept;

  mach_msg_id_t id_ = 0;
  mach_port_name_t reply_name_ = MACH_PORT_NULL;
  std::uint8_t reply_disposition_ = 0;
  std::vector<pending_descriptor> descriptors_;
  std::vector<data_item> data_;
};

}  // namespace machport
