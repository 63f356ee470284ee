// dead_name: one uref on a dead name, such as the one a dead-name notification carries.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/detail/release.hpp>
#include <machport/detail/right_handle.hpp>
#include <machport/result.hpp>

namespace machport {

// When a port dies, every send or send-once right to it becomes a dead name holding the same
// urefs (send_right and send_once_right keep working and release their share). A dead-name
// notification adds one more uref that nobody owns yet: adopt it in a dead_name so it is
// released. Move-only; destroying it releases one dead-name uref (mach_port_deallocate).
// adopt, release, reset, name, valid and == come from detail/right_handle.hpp.
class dead_name : public detail::right_handle<dead_name, detail::deallocate_traits> {
 public:
  dead_name() noexcept = default;

  // Returns a fresh dead name with one uref (mach_port_allocate(DEAD_NAME)).
  // Errors: KERN_NO_SPACE (the IPC space is full).
  static result<dead_name> allocate() noexcept;

  // Returns mach_port_get_refs(DEAD_NAME): all dead-name urefs under the name (not only ours).
  // Errors: KERN_INVALID_NAME (empty right).
  result<mach_port_urefs_t> urefs() const noexcept;
};

}  // namespace machport

template <>
struct std::hash<machport::dead_name> : machport::detail::right_hash {};
