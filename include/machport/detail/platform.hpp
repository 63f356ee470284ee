// The one place where machport tells the real Darwin kernel from the emulated one.
#pragma once

#if defined(__APPLE__)
#define MACHPORT_EMULATED 0
#else
// Linux: <mach/*.h> and <sys/event.h> come from src/emu, an in-process emulation of XNU.
#define MACHPORT_EMULATED 1
#endif

#include <mach/mach.h>

#include <cstddef>

#if MACHPORT_EMULATED
#include <unistd.h>
#endif

namespace machport::detail {

// The VM page size: what vm_allocate rounds to and what OOL memory is mapped in.
inline std::size_t page_size() noexcept {
#if MACHPORT_EMULATED
  // The emulator maps OOL memory in host pages.
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
#else
  return static_cast<std::size_t>(vm_page_size);
#endif
}

}  // namespace machport::detail
