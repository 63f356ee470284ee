// dead_name: one dead-name uref (xnu-ipc-semantics.md §2).
#include <machport/dead_name.hpp>

#include "kernel_call.hpp"

namespace machport {

result<dead_name> dead_name::allocate() noexcept {
  BOOST_OUTCOME_TRY(auto name, detail::allocate_name(MACH_PORT_RIGHT_DEAD_NAME));
  return adopt(name);
}

result<mach_port_urefs_t> dead_name::urefs() const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  return detail::urefs_of(n, MACH_PORT_RIGHT_DEAD_NAME);
}

}  // namespace machport
