// kqueue_watcher: the kqueue the Asio layer watches Mach ports with, and nothing else.
//
// One kqueue per execution context (see detail/port_service.hpp). Each watched name (a receive
// right or a port set) has an EVFILT_MACHPORT knote registered with EV_DISPATCH and without
// MACH_RCV_MSG: an event only says "this name has a message"; nothing is dequeued by kevent,
// so a message is taken off the queue only by a mach_msg made for a live operation. After an
// event the knote stays disabled until enable(): a message left in the port because nobody
// wants it wakes nothing (docs/xnu-ipc-semantics.md §6 describes the filter).
//
// Not thread-safe: the caller serialises every call (port_engine holds its mutex).
#pragma once

#include <machport/detail/platform.hpp>

#include <sys/event.h>

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>

namespace machport::detail {

class kqueue_watcher {
 public:
  // Opens the kqueue. Throws boost::system::system_error if kqueue() fails.
  kqueue_watcher();
  // Closes the kqueue: every knote goes with it; queued Mach messages stay in their ports.
  ~kqueue_watcher();
  kqueue_watcher(const kqueue_watcher&) = delete;
  kqueue_watcher& operator=(const kqueue_watcher&) = delete;

  // The kqueue fd, for the reactor to watch for readability. Never change its flags: a kqueue
  // refuses FIONBIO and F_SETFL (ENOTTY).
  int fd() const noexcept { return fd_; }

  // Adds an enabled knote for `name` (EV_ADD|EV_DISPATCH); `cookie` comes back with its events.
  // If the name already has a message the event fires at once. Errors: errno from kevent64
  // (e.g. EINVAL: not a receive right or port set; ENOENT cannot happen).
  boost::system::error_code add(mach_port_name_t name, void* cookie) noexcept;
  // Re-enables a knote that an event disabled (EV_ENABLE|EV_DISPATCH). Fires at once if the
  // port already holds a message.
  boost::system::error_code enable(mach_port_name_t name, void* cookie) noexcept;
  // Deletes the knote (EV_DELETE); a queued event of it goes too. ENOENT (the kernel already
  // dropped it, after EV_EOF) is not an error.
  boost::system::error_code remove(mach_port_name_t name) noexcept;

  struct event {
    void* cookie;
    bool eof;  // EV_EOF: the receive right or set is gone (destroyed or moved away)
  };
  // Takes every queued event without waiting (KEVENT_FLAG_IMMEDIATE), calling f(event) for
  // each, until a call returns fewer than it could: the kqueue's queue is then empty, so the
  // next message is an empty→non-empty transition that makes the kqueue fd readable again on
  // both XNU and the emulator. Returns the first kevent64 error, if any.
  template <class F>
  boost::system::error_code drain(F&& f) {
    struct kevent64_s events[batch];
    for (;;) {
      int n = 0;
      if (auto ec = fetch(events, n)) return ec;
      for (int i = 0; i < n; ++i) {
        f(event{reinterpret_cast<void*>(static_cast<std::uintptr_t>(events[i].udata)),
                (events[i].flags & EV_EOF) != 0});
      }
      if (n < batch) return {};
    }
  }

 private:
  static constexpr int batch = 32;
  boost::system::error_code change(mach_port_name_t name, std::uint16_t flags, void* cookie) noexcept;
  boost::system::error_code fetch(struct kevent64_s* events, int& n) noexcept;
  int fd_ = -1;
};

}  // namespace machport::detail
