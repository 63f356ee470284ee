// Small wrappers the right classes share around Mach calls on a name (private to src/).
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/result.hpp>

namespace machport::detail {

// Returns success for KERN_SUCCESS, else the code in kern_category().
inline result<void> check(kern_return_t kr) noexcept {
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return success();
}

// Returns mach_port_type of `name` in the calling task's space, or the kernel's error.
inline result<mach_port_type_t> type_of(mach_port_name_t name) noexcept {
  mach_port_type_t t = 0;
  BOOST_OUTCOME_TRY(check(mach_port_type(mach_task_self(), name, &t)));
  return t;
}

// Returns a new name holding `right` (mach_port_allocate), or the kernel's error.
inline result<mach_port_name_t> allocate_name(mach_port_right_t right) noexcept {
  mach_port_name_t name = MACH_PORT_NULL;
  BOOST_OUTCOME_TRY(check(mach_port_allocate(mach_task_self(), right, &name)));
  return name;
}

// Returns mach_port_get_refs(`right`) of `name`, or the kernel's error.
inline result<mach_port_urefs_t> urefs_of(mach_port_name_t name, mach_port_right_t right) noexcept {
  mach_port_urefs_t n = 0;
  BOOST_OUTCOME_TRY(check(mach_port_get_refs(mach_task_self(), name, right, &n)));
  return n;
}

// True if `name` is MACH_PORT_DEAD or a dead name now; false for MACH_PORT_NULL, a live
// right, or a name the kernel does not know.
inline bool is_dead_name(mach_port_name_t name) noexcept {
  if (name == MACH_PORT_DEAD) return true;
  if (name == MACH_PORT_NULL) return false;
  auto t = type_of(name);
  return t && (t.value() & MACH_PORT_TYPE_DEAD_NAME) != 0;
}

}  // namespace machport::detail
