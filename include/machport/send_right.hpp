// send_right: one user reference (uref) on a send right in the calling task's IPC space.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/result.hpp>

#include <cstddef>
#include <functional>

namespace machport {

class receive_right;

// Owns one send uref under `name()`. Copying adds a uref (mach_port_mod_refs +1); destroying
// releases one (mach_port_deallocate). Both stay correct after the port died: the name is
// then a dead name carrying our urefs, and deallocate releases a dead-name uref.
//
// A send_right may also hold MACH_PORT_NULL (empty) or MACH_PORT_DEAD (a dead right that
// arrived in a message); neither owns anything.
//
// Rights belong to the IPC space of the calling thread's task (on the emulator: the task the
// thread runs as when the right is created and destroyed).
class send_right {
 public:
  send_right() noexcept = default;
  ~send_right() { reset(); }

  // Adds a uref. If the kernel refuses (the name vanished, or the send right is gone), the
  // copy is empty rather than sharing a uref it does not own. Once the name's urefs reach
  // 0xFFFF the kernel pegs them and ignores +1 and -1 alike: copies and destructions are then
  // both no-ops, so no uref is ever released twice, and the right lives until the task ends
  // or mach_port_mod_refs(SEND, -0xFFFF) (as in XNU).
  send_right(const send_right& other) noexcept;
  send_right& operator=(const send_right& other) noexcept;
  send_right(send_right&& other) noexcept : name_(other.name_) { other.name_ = MACH_PORT_NULL; }
  send_right& operator=(send_right&& other) noexcept;

  // Takes ownership of one send uref the caller holds under `name`. Nothing is checked.
  static send_right adopt(mach_port_name_t name) noexcept {
    send_right r;
    r.name_ = name;
    return r;
  }
  // Adds a uref to `name` (mach_port_mod_refs(SEND, +1)) and owns it. Errors: KERN_INVALID_NAME,
  // KERN_INVALID_RIGHT (no send right, or the port died).
  static result<send_right> copy_from(mach_port_name_t name) noexcept;

  // Gives up ownership: returns the name, whose uref the caller must now release.
  [[nodiscard]] mach_port_name_t release() noexcept {
    mach_port_name_t n = name_;
    name_ = MACH_PORT_NULL;
    return n;
  }
  // Releases the uref now; the right becomes empty.
  void reset() noexcept;

  mach_port_name_t name() const noexcept { return name_; }
  // True for a name other than MACH_PORT_NULL and MACH_PORT_DEAD.
  bool valid() const noexcept { return MACH_PORT_VALID(name_); }
  explicit operator bool() const noexcept { return valid(); }

  // True if the port is known dead: the name is MACH_PORT_DEAD or is now a dead name.
  // (Asking the kernel converts the entry to a dead name, as any call on it would.)
  bool is_dead() const noexcept;
  // mach_port_type of the name: MACH_PORT_TYPE_SEND (maybe | RECEIVE) or DEAD_NAME.
  result<mach_port_type_t> type() const noexcept;
  // mach_port_get_refs(SEND): the send urefs under this name (shared with other send_rights).
  result<mach_port_urefs_t> urefs() const noexcept;

  friend bool operator==(const send_right& a, const send_right& b) noexcept {
    return a.name_ == b.name_;
  }

 private:
  mach_port_name_t name_ = MACH_PORT_NULL;
};

}  // namespace machport

template <>
struct std::hash<machport::send_right> {
  std::size_t operator()(const machport::send_right& r) const noexcept {
    return std::hash<mach_port_name_t>{}(r.name());
  }
};
