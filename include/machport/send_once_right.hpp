// send_once_right: a send-once right, consumed by exactly one message.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/detail/release.hpp>
#include <machport/detail/right_handle.hpp>
#include <machport/result.hpp>

namespace machport {

// Move-only owner of a send-once right. Sending a message with it as destination (or moving it
// into a message) consumes it. Destroying an unused one deallocates it, and the kernel then
// delivers MACH_NOTIFY_SEND_ONCE to the port: the receiver learns the reply will never come.
// adopt, release, reset, name, valid and == come from detail/right_handle.hpp.
class send_once_right : public detail::right_handle<send_once_right, detail::deallocate_traits> {
 public:
  send_once_right() noexcept = default;

  // True if the name is MACH_PORT_DEAD or the port died (the entry is now a dead name).
  // False for an empty right.
  bool is_dead() const noexcept;
  // Returns mach_port_type of the name: MACH_PORT_TYPE_SEND_ONCE or DEAD_NAME.
  // Errors: KERN_INVALID_NAME (empty right).
  result<mach_port_type_t> type() const noexcept;
};

}  // namespace machport

template <>
struct std::hash<machport::send_once_right> : machport::detail::right_hash {};
