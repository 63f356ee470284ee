// vm_allocate / vm_deallocate and the mach_vm_* spellings, over mmap. All emulated tasks share
// the process address space, so the task argument only has to be a task self name.
#include <mach/mach.h>
#include <mach/mach_vm.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>

#include "internal.hpp"

namespace {
std::atomic<std::uint64_t> g_unmap_generation{0};

// Counted after the mapping is gone: a check that read the old value may still trust a range
// that is being unmapped concurrently (a race the caller made), but no check started later does.
void count_unmap() { g_unmap_generation.fetch_add(1, std::memory_order_release); }
}  // namespace

// A sanitizer runtime linked into the program intercepts munmap itself; call through it so
// it sees the unmap too (it then calls libc's).
extern "C" int __interceptor_munmap(void* addr, size_t len) __attribute__((weak));
extern "C" void* __interceptor_mremap(void* old_address, size_t old_size, size_t new_size,
                                      int flags, ...) __attribute__((weak));

namespace machport_emu::detail {

std::uint64_t unmap_generation() { return g_unmap_generation.load(std::memory_order_acquire); }

void* vm_alloc_locked(std::size_t size) {
  if (size == 0) return nullptr;
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void vm_free(void* addr, std::size_t size) {
  if (addr && size) ::munmap(addr, size);
}

namespace {
std::uint64_t page_round(std::uint64_t v) {
  const std::uint64_t m = vm_page_size - 1;
  return (v + m) & ~m;
}

kern_return_t do_allocate(vm_map_t task, std::uint64_t* address, std::uint64_t size, int flags) {
  const kernel_entry k(kcall::vm_allocate);
  if (!k.space_of(task)) return MACH_SEND_INVALID_DEST;
  if (!address) return KERN_INVALID_ARGUMENT;
  if (size == 0) {
    *address = 0;  // XNU (mach_vm_allocate): size 0 succeeds with address 0
    return KERN_SUCCESS;
  }
  const std::uint64_t len = page_round(size);
  if (len < size) return KERN_INVALID_ARGUMENT;
  if (flags & VM_FLAGS_ANYWHERE) {
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return KERN_NO_SPACE;
    *address = reinterpret_cast<std::uintptr_t>(p);
    return KERN_SUCCESS;
  }
  // Fixed: the address must be page aligned and the range free.
  if (*address & (vm_page_size - 1)) return KERN_INVALID_ADDRESS;
  void* want = reinterpret_cast<void*>(static_cast<std::uintptr_t>(*address));
  int extra = 0;
#ifdef MAP_FIXED_NOREPLACE
  extra = MAP_FIXED_NOREPLACE;
#endif
  void* p = ::mmap(want, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
  if (p == MAP_FAILED) return KERN_NO_SPACE;
  if (p != want) {
    ::munmap(p, len);
    return KERN_NO_SPACE;
  }
  return KERN_SUCCESS;
}

kern_return_t do_deallocate(vm_map_t task, std::uint64_t address, std::uint64_t size) {
  const kernel_entry k(kcall::vm_deallocate);
  if (!k.space_of(task)) return MACH_SEND_INVALID_DEST;
  if (size == 0) return KERN_SUCCESS;
  const std::uint64_t start = address & ~std::uint64_t(vm_page_size - 1);
  const std::uint64_t end = page_round(address + size);
  if (end < start) return KERN_INVALID_ARGUMENT;
  if (::munmap(reinterpret_cast<void*>(static_cast<std::uintptr_t>(start)), end - start) != 0)
    return KERN_INVALID_ARGUMENT;
  return KERN_SUCCESS;
}
}  // namespace

}  // namespace machport_emu::detail

using namespace machport_emu::detail;

extern "C" {

kern_return_t vm_allocate(vm_map_t target_task, vm_address_t* address, vm_size_t size, int flags) {
  std::uint64_t a = address ? *address : 0;
  kern_return_t kr = do_allocate(target_task, address ? &a : nullptr, size, flags);
  if (kr == KERN_SUCCESS) *address = vm_address_t(a);
  return kr;
}

kern_return_t vm_deallocate(vm_map_t target_task, vm_address_t address, vm_size_t size) {
  return do_deallocate(target_task, address, size);
}

kern_return_t mach_vm_allocate(vm_map_t target, mach_vm_address_t* address, mach_vm_size_t size,
                               int flags) {
  return do_allocate(target, address, size, flags);
}

kern_return_t mach_vm_deallocate(vm_map_t target, mach_vm_address_t address, mach_vm_size_t size) {
  return do_deallocate(target, address, size);
}

}  // extern "C"

// ---- munmap / mremap: every removal of a mapping made through libc's symbols is counted for
// mach_msg's user-memory checks (unmap_generation). These replace the libc symbols for the
// whole program, like close() in kqueue.cpp; unmaps from inside libc are not seen.

extern "C" int munmap(void* addr, size_t len) noexcept {
  const int r = __interceptor_munmap ? __interceptor_munmap(addr, len)
                                     : static_cast<int>(::syscall(SYS_munmap, addr, len));
  count_unmap();
  return r;
}

extern "C" void* mremap(void* old_address, size_t old_size, size_t new_size, int flags,
                        ...) noexcept {
  void* new_address = nullptr;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    new_address = va_arg(ap, void*);
    va_end(ap);
  }
  void* r = __interceptor_mremap
                ? __interceptor_mremap(old_address, old_size, new_size, flags, new_address)
                : reinterpret_cast<void*>(
                      ::syscall(SYS_mremap, old_address, old_size, new_size, flags, new_address));
  count_unmap();
  return r;
}
