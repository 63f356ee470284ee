// ioctl() and fcntl() on an emulated kqueue descriptor, answered as XNU answers them for a
// kqueue (§6 "The kqueue descriptor"). The emulated kqueue is a Linux eventfd, which would
// accept FIONBIO and F_SETFL; a Mac's kqueue does not (bsd/kern/kern_event.c kqueueops:
// .fo_ioctl = fo_no_ioctl, which is ENOTTY in bsd/kern/kern_descrip.c), and Boost.Asio before
// 1.31 relies on both for every async_wait. These interposers replace the libc symbols for the
// whole program, like close() in kqueue.cpp, and touch only descriptors that are emulated
// kqueues; everything else goes to libc unchanged.
//
// bsd/kern/sys_generic.c ioctl(): FIOCLEX / FIONCLEX set or clear close-on-exec and succeed;
// FIONBIO / FIOASYNC set or clear FNONBLOCK / FASYNC in the file's flags, then call
// fo_ioctl (ENOTTY) and leave the flags changed; FIOSETOWN with a positive pid that names no
// process fails with ESRCH, otherwise reaches fo_ioctl(TIOCSPGRP); FIOGETOWN and every other
// request reach fo_ioctl. bsd/kern/kern_descrip.c sys_fcntl_nocancel(): F_SETFL stores the new
// FCNTLFLAGS bits, then fo_ioctl(FIONBIO) fails and the flags stay; F_GETFL reports them;
// F_GETOWN / F_SETOWN go to fo_ioctl like FIOGETOWN / FIOSETOWN; the rest (F_GETFD, F_SETFD,
// F_DUPFD...) is generic and runs on the eventfd. LIMIT: the argument of a request that reaches
// fo_ioctl is not read (XNU copies it in first, so a bad pointer gives EFAULT there).
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include "kq_interface.hpp"
#include "kqueue_fd.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>  // FIOSETOWN, FIOGETOWN
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <mutex>

namespace machport_emu::detail {

int kqueue_initial_status_flags() { return O_RDWR; }

}  // namespace machport_emu::detail

namespace {

using namespace machport_emu::detail;

// The flags F_SETFL may change (XNU FCNTLFLAGS: FAPPEND | FASYNC | FFSYNC | FFDSYNC | FNONBLOCK).
constexpr int kSettableFlags = O_APPEND | O_ASYNC | O_SYNC | O_DSYNC | O_NONBLOCK;

int fail(int err) {
  errno = err;
  return -1;
}

// FIOSETOWN / F_SETOWN: a positive pid must name a process (proc_find), else ESRCH.
int set_owner(int pid) {
  if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) return fail(ESRCH);
  return fail(ENOTTY);  // fo_ioctl(TIOCSPGRP)
}

// Sets or clears `flag` in the kqueue's status flags, then fails as fo_ioctl does.
int toggle_then_enotty(int fd, int flag, const void* arg) {
  if (arg == nullptr) return fail(EFAULT);  // ioctl copies the int in first
  bool on = *static_cast<const int*>(arg) != 0;
  std::lock_guard<std::mutex> lock(kernel_mutex());
  int* flags = kqueue_status_flags_locked(fd);
  if (flags == nullptr) return fail(EBADF);  // closed meanwhile
  *flags = on ? (*flags | flag) : (*flags & ~flag);
  return fail(ENOTTY);
}

bool is_kqueue(int fd) {
  if (!kqueues_exist()) return false;
  std::lock_guard<std::mutex> lock(kernel_mutex());
  return kqueue_status_flags_locked(fd) != nullptr;
}

using fcntl_fn = int (*)(int, int, ...);

// libc's fcntl64, which keeps what the wrapper adds to the system call (F_GETOWN through
// F_GETOWN_EX, F_SETLKW as a cancellation point).
fcntl_fn real_fcntl() {
  static const fcntl_fn fn = [] {
    void* sym = ::dlsym(RTLD_NEXT, "fcntl64");
    if (sym == nullptr) sym = ::dlsym(RTLD_NEXT, "fcntl");
    return reinterpret_cast<fcntl_fn>(sym);
  }();
  return fn;
}

int forward_fcntl(int fd, int cmd, void* arg) {
  fcntl_fn fn = real_fcntl();
  if (fn == nullptr) return static_cast<int>(::syscall(SYS_fcntl, fd, cmd, arg));
  return fn(fd, cmd, arg);
}

int kqueue_fcntl(int fd, int cmd, void* arg) {
  switch (cmd) {
    case F_GETFL:
    case F_SETFL: {
      std::lock_guard<std::mutex> lock(kernel_mutex());
      int* flags = kqueue_status_flags_locked(fd);
      if (flags == nullptr) break;  // closed meanwhile: libc answers
      if (cmd == F_GETFL) return *flags;
      int value = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
      *flags = (*flags & ~kSettableFlags) | (value & kSettableFlags);
      return fail(ENOTTY);  // fo_ioctl(FIONBIO)
    }
    case F_GETOWN:
      return fail(ENOTTY);  // fo_ioctl(TIOCGPGRP)
    case F_SETOWN:
      return set_owner(static_cast<int>(reinterpret_cast<std::intptr_t>(arg)));
    default:
      break;
  }
  return forward_fcntl(fd, cmd, arg);
}

}  // namespace

// ---- the interposers ---------------------------------------------------------------------------

extern "C" int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (is_kqueue(fd)) {
    switch (request) {
      case FIOCLEX:
      case FIONCLEX:
        break;  // handled by ioctl() itself: the eventfd carries close-on-exec
      case FIONBIO:
        return toggle_then_enotty(fd, O_NONBLOCK, arg);
      case FIOASYNC:
        return toggle_then_enotty(fd, O_ASYNC, arg);
      case FIOSETOWN:
        if (arg == nullptr) return fail(EFAULT);
        return set_owner(*static_cast<const int*>(arg));
      default:
        return fail(ENOTTY);  // fo_no_ioctl
    }
  }
  return static_cast<int>(::syscall(SYS_ioctl, fd, request, arg));
}

extern "C" int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (is_kqueue(fd)) return kqueue_fcntl(fd, cmd, arg);
  return forward_fcntl(fd, cmd, arg);
}

// What <fcntl.h> calls with _FILE_OFFSET_BITS=64: the same function.
extern "C" int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));
