// send_right: one send uref (xnu-ipc-semantics.md §2).
#include <machport/send_right.hpp>

#include "kernel_call.hpp"

namespace machport {

namespace {
// The name a copy of a send right owns: `name` with one more uref, or MACH_PORT_NULL if the
// kernel refused. NULL and DEAD own nothing and are copied as they are.
mach_port_name_t add_send_uref(mach_port_name_t name) noexcept {
  if (!MACH_PORT_VALID(name)) return name;
  // A send right to a dead port is a dead name: its urefs are counted as DEAD_NAME.
  kern_return_t kr = mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_SEND, 1);
  if (kr != KERN_SUCCESS) {
    kr = mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_DEAD_NAME, 1);
  }
  return kr == KERN_SUCCESS ? name : MACH_PORT_NULL;
}
}  // namespace

send_right::send_right(const send_right& other) noexcept
    : right_handle(add_send_uref(other.name()), {}) {}

send_right& send_right::operator=(const send_right& other) noexcept {
  if (this != &other) {
    send_right copy(other);
    *this = std::move(copy);
  }
  return *this;
}

result<send_right> send_right::copy_from(mach_port_name_t name) noexcept {
  // The kernel accepts mod_refs(SEND, +1) on NULL and DEAD and changes nothing: that would be
  // an "owned" copy of nothing.
  if (!MACH_PORT_VALID(name)) return make_kern_error(KERN_INVALID_NAME);
  BOOST_OUTCOME_TRY(
      detail::check(mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_SEND, 1)));
  return adopt(name);
}

bool send_right::is_dead() const noexcept { return detail::is_dead_name(name()); }

result<mach_port_type_t> send_right::type() const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  return detail::type_of(n);
}

result<mach_port_urefs_t> send_right::urefs() const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  BOOST_OUTCOME_TRY(auto urefs, detail::urefs_of(n, MACH_PORT_RIGHT_SEND));
  // No send urefs on a name we own a uref of: the port died and our urefs are dead-name urefs.
  if (urefs == 0) return detail::urefs_of(n, MACH_PORT_RIGHT_DEAD_NAME);
  return urefs;
}

}  // namespace machport
