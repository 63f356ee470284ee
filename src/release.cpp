// The calls that give rights and memory back to the kernel, and the per-thread release hook.
#include <machport/detail/release.hpp>

#include <boost/assert.hpp>

namespace machport::detail {

namespace {
thread_local release_hook* current_hook = nullptr;

// A refused release means two owners of one name (or region): see detail/release.hpp.
void check_released(kern_return_t kr) noexcept {
  BOOST_ASSERT_MSG(kr == KERN_SUCCESS,
                   "machport: the kernel refused to release a right or region this task owned "
                   "(two owners of one name?)");
  (void)kr;
}
}  // namespace

release_hook* set_release_hook(release_hook* hook) noexcept {
  release_hook* old = current_hook;
  current_hook = hook;
  return old;
}

release_hook* current_release_hook() noexcept { return current_hook; }

void release_name(mach_port_name_t name) noexcept {
  if (!MACH_PORT_VALID(name)) return;
  if (current_hook) return current_hook->deallocate(name);
  // Works for send, send-once and dead names alike, including rights whose port died.
  check_released(mach_port_deallocate(mach_task_self(), name));
}

void release_receive(mach_port_name_t name, std::optional<mach_port_context_t> guard) noexcept {
  if (!MACH_PORT_VALID(name)) return;
  if (guard) {
    if (current_hook) return current_hook->destruct(name, *guard);
    check_released(mach_port_destruct(mach_task_self(), name, 0, *guard));
  } else {
    if (current_hook) return current_hook->mod_refs(name, MACH_PORT_RIGHT_RECEIVE, -1);
    check_released(mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_RECEIVE, -1));
  }
}

void release_port_set(mach_port_name_t name) noexcept {
  if (!MACH_PORT_VALID(name)) return;
  if (current_hook) return current_hook->mod_refs(name, MACH_PORT_RIGHT_PORT_SET, -1);
  check_released(mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_PORT_SET, -1));
}

void release_memory(std::uintptr_t address, std::size_t size) noexcept {
  if (size == 0 || address == 0) return;
  if (current_hook) return current_hook->vm_deallocate(address, size);
  check_released(vm_deallocate(mach_task_self(), static_cast<vm_address_t>(address),
                               static_cast<vm_size_t>(size)));
}

}  // namespace machport::detail
