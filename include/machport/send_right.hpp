// send_right: one user reference (uref) on a send right in the calling task's IPC space.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/detail/release.hpp>
#include <machport/detail/right_handle.hpp>
#include <machport/result.hpp>

namespace machport {

class receive_right;

// Owns one send uref under `name()`. Copying adds a uref (mach_port_mod_refs +1); destroying
// releases one (mach_port_deallocate). Both stay correct after the port died: the name is
// then a dead name carrying our urefs, and deallocate releases a dead-name uref.
//
// A send_right may also hold MACH_PORT_NULL (empty) or MACH_PORT_DEAD (a dead right that
// arrived in a message); neither owns anything, and the kernel queries below fail on them
// with KERN_INVALID_NAME (see detail/right_handle.hpp; adopt, release, reset, name, valid and
// == come from there).
//
// Rights belong to the IPC space of the calling thread's task (on the emulator: the task the
// thread runs as when the right is created and destroyed).
//
// A release the kernel refuses (two owners of one name) asserts in debug builds (see
// detail/release.hpp).
class send_right : public detail::right_handle<send_right, detail::deallocate_traits> {
 public:
  send_right() noexcept = default;

  // Adds a uref. If the kernel refuses (the name vanished, or the send right is gone), the
  // copy is empty rather than sharing a uref it does not own. Once the name's urefs reach
  // 0xFFFF the kernel pegs them and ignores +1 and -1 alike: copies and destructions are then
  // both no-ops, so no uref is ever released twice, and the right lives until the task ends
  // or mach_port_mod_refs(SEND, -0xFFFF) (as in XNU). Copying NULL or DEAD copies the name.
  send_right(const send_right& other) noexcept;
  send_right& operator=(const send_right& other) noexcept;
  send_right(send_right&&) noexcept = default;
  send_right& operator=(send_right&&) noexcept = default;

  // Adds a uref to `name` (mach_port_mod_refs(SEND, +1)) and returns a right owning it.
  // Errors: KERN_INVALID_NAME (also for MACH_PORT_NULL and MACH_PORT_DEAD), KERN_INVALID_RIGHT
  // (no send right, or the port died); then no uref was added.
  static result<send_right> copy_from(mach_port_name_t name) noexcept;

  // True if the port is known dead: the name is MACH_PORT_DEAD or is now a dead name.
  // (Asking the kernel converts the entry to a dead name, as any call on it would.)
  // False for an empty right.
  bool is_dead() const noexcept;
  // Returns mach_port_type of the name: MACH_PORT_TYPE_SEND (maybe | RECEIVE) or DEAD_NAME.
  // Errors: KERN_INVALID_NAME (empty right).
  result<mach_port_type_t> type() const noexcept;
  // Returns the urefs under this name, shared with other send_rights of the same name:
  // mach_port_get_refs(SEND), or after the port died the dead-name urefs the right now holds.
  // Errors: KERN_INVALID_NAME (empty right, or the name is gone).
  result<mach_port_urefs_t> urefs() const noexcept;
};

}  // namespace machport

template <>
struct std::hash<machport::send_right> : machport::detail::right_hash {};
