// Shared by the fuzz harnesses: the bytes are treated as a message received into this task,
// but every release is recorded by a hook instead of being made, because the names and
// addresses in random bytes were never given to this task.
#pragma once

#include <machport/detail/release.hpp>

#include <cstddef>
#include <cstdint>

namespace machport_fuzz {

class dry_run final : public machport::detail::release_hook {
 public:
  dry_run() : previous_(machport::detail::set_release_hook(this)) {}
  ~dry_run() override { machport::detail::set_release_hook(previous_); }
  dry_run(const dry_run&) = delete;
  dry_run& operator=(const dry_run&) = delete;

  void deallocate(mach_port_name_t) override { ++releases; }
  void mod_refs(mach_port_name_t, mach_port_right_t, mach_port_delta_t) override { ++releases; }
  void destruct(mach_port_name_t, mach_port_context_t) override { ++releases; }
  void vm_deallocate(std::uintptr_t, std::size_t) override { ++releases; }

  std::size_t releases = 0;

 private:
  machport::detail::release_hook* previous_;
};

}  // namespace machport_fuzz
