// The emulated kqueue: kqueue(), kevent(), kevent64() with EVFILT_MACHPORT (§6),
// EVFILT_READ on another emulated kqueue (nesting), EVFILT_READ / EVFILT_WRITE on ordinary
// descriptors (pipes, sockets, eventfds...: readiness from poll()) and EVFILT_USER, plus the
// close() family interposition that releases a kqueue when its descriptor is closed (ioctl() and
// fcntl() on a kqueue descriptor are interposed in kqueue_fd.cpp).
//
// Model (bsd/kern/kern_event.c + osfmk/ipc/ipc_pset.c, simplified to one kernel lock):
// * Every piece of state here is guarded by kernel_mutex(), the IPC core's lock, because the
//   core calls knote_queue_changed_locked / knote_vanished_locked with it held and kevent()
//   receives messages (kq_receive_locked) while processing. A kevent call holds the lock for
//   the whole registration + scan, so processing is serialized per kernel, like KQ_PROCESSING.
// * A knote is "deliverable" when the next scan would produce an event for it. That is
//   computed exactly (no spurious activations): enabled, and either a pending EOF / vanish /
//   deferred-delete event, or the filter has data (a queued message, a readable child kqueue)
//   and the knote is level-triggered or armed. `active` is XNU's KN_ACTIVE: set on attach /
//   touch when data is present and by a post to an empty queue; cleared when a non-level knote
//   delivers. Deliverable knotes wait in `queue` (FIFO); a scan suppresses each knote it
//   processes so that it reports at most once per call.
// * The descriptor is an eventfd whose counter is non-zero exactly while the kqueue has a
//   deliverable knote, so poll()/epoll see it readable. It is written only when that count
//   goes from 0 to 1 and at the end of a kevent() that leaves events pending (so an
//   edge-triggered epoll watcher gets a fresh edge then, and only then), and read once when
//   the count drops to 0 (sync_fd).
//   LIMIT: knotes on ordinary descriptors (kind fd) are not tracked between calls (Linux has
//   no readiness callback without a watcher thread): kevent() polls them itself, and a blocked
//   kevent() waits in poll() on them plus a private wake eventfd (kernel lock dropped), but
//   they never make the kqueue's eventfd readable, nor a parent kqueue's EVFILT_READ fire.
//   EVFILT_USER knotes do count. An EV_CLEAR fd knote is approximated (poll() is level-
//   triggered): it reports again when readiness returns or `data` changes, and a blocked
//   kevent() does not wait on one already reported and still ready.
//
// Deliberate differences from macOS, and what is not emulated:
// * EVFILT_TIMER, EVFILT_PROC, EVFILT_VNODE, EVFILT_SIGNAL...: EV_ADD fails with ENOTSUP
//   (EINVAL for a filter number outside the table); other actions give ENOENT. For
//   EVFILT_READ / EVFILT_WRITE: EBADF for a bad descriptor, EINVAL for EVFILT_WRITE on a
//   kqueue. fd knotes: `data` is FIONREAD for reads (1 where unsupported), 1 for writes; EV_EOF
//   on POLLHUP / POLLRDHUP / POLLERR; NOTE_LOWAT, EV_OOBAND and EV_VANISHED are ignored.
//   Closing a watched descriptor through close()/close_range()/dup2()/dup3() drops its knotes
//   (knote_fdclose); a descriptor closed behind our back is dropped at the next scan (POLLNVAL)
//   unless its number was reused meanwhile.
// * kevent_qos / kevent_id / workloops / KEVENT_FLAG_WORKQ (ENOTSUP); QoS; signals never
//   interrupt a wait (no EINTR); MACH_RCV_SYNC_PEEK is accepted and ignored.
// * Knotes are keyed by (registering task, ident, filter): one kqueue can watch ports of
//   several emulated tasks; receives go to the registering task's space.
// * Descriptor life: close(), close_range(), dup2() and dup3() are interposed. dup()/F_DUPFD
//   copies are not kqueues (kevent: EBADF); fork children must not use parent kqueues;
//   closefrom(), fclose(fdopen(kq)) and raw syscalls bypass the interposition, and the stale
//   kqueue is then noticed (EBADF) only if the number is reused by a file with another inode
//   (all eventfds share one anon inode). close() takes the kernel lock when kqueues exist, so
//   it is not async-signal-safe then, and it is not a pthread cancellation point.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <sys/event.h>

#include <mach/mach.h>

#include "ipc.hpp"
#include "kq_interface.hpp"
#include "kqueue_fd.hpp"
#include <machport_emu/task.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace machport_emu::detail {

struct kqueue_state;

// machport: EVFILT_MACHPORT. kqread: EVFILT_READ on another emulated kqueue. fd: EVFILT_READ /
// EVFILT_WRITE on any other descriptor (readiness polled). user: EVFILT_USER.
enum class knote_kind : std::uint8_t { machport, kqread, fd, user };

struct knote {
  kqueue_state* kq = nullptr;
  knote_kind kind = knote_kind::machport;
  std::uint32_t owner = 0;  // machport: task whose space `ident` names (the registering task)
  std::uint64_t ident = 0;
  std::int16_t filter = 0;
  std::uint16_t flags = 0;    // flags as registered; EV_EOF|EV_ONESHOT added on vanish
  std::uint32_t sfflags = 0;  // fflags as registered (MACH_RCV_* options)
  std::uint64_t udata = 0;
  std::uint64_t ext[2] = {0, 0};
  ipc_object* obj = nullptr;        // machport: the watched port/set; null once vanished
  kqueue_state* child = nullptr;    // kqread: the watched kqueue
  bool req_vanish = false;          // registered with EV_VANISHED (KN_REQVANISH)
  bool vanished = false;            // KN_VANISHED: owes an EV_VANISHED event
  bool deferdelete = false;         // KN_DEFERDELETE: owes an EV_DELETE event
  bool disabled = false;            // KN_DISABLED
  bool active = false;              // KN_ACTIVE (see the file comment)
  bool deliverable = false;         // counted in kq->deliverable_count
  bool suppressed = false;          // processed by the current scan
  bool queued = false;              // in kq->queue
  std::list<knote*>::iterator queue_pos;
  // fd: EV_CLEAR bookkeeping (poll() is level-triggered; an EV_CLEAR knote reports again only
  // when readiness returns or `data` changes).
  bool fd_reported = false;
  std::int64_t fd_last = 0;
  // user: triggered (filt_user's FILTER_ACTIVE) and the data echoed back (kn_sdata).
  bool user_triggered = false;
  std::int64_t user_data = 0;
};

struct kqueue_state {
  int fd = -1;
  dev_t fd_dev = 0;  // identity of the eventfd, to notice a number reused behind our back
  ino_t fd_ino = 0;
  int abi = 0;       // 0 until first use, then 32 (kevent) or 64 (kevent64): never mixed
  bool closed = false;
  bool scanning = false;
  bool fd_signaled = false;
  bool verified = false;    // the descriptor was checked by the kevent() call holding the lock
  std::uint16_t level = 0;  // nesting level (kqueue_kqfilter's ceiling protocol)
  std::size_t deliverable_count = 0;
  std::list<knote*> queue;
  // (owner task, ident, filter) -> knotes; several only with EV_UDATA_SPECIFIC.
  std::multimap<std::tuple<std::uint32_t, std::uint64_t, std::int16_t>, std::unique_ptr<knote>>
      knotes;
  std::vector<knote*> watchers;  // EVFILT_READ knotes (in other kqueues) watching this one
  std::condition_variable cv;    // kevent() waiters, with kernel_mutex()
  std::size_t nfd = 0;           // knotes of kind fd: waiters then poll() instead of cv
  std::size_t fd_rr = 0;         // round-robin start for scanning fd knotes
  std::vector<int> pollers;      // private eventfds of kevent() calls blocked in poll()
  std::size_t blocked = 0;       // kevent() calls waiting now (wait_until_kevent_blocked)
  int status_flags = kqueue_initial_status_flags();  // F_GETFL (see kqueue_fd.cpp)
};

}  // namespace machport_emu::detail

// The macOS LP64 layouts.
static_assert(sizeof(struct kevent) == 32 && offsetof(struct kevent, filter) == 8 &&
              offsetof(struct kevent, flags) == 10 && offsetof(struct kevent, fflags) == 12 &&
              offsetof(struct kevent, data) == 16 && offsetof(struct kevent, udata) == 24);
static_assert(sizeof(struct kevent64_s) == 48 && offsetof(struct kevent64_s, filter) == 8 &&
              offsetof(struct kevent64_s, flags) == 10 &&
              offsetof(struct kevent64_s, fflags) == 12 &&
              offsetof(struct kevent64_s, data) == 16 &&
              offsetof(struct kevent64_s, udata) == 24 && offsetof(struct kevent64_s, ext) == 32);

namespace {

using namespace machport_emu::detail;

// Internal form of a change / event (kevent64_s without the layout).
struct kev_t {
  std::uint64_t ident = 0;
  std::int16_t filter = 0;
  std::uint16_t flags = 0;
  std::uint32_t fflags = 0;
  std::int64_t data = 0;
  std::uint64_t udata = 0;
  std::uint64_t ext[2] = {0, 0};
};

constexpr unsigned kMaxNestedKq = 10;  // MAX_NESTED_KQ
constexpr unsigned kEventFlagUser = KEVENT_FLAG_IMMEDIATE | KEVENT_FLAG_ERROR_EVENTS | 0x8u |
                                    0x20u | 0x400u | 0x20000u | 0x40000u;  // KEVENT_FLAG_USER
constexpr unsigned kEventIdFlagUser = 0x400u | 0x20000u | 0x40000u;  // WORKLOOP, DYNAMIC_KQ_*
constexpr unsigned kEventFlagWorkq = 0x20u;

// Live emulated kqueues; close() skips the lock entirely while there are none.
std::atomic<int> g_live{0};

// fd -> kqueue. Never destroyed: close() may run during static destruction.
std::unordered_map<int, std::shared_ptr<kqueue_state>>& table() {
  static auto* t = new std::unordered_map<int, std::shared_ptr<kqueue_state>>();
  return *t;
}

}  // namespace

// ThreadSanitizer's runtime intercepts close() and dup3() to keep its descriptor table (a
// number's accesses are forgotten at close). Our close() and dup3() replace its weak symbols,
// so when it is linked in we call its interceptors (which then call libc's); otherwise a
// reused number would carry the closed descriptor's history and TSan would report false races
// on it. No other sanitizer runtime defines these.
extern "C" int __interceptor_close(int fd) __attribute__((weak));
extern "C" int __interceptor_dup3(int oldfd, int newfd, int flags) __attribute__((weak));

namespace {

int raw_close(int fd) {
  return __interceptor_close ? __interceptor_close(fd)
                             : static_cast<int>(::syscall(SYS_close, fd));
}

int raw_dup3(int oldfd, int newfd, int flags) {
  return __interceptor_dup3 ? __interceptor_dup3(oldfd, newfd, flags)
                            : static_cast<int>(::syscall(SYS_dup3, oldfd, newfd, flags));
}

// descriptor -> fd knotes (every kqueue) watching it: close() drops them (knote_fdclose).
std::unordered_map<int, std::vector<knote*>>& fd_index() {
  static auto* t = new std::unordered_map<int, std::vector<knote*>>();
  return *t;
}

// Kicks kevent() calls blocked in poll() so they rescan / rebuild their descriptor set.
void wake_pollers(kqueue_state* kq) {
  for (int w : kq->pollers) {
    std::uint64_t one = 1;
    (void)!::write(w, &one, sizeof one);
  }
}

void unindex_fd_knote(knote* kn) {
  auto it = fd_index().find(static_cast<int>(kn->ident));
  if (it == fd_index().end()) return;
  std::erase(it->second, kn);
  if (it->second.empty()) fd_index().erase(it);
}

bool same_file(const kqueue_state* kq) {
  struct stat st {};
  if (::fstat(kq->fd, &st) != 0) return false;
  return st.st_dev == kq->fd_dev && st.st_ino == kq->fd_ino;
}

// ---- deliverability ----------------------------------------------------------------------

bool level_triggered(const knote* kn) {
  return (kn->flags & (EV_CLEAR | EV_DISPATCH | EV_ONESHOT)) == 0;
}

bool has_data(const knote* kn) {
  switch (kn->kind) {
    case knote_kind::machport:
      return kn->obj != nullptr && kq_first_message_locked(kn->owner, kn->obj) != MACH_PORT_NULL;
    case knote_kind::kqread:
      return kn->child != nullptr && kn->child->deliverable_count > 0;
    case knote_kind::fd:
      return false;  // polled by the scan itself, never queued (see scan_fd_knotes)
    case knote_kind::user:
      return kn->user_triggered;
  }
  return false;
}

bool compute_deliverable(const knote* kn) {
  if (kn->disabled) return false;
  if (kn->deferdelete || kn->vanished || (kn->flags & EV_EOF)) return kn->active;
  if (!level_triggered(kn) && !kn->active) return false;
  return has_data(kn);
}

void update(knote* kn);

// Never write into a number that now names someone else's file (closed behind our back).
bool fd_is_ours(const kqueue_state* kq) { return kq->verified || same_file(kq); }

void sync_fd(kqueue_state* kq, bool edge) {
  if (kq->closed) return;
  if (kq->deliverable_count > 0) {
    if ((!kq->fd_signaled || edge) && fd_is_ours(kq)) {
      std::uint64_t one = 1;
      (void)!::write(kq->fd, &one, sizeof one);
      kq->fd_signaled = true;
    }
  } else if (kq->fd_signaled && fd_is_ours(kq)) {
    std::uint64_t value = 0;
    (void)!::read(kq->fd, &value, sizeof value);  // non-semaphore eventfd: resets to 0
    kq->fd_signaled = false;
  }
}

// The kqueue went from no deliverable knote to some, or back.
void count_changed(kqueue_state* kq, bool now_nonzero) {
  if (now_nonzero) {
    kq->cv.notify_all();
    wake_pollers(kq);
  }
  if (!kq->scanning) sync_fd(kq, false);
  // Parents watching this kqueue with EVFILT_READ (depth bounded by kMaxNestedKq).
  if (kq->watchers.empty()) return;
  std::vector<knote*> watchers = kq->watchers;
  for (knote* w : watchers) {
    if (now_nonzero) w->active = true;  // a child becoming readable posts its watchers
    update(w);
  }
}

void update(knote* kn) {
  kqueue_state* kq = kn->kq;
  bool deliverable = compute_deliverable(kn);
  if (deliverable != kn->deliverable) {
    kn->deliverable = deliverable;
    if (deliverable) {
      if (++kq->deliverable_count == 1) count_changed(kq, true);
    } else {
      if (--kq->deliverable_count == 0) count_changed(kq, false);
    }
  }
  bool want_queued = kn->deliverable && !kn->suppressed;
  if (want_queued && !kn->queued) {
    kn->queue_pos = kq->queue.insert(kq->queue.end(), kn);
    kn->queued = true;
  } else if (!want_queued && kn->queued) {
    kq->queue.erase(kn->queue_pos);
    kn->queued = false;
  }
}

// Detaches and frees a knote (knote_drop). Never calls back into the caller's knote.
void drop_knote(knote* kn) {
  kqueue_state* kq = kn->kq;
  if (kn->queued) {
    kq->queue.erase(kn->queue_pos);
    kn->queued = false;
  }
  if (kn->kind == knote_kind::machport && kn->obj != nullptr) {
    kq_detach_locked(kn->obj, kn);
    kn->obj = nullptr;
  }
  if (kn->kind == knote_kind::kqread && kn->child != nullptr) {
    auto& w = kn->child->watchers;
    std::erase(w, kn);
    kn->child = nullptr;
  }
  if (kn->kind == knote_kind::fd) {
    unindex_fd_knote(kn);
    --kq->nfd;
  }
  bool was_deliverable = kn->deliverable;
  kn->deliverable = false;
  auto range = kq->knotes.equal_range(
      std::make_tuple(kn->owner, kn->ident, static_cast<std::int16_t>(kn->filter)));
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second.get() == kn) {
      kq->knotes.erase(it);  // frees kn
      break;
    }
  }
  if (was_deliverable && --kq->deliverable_count == 0) count_changed(kq, false);
}

// Everything close() does to a kqueue, except closing its descriptor.
void destroy_kqueue_locked(const std::shared_ptr<kqueue_state>& kq) {
  if (kq->closed) return;
  kq->closed = true;
  // Our own knotes: detach from ports, sets and child kqueues.
  for (auto& [key, kn] : kq->knotes) {
    if (kn->kind == knote_kind::machport && kn->obj != nullptr) {
      kq_detach_locked(kn->obj, kn.get());
      kn->obj = nullptr;
    }
    if (kn->kind == knote_kind::kqread && kn->child != nullptr) {
      std::erase(kn->child->watchers, kn.get());
      kn->child = nullptr;
    }
    if (kn->kind == knote_kind::fd) unindex_fd_knote(kn.get());
  }
  kq->nfd = 0;
  kq->queue.clear();
  kq->knotes.clear();
  kq->deliverable_count = 0;
  // Knotes in other kqueues watching this descriptor go away silently (knote_fdclose).
  std::vector<knote*> watchers = std::move(kq->watchers);
  kq->watchers.clear();
  for (knote* w : watchers) {
    w->child = nullptr;
    drop_knote(w);
  }
  kq->cv.notify_all();  // blocked kevent() calls return EBADF
  wake_pollers(kq.get());
  auto it = table().find(kq->fd);
  if (it != table().end() && it->second == kq) table().erase(it);
  g_live.fetch_sub(1, std::memory_order_relaxed);
}

// The kqueue behind `fd`, or null (EBADF). A stale entry (the number was closed behind our
// back and now names another file) is released here.
std::shared_ptr<kqueue_state> lookup_locked(int fd) {
  auto it = table().find(fd);
  if (it == table().end()) return nullptr;
  std::shared_ptr<kqueue_state> kq = it->second;
  if (!same_file(kq.get())) {
    destroy_kqueue_locked(kq);
    return nullptr;
  }
  return kq;
}

// ---- registration (kevent_register) ------------------------------------------------------

knote* find_knote(kqueue_state* kq, std::uint32_t owner, const kev_t& kev) {
  auto range = kq->knotes.equal_range(std::make_tuple(owner, kev.ident, kev.filter));
  for (auto it = range.first; it != range.second; ++it) {
    knote* kn = it->second.get();
    if (kev.flags & EV_UDATA_SPECIFIC) {
      if ((kn->flags & EV_UDATA_SPECIFIC) && kn->udata == kev.udata) return kn;
    } else if ((kn->flags & EV_UDATA_SPECIFIC) == 0) {
      return kn;
    }
  }
  return nullptr;
}

// Returns 0 or an errno. `kev` is adjusted the way XNU adjusts it (it is echoed in
// EV_ERROR / EV_RECEIPT events).
int attach_new(kqueue_state* kq, std::uint32_t owner, bool have_owner, kev_t& kev) {
  ipc_object* obj = nullptr;
  kqueue_state* child = nullptr;
  knote_kind kind = knote_kind::machport;

  // Flags are snapshotted before the filter's attach (which may still fail).
  bool req_vanish = false;
  if (kev.flags & EV_VANISHED) {
    kev.flags &= static_cast<std::uint16_t>(~EV_VANISHED);
    req_vanish = true;
  }

  switch (kev.filter) {
    case EVFILT_MACHPORT: {
      if (!have_owner) return ENOENT;
      int err = kq_lookup_locked(owner, static_cast<mach_port_name_t>(kev.ident), &obj);
      if (err != 0) return err;
      break;
    }
    case EVFILT_READ:
    case EVFILT_WRITE: {
      // Another emulated kqueue (read side only), or any other descriptor (polled).
      int fd = static_cast<int>(kev.ident);
      if (kev.ident > static_cast<std::uint64_t>(INT32_MAX)) return EBADF;
      std::shared_ptr<kqueue_state> target = lookup_locked(fd);
      if (!target) {
        // Raw: the fcntl() interposer (kqueue_fd.cpp) takes the kernel lock.
        if (::syscall(SYS_fcntl, fd, F_GETFD) < 0) return EBADF;
        kind = knote_kind::fd;
        break;
      }
      if (kev.filter != EVFILT_READ || target.get() == kq) return EINVAL;
      // Ceiling protocol against cycles and deep nesting (kqueue_kqfilter).
      if (kq->level > 0 && kq->level < target->level) return EINVAL;
      std::uint16_t plevel = kq->level == 0 ? 2 : kq->level;
      if (plevel < target->level + 1) {
        if (target->level + 1u > kMaxNestedKq) return EINVAL;
        plevel = static_cast<std::uint16_t>(target->level + 1);
      }
      kq->level = plevel;
      if (target->level == 0) target->level = 1;
      child = target.get();
      kind = knote_kind::kqread;
      break;
    }
    case EVFILT_USER:
      kind = knote_kind::user;
      break;
    default:
      return ENOTSUP;  // EVFILT_TIMER, EVFILT_PROC, EVFILT_VNODE, ...: not emulated
  }

  auto owned = std::make_unique<knote>();
  knote* kn = owned.get();
  kn->kq = kq;
  kn->kind = kind;
  kn->owner = kind == knote_kind::machport ? owner : 0;
  kn->ident = kev.ident;
  kn->filter = kev.filter;
  kn->flags = kev.flags;
  kn->sfflags = kev.fflags;
  kn->udata = kev.udata;
  kn->ext[0] = kev.ext[0];
  kn->ext[1] = kev.ext[1];
  kn->req_vanish = req_vanish;
  kn->disabled = (kev.flags & EV_DISABLE) != 0;
  kq->knotes.emplace(std::make_tuple(kn->owner, kn->ident, kn->filter), std::move(owned));
  if (kind == knote_kind::machport) {
    kn->obj = obj;
    kq_attach_locked(obj, kn);
  } else if (kind == knote_kind::kqread) {
    kn->child = child;
    child->watchers.push_back(kn);
  } else if (kind == knote_kind::fd) {
    fd_index()[static_cast<int>(kn->ident)].push_back(kn);
    ++kq->nfd;
    kq->cv.notify_all();  // condition-variable waiters switch to poll()
    wake_pollers(kq);     // poll() waiters add the new descriptor
  } else {
    // filt_userattach: NOTE_TRIGGER at attach fires at once; data is echoed back.
    kn->user_triggered = (kev.fflags & NOTE_TRIGGER) != 0;
    kn->user_data = kev.data;
  }
  kn->active = has_data(kn);  // attaching to a non-empty queue activates at once
  update(kn);
  return 0;
}

int register_change(kqueue_state* kq, kev_t& kev) {
  if (!(kev.filter < 0 && kev.filter + EVFILT_SYSCOUNT >= 0)) return EINVAL;
  // EV_VANISHED only when adding a udata-specific dispatch knote.
  if ((kev.flags & EV_VANISHED) &&
      (kev.flags & (EV_ADD | EV_DISPATCH2)) != (EV_ADD | EV_DISPATCH2)) {
    return EINVAL;
  }
  // Delete and disable overrule add and enable.
  if (kev.flags & EV_DELETE) kev.flags &= static_cast<std::uint16_t>(~EV_ADD);
  if (kev.flags & EV_DISABLE) kev.flags &= static_cast<std::uint16_t>(~EV_ENABLE);

  std::uint32_t owner = 0;
  bool have_owner = false;
  if (kev.filter == EVFILT_MACHPORT) {
    space* s = current_space_locked();
    if (s != nullptr && s->active) {
      owner = s->task;
      have_owner = true;
    }
  }

  knote* kn = have_owner || kev.filter != EVFILT_MACHPORT ? find_knote(kq, owner, kev) : nullptr;
  if (kn == nullptr) {
    if ((kev.flags & EV_ADD) == 0) return ENOENT;
    return attach_new(kq, owner, have_owner, kev);
  }

  if (kev.flags & EV_DELETE) {
    // A disabled EV_DISPATCH2 knote is deleted only once re-enabled (libdispatch protocol).
    if ((kev.flags & EV_ENABLE) == 0 && (kn->flags & EV_DISPATCH2) == EV_DISPATCH2 &&
        kn->disabled) {
      kn->deferdelete = true;
      update(kn);
      return EINPROGRESS;
    }
    drop_knote(kn);
    return 0;
  }

  // Touch: update the filter's inputs, re-evaluate, then apply enable/disable.
  bool result_active = false;
  if (kn->deferdelete || kn->vanished) {
    result_active = (kev.flags & EV_ENABLE) != 0;
  } else if (kn->kind == knote_kind::machport) {
    // filt_machporttouch: the receive mode is fixed at attach.
    if ((kn->sfflags ^ kev.fflags) & (MACH_RCV_MSG | MACH_RCV_SYNC_PEEK)) return EINVAL;
    kn->sfflags = kev.fflags;
    kn->ext[0] = kev.ext[0];
    kn->ext[1] = kev.ext[1];
    result_active = has_data(kn);
  } else if (kn->kind == knote_kind::user) {
    // filt_usertouch: fflags control, data, trigger.
    std::uint32_t ff = kev.fflags & NOTE_FFLAGSMASK;
    switch (kev.fflags & NOTE_FFCTRLMASK) {
      case NOTE_FFAND: kn->sfflags &= ff; break;
      case NOTE_FFOR: kn->sfflags |= ff; break;
      case NOTE_FFCOPY: kn->sfflags = ff; break;
      default: break;  // NOTE_FFNOP
    }
    kn->user_data = kev.data;
    if (kev.fflags & NOTE_TRIGGER) kn->user_triggered = true;
    result_active = has_data(kn);
  } else {
    result_active = has_data(kn);
  }
  if ((kn->flags & EV_UDATA_SPECIFIC) == 0) kn->udata = kev.udata;
  if (kev.flags & EV_DISABLE) kn->disabled = true;
  if ((kev.flags & EV_ENABLE) && kn->disabled) kn->disabled = false;
  if (result_active) kn->active = true;  // a touch never deactivates
  if (kn->kind == knote_kind::fd && !kn->disabled) {
    kn->fd_reported = false;  // re-enabled / re-added: report the current state again
    wake_pollers(kq);
  }
  update(kn);
  return 0;
}

// ---- processing (knote_process / filt_machportprocess) -----------------------------------

// Fills `ev` and returns true when `kn` has an event to report now.
bool process(knote* kn, kev_t& ev) {
  if (kn->deferdelete || kn->vanished) {
    ev = kev_t{};
    ev.ident = kn->ident;
    ev.filter = kn->filter;
    ev.flags = static_cast<std::uint16_t>(EV_DISPATCH2 | EV_ONESHOT |
                                          (kn->deferdelete ? EV_DELETE : EV_VANISHED));
    ev.udata = kn->udata;
    return true;
  }
  // knote_fill_kevent: registered flags, output fflags start at 0, ext echoed.
  ev = kev_t{};
  ev.ident = kn->ident;
  ev.filter = kn->filter;
  ev.flags = kn->flags;
  ev.udata = kn->udata;
  ev.ext[0] = kn->ext[0];
  ev.ext[1] = kn->ext[1];
  if (kn->flags & EV_EOF) return true;  // the last event of a vanished port or set

  if (kn->kind == knote_kind::user) {
    if (!kn->user_triggered) return false;
    ev.fflags = kn->sfflags;
    ev.data = kn->user_data;
    if (kn->flags & EV_CLEAR) kn->user_triggered = false;
    return true;
  }
  if (kn->kind == knote_kind::fd) return false;  // reported by scan_fd_knotes
  if (kn->kind == knote_kind::kqread) {
    if (kn->child == nullptr || kn->child->deliverable_count == 0) return false;
    ev.data = static_cast<std::int64_t>(kn->child->deliverable_count);
    return true;
  }

  if (kn->obj == nullptr) return false;
  if ((kn->sfflags & MACH_RCV_MSG) == 0) {
    // Probe only: report which port holds the first message; nothing is dequeued.
    mach_port_name_t name = kq_first_message_locked(kn->owner, kn->obj);
    if (name == MACH_PORT_NULL) return false;
    ev.data = name;
    return true;
  }

  mach_msg_option_t option =
      static_cast<mach_msg_option_t>(kn->sfflags & (MACH_RCV_MSG | MACH_RCV_LARGE |
                                                    MACH_RCV_LARGE_IDENTITY |
                                                    MACH_RCV_TRAILER_MASK | MACH_RCV_VOUCHER |
                                                    MACH_MSG_STRICT_REPLY));
  void* buf = reinterpret_cast<void*>(static_cast<std::uintptr_t>(kn->ext[0]));
  auto size = static_cast<mach_msg_size_t>(kn->ext[1]);
  if (size == 0) {
    // No buffer (plain kevent() has no ext): kevent_qos would carve one from its data_out
    // area; kevent/kevent64 have none, so this is a MACH_RCV_LARGE probe.
    buf = nullptr;
    option |= MACH_RCV_LARGE | MACH_RCV_LARGE_IDENTITY;
  }
  option |= MACH_RCV_TIMEOUT;  // never wait

  // On MACH_RCV_TOO_LARGE with MACH_RCV_LARGE the kevent path reports the size and name in the
  // event only (MACH64_RCV_LINEAR_VECTOR): the buffer must stay untouched.
  unsigned char saved[sizeof(mach_msg_header_t)];
  std::size_t saved_len = 0;
  if ((option & MACH_RCV_LARGE) && buf != nullptr) {
    saved_len = size < sizeof saved ? size : sizeof saved;
    std::memcpy(saved, buf, saved_len);
  }
  mach_msg_size_t out_size = 0;
  mach_port_name_t identity = MACH_PORT_NULL;
  mach_msg_return_t mr =
      kq_receive_locked(kn->owner, kn->obj, option, buf, size, &out_size, &identity);
  if (mr == MACH_RCV_TIMED_OUT) return false;
  if (mr == MACH_RCV_TOO_LARGE && (option & MACH_RCV_LARGE) && saved_len != 0) {
    std::memcpy(buf, saved, saved_len);
  }
  ev.fflags = static_cast<std::uint32_t>(mr);
  ev.ext[1] = out_size;
  ev.data = (mr == MACH_RCV_TOO_LARGE && (option & MACH_RCV_LARGE_IDENTITY)) ? identity : 0;
  return true;
}

// ---- fd knotes (EVFILT_READ / EVFILT_WRITE on ordinary descriptors) ------------------------
// Linux gives no callback when a pipe or socket becomes ready, so fd knotes are not tracked
// between calls: each scan polls them (after the queued knotes), and a blocked kevent() waits
// in poll() on them (see kevent_common). They never count in deliverable_count, so the kqueue's
// own eventfd, and EVFILT_READ on this kqueue from another one, reflect the other knotes only.

short fd_poll_events(const knote* kn) {
  return static_cast<short>(kn->filter == EVFILT_READ ? (POLLIN | POLLRDHUP) : POLLOUT);
}

// Whether a blocked kevent() should poll this knote's descriptor. An EV_CLEAR knote already
// reported and still ready is left out (poll() would return at once): more data on it is
// noticed only at the next scan, not by a blocked kevent().
bool fd_knote_waitable(const knote* kn) {
  return kn->kind == knote_kind::fd && !kn->disabled && !kn->deferdelete &&
         !((kn->flags & EV_CLEAR) && kn->fd_reported);
}

template <class Emit>
int scan_fd_knotes(kqueue_state* kq, int n, int max, Emit& emit) {
  std::vector<knote*> kns;
  for (auto& [key, kn] : kq->knotes) {
    if (kn->kind == knote_kind::fd && !kn->disabled && !kn->deferdelete) kns.push_back(kn.get());
  }
  if (kns.empty()) return n;
  // Rotate the start so a busy descriptor cannot starve the others when `max` is small.
  std::size_t start = kq->fd_rr++ % kns.size();
  std::rotate(kns.begin(), kns.begin() + static_cast<std::ptrdiff_t>(start), kns.end());
  std::vector<pollfd> pfds(kns.size());
  for (std::size_t i = 0; i < kns.size(); ++i) {
    pfds[i] = pollfd{static_cast<int>(kns[i]->ident), fd_poll_events(kns[i]), 0};
  }
  if (::poll(pfds.data(), pfds.size(), 0) < 0) return n;
  for (std::size_t i = 0; i < kns.size(); ++i) {
    knote* kn = kns[i];
    short re = pfds[i].revents;
    if (re & POLLNVAL) {  // closed behind our back (not through close()): knote_fdclose
      drop_knote(kn);
      continue;
    }
    bool read = kn->filter == EVFILT_READ;
    bool ready = read ? (re & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) != 0
                      : (re & (POLLOUT | POLLHUP | POLLERR)) != 0;
    if (!ready) {
      kn->fd_reported = false;
      continue;
    }
    if (n >= max) continue;
    bool eof = (re & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
    std::int64_t data = 1;
    if (read) {
      int avail = 0;
      // Raw: the ioctl() interposer (kqueue_fd.cpp) takes the kernel lock.
      if (::syscall(SYS_ioctl, pfds[i].fd, FIONREAD, &avail) == 0) data = avail;
    }
    if ((kn->flags & EV_CLEAR) && kn->fd_reported && data == kn->fd_last) continue;
    kev_t ev;
    ev.ident = kn->ident;
    ev.filter = kn->filter;
    ev.flags = static_cast<std::uint16_t>(kn->flags | (eof ? EV_EOF : 0));
    ev.data = data;
    ev.udata = kn->udata;
    ev.ext[0] = kn->ext[0];
    ev.ext[1] = kn->ext[1];
    kn->fd_reported = true;
    kn->fd_last = data;
    emit(n++, ev);
    if (kn->flags & EV_ONESHOT) {
      drop_knote(kn);
    } else if (kn->flags & EV_DISPATCH) {
      kn->disabled = true;
    }
  }
  return n;
}

// kqfile_end_processing -> knote_unsuppress -> knote_enqueue: a knote still active after the
// scan (level-triggered with data left) re-queued into the empty queue is a wakeup, so the
// EVFILT_READ knotes watching this kqueue are posted again, though its count never reached 0
// (suppressed knotes stay counted here). A re-queue behind knotes still queued wakes nobody.
void post_watchers(kqueue_state* kq) {
  std::vector<knote*> watchers = kq->watchers;
  for (knote* w : watchers) {
    w->active = true;
    update(w);
  }
}

// kqueue_process: up to `max` events, each knote at most once.
template <class Emit>
int scan_locked(kqueue_state* kq, int max, Emit&& emit) {
  kq->scanning = true;
  std::vector<knote*> suppressed;
  int n = 0;
  while (n < max && !kq->queue.empty()) {
    knote* kn = kq->queue.front();
    kn->suppressed = true;
    update(kn);  // leaves the queue, stays counted
    suppressed.push_back(kn);
    kev_t ev;
    bool fired = process(kn, ev);
    bool drop = false;
    if (fired) {
      if (!level_triggered(kn)) kn->active = false;
      if (ev.flags & EV_ONESHOT) {
        if ((kn->flags & EV_DISPATCH2) == EV_DISPATCH2 && !kn->deferdelete) {
          kn->deferdelete = true;  // wait for EV_DELETE, then report it
          kn->disabled = true;
        } else {
          drop = true;
        }
      } else if (kn->flags & EV_DISPATCH) {
        kn->disabled = true;
      }
      emit(n++, ev);
    } else {
      kn->active = false;
    }
    if (drop) {
      suppressed.pop_back();
      kn->suppressed = false;
      drop_knote(kn);
    } else {
      update(kn);
    }
  }
  if (n < max && kq->nfd > 0) n = scan_fd_knotes(kq, n, max, emit);
  bool was_empty = kq->queue.empty();
  for (knote* kn : suppressed) {
    kn->suppressed = false;
    update(kn);
  }
  if (was_empty && !kq->queue.empty()) post_watchers(kq);
  kq->scanning = false;
  sync_fd(kq, true);
  return n;
}

// ---- kevent / kevent64 ----------------------------------------------------------------------

int fail(int err) {
  errno = err;
  return -1;
}

template <class In, class Out, class FromIn, class ToOut>
int kevent_common(kernel_entry& k, int fd, const In* changes, int nchanges, Out* events,
                  int nevents, unsigned flags, const struct timespec* timeout, bool legacy32,
                  FromIn from_in, ToOut to_out) {
  using clock = std::chrono::steady_clock;
  bool forever = timeout == nullptr && (flags & KEVENT_FLAG_IMMEDIATE) == 0;
  clock::time_point deadline = clock::now();
  if (timeout != nullptr && (flags & KEVENT_FLAG_IMMEDIATE) == 0) {
    if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L) {
      return fail(EINVAL);
    }
    // Saturate absurdly long timeouts instead of overflowing the clock.
    constexpr std::int64_t max_sec = std::int64_t{1} << 32;
    if (timeout->tv_sec >= max_sec) {
      forever = true;
    } else {
      deadline += std::chrono::seconds(timeout->tv_sec) + std::chrono::nanoseconds(timeout->tv_nsec);
    }
  }
  if ((nchanges > 0 && changes == nullptr) || (nevents > 0 && events == nullptr)) {
    return fail(EFAULT);
  }

  std::unique_lock<std::mutex>& lock = k.lock();
  std::shared_ptr<kqueue_state> kq = lookup_locked(fd);
  if (!kq) return fail(EBADF);
  // lookup_locked checked the descriptor; it stays ours while we hold the lock (every
  // interposed close takes it), so sync_fd need not fstat again until we wait.
  struct verified_scope {
    kqueue_state* kq;
    explicit verified_scope(kqueue_state* k) : kq(k) { kq->verified = true; }
    ~verified_scope() { kq->verified = false; }
  } verified(kq.get());
  // A kqueue is used either through kevent() or through kevent64(), never both.
  if (kq->abi == 0) kq->abi = legacy32 ? 32 : 64;
  if ((kq->abi == 32) != legacy32) return fail(EINVAL);

  int noutputs = 0;
  for (int i = 0; i < nchanges; ++i) {
    kev_t kev = from_in(changes[i]);
    kev.flags &= static_cast<std::uint16_t>(~EV_SYSFLAGS);
    int err = register_change(kq.get(), kev);
    if (err != 0) {
      kev.flags |= EV_ERROR;
      kev.data = err;
    }
    if (noutputs < nevents && (kev.flags & (EV_ERROR | EV_RECEIPT))) {
      if ((kev.flags & EV_ERROR) == 0) {
        kev.flags |= EV_ERROR;
        kev.data = 0;
      }
      events[noutputs++] = to_out(kev);
    } else if (kev.flags & EV_ERROR) {
      return fail(err);  // later changes are not applied
    }
  }

  if ((flags & KEVENT_FLAG_ERROR_EVENTS) != 0 || nevents <= 0 || noutputs != 0) {
    return noutputs;
  }

  auto emit = [&](int index, const kev_t& ev) { events[index] = to_out(ev); };
  // With fd knotes a waiter blocks in poll() on their descriptors plus a private eventfd that
  // every wakeup source (a knote becoming deliverable, close, fd knote changes) writes.
  struct poller {
    kqueue_state* kq;
    int fd = -1;
    explicit poller(kqueue_state* k) : kq(k) {}
    ~poller() {  // runs before the kernel entry releases the lock (declared after it)
      if (fd < 0) return;
      std::erase(kq->pollers, fd);
      raw_close(fd);
    }
  } waiter(kq.get());
  for (;;) {
    if (kq->closed) return fail(EBADF);
    int n = scan_locked(kq.get(), nevents, emit);
    if (n > 0) return n;
    if (kq->closed) return fail(EBADF);
    if (!forever && clock::now() >= deadline) return 0;
    // Wait for a knote to become deliverable (or the kqueue to be closed), then rescan.
    kq->verified = false;
    struct blocked_scope {  // counted from before the wait until the lock is held again
      kqueue_state* kq;
      explicit blocked_scope(kqueue_state* k) : kq(k) {
        kq->blocked++;
        blocked_changed().notify_all();
      }
      ~blocked_scope() { kq->blocked--; }
    } blocked(kq.get());
    if (kq->nfd > 0) {
      if (waiter.fd < 0) {
        waiter.fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (waiter.fd < 0) return fail(errno);
        kq->pollers.push_back(waiter.fd);
      }
      std::vector<pollfd> pfds;
      pfds.push_back(pollfd{waiter.fd, POLLIN, 0});
      for (auto& [key, kn] : kq->knotes) {
        if (fd_knote_waitable(kn.get())) {
          pfds.push_back(pollfd{static_cast<int>(kn->ident), fd_poll_events(kn.get()), 0});
        }
      }
      int ms = -1;
      if (!forever) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
        ms = left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : static_cast<int>(left);
      }
      lock.unlock();
      (void)::poll(pfds.data(), pfds.size(), ms);  // EINTR: just rescan
      lock.lock();
      std::uint64_t value = 0;
      (void)!::read(waiter.fd, &value, sizeof value);
    } else if (forever) {
      kq->cv.wait(lock, [&] { return kq->closed || kq->deliverable_count > 0 || kq->nfd > 0; });
    } else if (!kq->cv.wait_until(lock, deadline, [&] {
                 return kq->closed || kq->deliverable_count > 0 || kq->nfd > 0;
               })) {
      return 0;
    }
    if (kq->closed) return fail(EBADF);
    if (!same_file(kq.get())) {  // closed behind our back while we waited
      destroy_kqueue_locked(kq);
      return fail(EBADF);
    }
    kq->verified = true;
  }
}

kev_t from_kevent(const struct kevent& k) {
  kev_t kev;
  kev.ident = k.ident;
  kev.filter = k.filter;
  kev.flags = k.flags;
  kev.fflags = k.fflags;
  kev.data = k.data;
  kev.udata = reinterpret_cast<std::uintptr_t>(k.udata);
  return kev;  // kevent() has no ext: ext[0] = ext[1] = 0
}

struct kevent to_kevent(const kev_t& ev) {
  struct kevent k {};
  k.ident = static_cast<std::uintptr_t>(ev.ident);
  k.filter = ev.filter;
  k.flags = ev.flags;
  k.fflags = ev.fflags;
  k.data = static_cast<std::intptr_t>(ev.data);
  k.udata = reinterpret_cast<void*>(static_cast<std::uintptr_t>(ev.udata));
  return k;
}

kev_t from_kevent64(const struct kevent64_s& k) {
  kev_t kev;
  kev.ident = k.ident;
  kev.filter = k.filter;
  kev.flags = k.flags;
  kev.fflags = k.fflags;
  kev.data = k.data;
  kev.udata = k.udata;
  kev.ext[0] = k.ext[0];
  kev.ext[1] = k.ext[1];
  return kev;
}

struct kevent64_s to_kevent64(const kev_t& ev) {
  struct kevent64_s k {};
  k.ident = ev.ident;
  k.filter = ev.filter;
  k.flags = ev.flags;
  k.fflags = ev.fflags;
  k.data = ev.data;
  k.udata = ev.udata;
  k.ext[0] = ev.ext[0];
  k.ext[1] = ev.ext[1];
  return k;
}

// `fd` is being closed (or replaced): its fd knotes go away silently (knote_fdclose) and
// waiters polling it rebuild their descriptor sets.
void fd_closed_locked(int fd) {
  auto it = fd_index().find(fd);
  if (it == fd_index().end()) return;
  std::vector<knote*> doomed = it->second;
  for (knote* kn : doomed) {
    kqueue_state* kq = kn->kq;
    drop_knote(kn);
    wake_pollers(kq);
  }
}

// Releases every kqueue whose descriptor number is in [first, last].
void release_range_locked(unsigned first, unsigned last) {
  std::vector<int> watched;
  for (auto& [fd, kns] : fd_index()) {
    if (static_cast<unsigned>(fd) >= first && static_cast<unsigned>(fd) <= last) {
      watched.push_back(fd);
    }
  }
  for (int fd : watched) fd_closed_locked(fd);
  std::vector<std::shared_ptr<kqueue_state>> doomed;
  for (auto& [fd, kq] : table()) {
    if (static_cast<unsigned>(fd) >= first && static_cast<unsigned>(fd) <= last) {
      doomed.push_back(kq);
    }
  }
  for (auto& kq : doomed) destroy_kqueue_locked(kq);
}

}  // namespace

// ---- hooks called by the IPC core (kernel_mutex() held) ---------------------------------

namespace machport_emu::detail {

void knote_queue_changed_locked(knote* kn, bool posted_to_empty) {
  if (posted_to_empty) kn->active = true;
  update(kn);
}

bool kqueues_exist() { return g_live.load(std::memory_order_relaxed) != 0; }

int* kqueue_status_flags_locked(int fd) {
  std::shared_ptr<kqueue_state> kq = lookup_locked(fd);
  return kq ? &kq->status_flags : nullptr;  // the table keeps kq alive
}

void knote_vanished_locked(knote* kn) {
  // The core unlinks kn from the object right after this; never touch obj again.
  kn->obj = nullptr;
  if (kn->req_vanish) {
    kn->vanished = true;
  } else {
    kn->flags |= EV_EOF | EV_ONESHOT;  // legacy: one last EOF event, then the knote goes
  }
  kn->active = true;
  update(kn);
}

}  // namespace machport_emu::detail

bool machport_emu::wait_until_kevent_blocked(int fd, std::size_t count) {
  std::unique_lock<std::mutex> lock(kernel_mutex());
  std::shared_ptr<kqueue_state> kq = lookup_locked(fd);
  if (!kq) return false;
  blocked_changed().wait(lock, [&] { return kq->blocked >= count; });
  return true;
}

// ---- the C API ---------------------------------------------------------------------------

extern "C" int kqueue(void) {
  const kernel_entry k(kcall::kqueue);
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return -1;
  auto kq = std::make_shared<kqueue_state>();
  kq->fd = fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    raw_close(fd);
    return fail(err);
  }
  kq->fd_dev = st.st_dev;
  kq->fd_ino = st.st_ino;
  auto it = table().find(fd);
  if (it != table().end()) {
    // The number was closed without going through close(): that kqueue is long gone.
    std::shared_ptr<kqueue_state> stale = it->second;
    destroy_kqueue_locked(stale);
  }
  table()[fd] = kq;
  g_live.fetch_add(1, std::memory_order_relaxed);
  return fd;
}

extern "C" int kevent(int kq, const struct kevent* changelist, int nchanges,
                      struct kevent* eventlist, int nevents, const struct timespec* timeout) {
  kernel_entry k(kcall::kevent);
  return kevent_common(k, kq, changelist, nchanges, eventlist, nevents, 0, timeout, true,
                       from_kevent, to_kevent);
}

extern "C" int kevent64(int kq, const struct kevent64_s* changelist, int nchanges,
                        struct kevent64_s* eventlist, int nevents, unsigned int flags,
                        const struct timespec* timeout) {
  kernel_entry k(kcall::kevent);
  if (flags & kEventIdFlagUser) return fail(EINVAL);  // workloops: kevent_id only
  flags &= kEventFlagUser;
  if (flags & kEventFlagWorkq) return fail(ENOTSUP);  // the process workq kqueue: not emulated
  return kevent_common(k, kq, changelist, nchanges, eventlist, nevents, flags, timeout, false,
                       from_kevent64, to_kevent64);
}

// ---- close() family: closing a kqueue descriptor releases the kqueue ----------------------
// These replace the libc symbols for the whole program (this object file is always linked with
// kqueue()). Calls from inside libc (fclose, closefrom, posix_spawn file actions) are not
// seen; kevent() then notices the reused number through the eventfd's inode, see lookup_locked.

extern "C" int close(int fd) {
  if (g_live.load(std::memory_order_relaxed) != 0) {
    std::lock_guard<std::mutex> lock(kernel_mutex());
    auto it = table().find(fd);
    if (it != table().end()) {
      std::shared_ptr<kqueue_state> kq = it->second;
      destroy_kqueue_locked(kq);
    }
    fd_closed_locked(fd);
  }
  // The number is freed only after the table entry is gone, so kqueue() cannot race it.
  return raw_close(fd);
}

extern "C" int dup3(int oldfd, int newfd, int flags) noexcept {
  if (g_live.load(std::memory_order_relaxed) == 0 || oldfd == newfd) {
    return raw_dup3(oldfd, newfd, flags);
  }
  std::lock_guard<std::mutex> lock(kernel_mutex());
  int r = raw_dup3(oldfd, newfd, flags);
  if (r >= 0) {
    auto it = table().find(newfd);
    if (it != table().end()) {
      std::shared_ptr<kqueue_state> kq = it->second;
      destroy_kqueue_locked(kq);  // newfd now names oldfd's file
    }
    fd_closed_locked(newfd);
  }
  return r;
}

extern "C" int dup2(int oldfd, int newfd) noexcept {
  if (oldfd == newfd) {
    // dup2 to itself only validates the descriptor.
    return ::fcntl(oldfd, F_GETFD) < 0 ? -1 : newfd;
  }
  return dup3(oldfd, newfd, 0);
}

extern "C" int close_range(unsigned int first, unsigned int last, int flags) noexcept {
  if (g_live.load(std::memory_order_relaxed) == 0 || (flags & CLOSE_RANGE_CLOEXEC) != 0) {
    return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
  }
  std::lock_guard<std::mutex> lock(kernel_mutex());
  int r = static_cast<int>(::syscall(SYS_close_range, first, last, flags));
  if (r == 0) release_range_locked(first, last);
  return r;
}
