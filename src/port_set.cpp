// port_set: a port set name and its members (xnu-ipc-semantics.md §2).
#include <machport/port_set.hpp>

#include "kernel_call.hpp"

namespace machport {

result<port_set> port_set::allocate() noexcept {
  BOOST_OUTCOME_TRY(auto name, detail::allocate_name(MACH_PORT_RIGHT_PORT_SET));
  return adopt(name);
}

result<void> port_set::insert(const receive_right& member) const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  if (!member.valid()) return make_kern_error(KERN_INVALID_NAME);  // as for an empty set
  return detail::check(mach_port_insert_member(mach_task_self(), member.name(), n));
}

result<void> port_set::extract(const receive_right& member) const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  if (!member.valid()) return make_kern_error(KERN_INVALID_NAME);  // as for an empty set
  return detail::check(mach_port_extract_member(mach_task_self(), member.name(), n));
}

}  // namespace machport
