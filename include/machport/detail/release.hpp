// The calls machport makes to give rights and memory back to the kernel, in one place.
//
// Every destructor and every message release goes through these functions. A thread can
// install a release_hook so that these calls are recorded instead of made: the fuzz harnesses
// do this, because the "names" and "addresses" in random bytes were never given to this task
// and releasing them for real would destroy unrelated rights or unmap unrelated memory.
#pragma once

#include <machport/detail/platform.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>

namespace machport::detail {

class release_hook {
 public:
  virtual ~release_hook() = default;
  virtual void deallocate(mach_port_name_t name) = 0;
  virtual void mod_refs(mach_port_name_t name, mach_port_right_t right,
                        mach_port_delta_t delta) = 0;
  virtual void destruct(mach_port_name_t name, mach_port_context_t guard) = 0;
  virtual void vm_deallocate(std::uintptr_t address, std::size_t size) = 0;
};

// Installs `hook` for the calling thread (nullptr: call the kernel). Returns the previous hook.
release_hook* set_release_hook(release_hook* hook) noexcept;
// The calling thread's hook, or nullptr.
release_hook* current_release_hook() noexcept;

// Each release_* call below does nothing for an invalid name (MACH_PORT_NULL, MACH_PORT_DEAD)
// or an empty region. A release the kernel refuses means the name or region had two owners
// (one of them released it first, or it was never ours): a debug build asserts (BOOST_ASSERT);
// a release build carries on, as a destructor cannot report it.

// mach_port_deallocate: one send uref, a send-once right (fires the send-once notification),
// or one dead-name uref.
void release_name(mach_port_name_t name) noexcept;
// Destroys a receive right: mach_port_destruct with `guard` when there is one, else
// mach_port_mod_refs(RECEIVE, -1).
void release_receive(mach_port_name_t name, std::optional<mach_port_context_t> guard) noexcept;
// mach_port_mod_refs(PORT_SET, -1).
void release_port_set(mach_port_name_t name) noexcept;
// vm_deallocate of [address, address+size), rounded out to pages by the kernel. size 0: no-op.
void release_memory(std::uintptr_t address, std::size_t size) noexcept;

// The detail::right_handle traits of the rights that mach_port_deallocate releases: send,
// send-once and dead names.
struct deallocate_traits {
  static void free(mach_port_name_t name) noexcept { release_name(name); }
};

}  // namespace machport::detail
