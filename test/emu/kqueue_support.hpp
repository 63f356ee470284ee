// Helpers for the kqueue / EVFILT_MACHPORT tests (§6). Mach API + <sys/event.h> only.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#pragma once

#include <support/mach_util.hpp>

#include <sys/event.h>
#include <time.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstdint>
#include <initializer_list>

namespace kq_test {

// Poll (no waiting) and the failure guard for calls that must find an event.
inline const struct timespec poll_ts = {0, 0};
inline const struct timespec guard_ts = {10, 0};

// A kqueue descriptor closed at scope exit (unless released).
class kq_fd {
 public:
  kq_fd() : fd_(kqueue()) { BOOST_TEST_REQUIRE(fd_ >= 0); }
  ~kq_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  kq_fd(const kq_fd&) = delete;
  kq_fd& operator=(const kq_fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

inline struct kevent mp_kev(mach_port_name_t name, std::uint16_t flags, std::uint32_t fflags = 0) {
  struct kevent k {};
  EV_SET(&k, name, EVFILT_MACHPORT, flags, fflags, 0, nullptr);
  return k;
}

inline struct kevent64_s mp_kev64(mach_port_name_t name, std::uint16_t flags,
                                  std::uint32_t fflags = 0, std::uint64_t ext0 = 0,
                                  std::uint64_t ext1 = 0, std::uint64_t udata = 0) {
  struct kevent64_s k {};
  EV_SET64(&k, name, EVFILT_MACHPORT, flags, fflags, 0, udata, ext0, ext1);
  return k;
}

// Applies changes only (no event list): returns kevent's result, errno in *err.
inline int apply(int kq, std::initializer_list<struct kevent> changes, int* err = nullptr) {
  errno = 0;
  int rc = kevent(kq, changes.begin(), static_cast<int>(changes.size()), nullptr, 0, &poll_ts);
  if (err != nullptr) *err = errno;
  return rc;
}

inline int apply64(int kq, std::initializer_list<struct kevent64_s> changes, int* err = nullptr) {
  errno = 0;
  int rc = kevent64(kq, changes.begin(), static_cast<int>(changes.size()), nullptr, 0, 0,
                    &poll_ts);
  if (err != nullptr) *err = errno;
  return rc;
}

// Collects events; `ts` null blocks.
inline int wait_events(int kq, struct kevent* out, int n, const struct timespec* ts) {
  return kevent(kq, nullptr, 0, out, n, ts);
}

inline int wait_events64(int kq, struct kevent64_s* out, int n, const struct timespec* ts) {
  return kevent64(kq, nullptr, 0, out, n, 0, ts);
}

// A 24-byte message to a send right held under `port` (COPY_SEND). No Boost.Test assertion:
// safe on worker threads (Boost.Test is not thread-safe); check the result on the main thread.
inline mach_msg_return_t send_raw(mach_port_name_t port, mach_msg_id_t id = 0x100) {
  return machport_test::send_header(port, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, id,
                                    MACH_SEND_TIMEOUT, machport_test::guard_ms);
}

// The same, asserting success: main thread only.
inline void send_to(mach_port_name_t port, mach_msg_id_t id = 0x100) {
  BOOST_TEST_REQUIRE(send_raw(port, id) == MACH_MSG_SUCCESS);
}

// Receives and discards exactly `n` queued messages.
inline void drain(mach_port_name_t port, int n) {
  for (int i = 0; i < n; ++i) machport_test::receive_and_destroy(port);
}

}  // namespace kq_test
