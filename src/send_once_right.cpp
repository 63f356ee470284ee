// send_once_right: a send-once right (xnu-ipc-semantics.md §2).
#include <machport/send_once_right.hpp>

#include "kernel_call.hpp"

namespace machport {

bool send_once_right::is_dead() const noexcept { return detail::is_dead_name(name()); }

result<mach_port_type_t> send_once_right::type() const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  return detail::type_of(n);
}

}  // namespace machport
