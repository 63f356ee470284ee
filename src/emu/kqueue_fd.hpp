// The seam between the emulated kqueue (kqueue.cpp) and the file operations of its descriptor
// (kqueue_fd.cpp: the ioctl / fcntl interposers that answer as XNU's kqueueops do).
#pragma once

namespace machport_emu::detail {

// ---- implemented by kqueue.cpp ---------------------------------------------------------------

// True while some emulated kqueue is open: the interposers skip the kernel lock otherwise.
bool kqueues_exist();

// The open-file status flags (F_GETFL, Linux O_* values) of the emulated kqueue open as `fd`,
// or null when `fd` is not one. kernel_mutex() held; the pointer is valid while it stays held.
int* kqueue_status_flags_locked(int fd);

// ---- implemented by kqueue_fd.cpp --------------------------------------------------------------

// The status flags of a new kqueue: kqueue_internal gives the file FREAD | FWRITE. (Calling it
// from kqueue.cpp also links the interposers into every program that uses kqueue().)
int kqueue_initial_status_flags();

}  // namespace machport_emu::detail
