// Emulator-only kqueue behaviour: the kqueue is a real Linux descriptor that poll()/epoll see
// readable exactly while events are pending; what closing it does; the filters the emulator
// refuses; knotes registered from several tasks. (The macOS build skips emu_only_* files.)
#include "kqueue_support.hpp"

#include <support/leak_check.hpp>

#include <machport_emu/task.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace machport_test;
using namespace kq_test;

namespace {

// True when poll() reports the descriptor readable right now.
bool readable(int fd) {
  struct pollfd p {};
  p.fd = fd;
  p.events = POLLIN;
  int rc = ::poll(&p, 1, 0);
  BOOST_TEST_REQUIRE(rc >= 0);
  return rc == 1 && (p.revents & POLLIN) != 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kqueue_emu)

// Level knote: readable while a message is queued (kevent does not consume readability).
BOOST_FIXTURE_TEST_CASE(poll_readable_exactly_while_pending_level, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  BOOST_TEST(!readable(kq.get()));
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD)}) == 0);
  BOOST_TEST(!readable(kq.get()));
  send_to(port);
  BOOST_TEST(readable(kq.get()));
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(readable(kq.get()));  // still queued: still pending
  drain(port, 1);
  BOOST_TEST(!readable(kq.get()));
  send_to(port);
  BOOST_TEST(readable(kq.get()));
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DISABLE)}) == 0);
  BOOST_TEST(!readable(kq.get()));
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ENABLE)}) == 0);
  BOOST_TEST(readable(kq.get()));
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}) == 0);
  BOOST_TEST(!readable(kq.get()));
  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// EV_CLEAR / EV_DISPATCH / MACH_RCV_MSG: readability follows deliverability.
BOOST_FIXTURE_TEST_CASE(poll_readable_follows_clear_dispatch_and_receive, leak_check) {
  mach_port_name_t a = make_port_with_send();
  mach_port_name_t b = make_port_with_send();
  mach_port_name_t c = make_port_with_send();
  kq_fd kq;
  raw_msg<256> buf;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(a, EV_ADD | EV_CLEAR)}) == 0);
  send_to(a);
  BOOST_TEST(readable(kq.get()));
  struct kevent64_s ev[3] = {};
  BOOST_TEST(wait_events64(kq.get(), ev, 3, &poll_ts) == 1);
  BOOST_TEST(!readable(kq.get()));  // delivered; the queue is not empty but nothing is pending
  drain(a, 1);

  BOOST_TEST(apply64(kq.get(), {mp_kev64(b, EV_ADD | EV_DISPATCH)}) == 0);
  send_to(b);
  BOOST_TEST(readable(kq.get()));
  BOOST_TEST(wait_events64(kq.get(), ev, 3, &poll_ts) == 1);
  BOOST_TEST(!readable(kq.get()));
  BOOST_TEST(apply64(kq.get(), {mp_kev64(b, EV_ENABLE)}) == 0);
  BOOST_TEST(readable(kq.get()));
  drain(b, 1);
  BOOST_TEST(!readable(kq.get()));

  BOOST_TEST(apply64(kq.get(), {mp_kev64(c, EV_ADD, MACH_RCV_MSG,
                                         reinterpret_cast<std::uintptr_t>(buf.bytes),
                                         raw_msg<256>::size)}) == 0);
  send_to(c);
  send_to(c);
  BOOST_TEST(readable(kq.get()));
  BOOST_TEST(wait_events64(kq.get(), ev, 3, &poll_ts) == 1);
  BOOST_TEST(readable(kq.get()));  // one left
  BOOST_TEST(wait_events64(kq.get(), ev, 3, &poll_ts) == 1);
  BOOST_TEST(!readable(kq.get()));

  // Port death: the EOF event is pending until collected, except on a disabled knote.
  BOOST_TEST(apply64(kq.get(), {mp_kev64(b, EV_DISABLE)}) == 0);
  BOOST_TEST(mach_port_destruct(self(), b, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(!readable(kq.get()));
  BOOST_TEST(apply64(kq.get(), {mp_kev64(b, EV_ENABLE)}) == 0);
  BOOST_TEST(readable(kq.get()));
  BOOST_TEST(wait_events64(kq.get(), ev, 3, &poll_ts) == 1);
  BOOST_TEST(ev[0].ident == b);
  BOOST_TEST((ev[0].flags & EV_EOF) != 0);
  BOOST_TEST(!readable(kq.get()));
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(readable(kq.get()));
  BOOST_TEST(wait_events64(kq.get(), ev, 3, &poll_ts) == 1);
  BOOST_TEST((ev[0].flags & EV_EOF) != 0);
  BOOST_TEST(!readable(kq.get()));
  BOOST_TEST(mach_port_destruct(self(), c, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(readable(kq.get()));
  BOOST_TEST(wait_events64(kq.get(), ev, 3, &poll_ts) == 1);
  BOOST_TEST(!readable(kq.get()));
}

// An edge-triggered epoll watcher gets a fresh edge when kevent leaves events pending.
BOOST_FIXTURE_TEST_CASE(epoll_edge_after_partial_collect, leak_check) {
  mach_port_name_t a = make_port_with_send();
  mach_port_name_t b = make_port_with_send();
  kq_fd kq;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  BOOST_TEST_REQUIRE(ep >= 0);
  struct epoll_event want {};
  want.events = EPOLLIN | EPOLLET;
  BOOST_TEST_REQUIRE(::epoll_ctl(ep, EPOLL_CTL_ADD, kq.get(), &want) == 0);
  struct epoll_event got {};
  BOOST_TEST(::epoll_wait(ep, &got, 1, 0) == 0);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(a, EV_ADD | EV_CLEAR), mp_kev64(b, EV_ADD | EV_CLEAR)}) ==
             0);
  send_to(a);
  send_to(b);
  BOOST_TEST(::epoll_wait(ep, &got, 1, 0) == 1);
  BOOST_TEST(::epoll_wait(ep, &got, 1, 0) == 0);  // edge consumed
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);  // one of two
  BOOST_TEST(::epoll_wait(ep, &got, 1, 0) == 1);                // new edge: more pending
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(::epoll_wait(ep, &got, 1, 0) == 0);  // nothing pending: no edge
  BOOST_TEST(!readable(kq.get()));
  ::close(ep);
  drain(a, 1);
  drain(b, 1);
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), b, -1, 0) == KERN_SUCCESS);
}

// Filters the emulator does not implement are refused honestly.
BOOST_FIXTURE_TEST_CASE(unsupported_filters, leak_check) {
  kq_fd kq, other;
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  int e = 0;
  struct kevent k {};
  EV_SET(&k, 1, EVFILT_TIMER, EV_ADD, 0, 1000, nullptr);
  BOOST_TEST(apply(kq.get(), {k}, &e) == -1);
  BOOST_TEST(e == ENOTSUP);
  // EVFILT_USER and EVFILT_READ / EVFILT_WRITE on ordinary descriptors are emulated.
  EV_SET(&k, 1, EVFILT_USER, EV_ADD, 0, 0, nullptr);
  BOOST_TEST(apply(kq.get(), {k}, &e) == 0);
  EV_SET(&k, fds[0], EVFILT_READ, EV_ADD, 0, 0, nullptr);
  BOOST_TEST(apply(kq.get(), {k}, &e) == 0);
  EV_SET(&k, fds[1], EVFILT_WRITE, EV_ADD, 0, 0, nullptr);
  BOOST_TEST(apply(kq.get(), {k}, &e) == 0);
  EV_SET(&k, other.get(), EVFILT_WRITE, EV_ADD, 0, 0, nullptr);  // kqueues are read-only
  BOOST_TEST(apply(kq.get(), {k}, &e) == -1);
  BOOST_TEST(e == EINVAL);
  EV_SET(&k, kq.get(), EVFILT_READ, EV_ADD, 0, 0, nullptr);  // itself
  BOOST_TEST(apply(kq.get(), {k}, &e) == -1);
  BOOST_TEST(e == EINVAL);
  ::close(fds[0]);
  ::close(fds[1]);
  EV_SET(&k, fds[0], EVFILT_READ, EV_ADD, 0, 0, nullptr);  // closed descriptor
  BOOST_TEST(apply(kq.get(), {k}, &e) == -1);
  BOOST_TEST(e == EBADF);
  EV_SET(&k, fds[0], EVFILT_READ, EV_DELETE, 0, 0, nullptr);
  BOOST_TEST(apply(kq.get(), {k}, &e) == -1);
  BOOST_TEST(e == ENOENT);
  errno = 0;
  BOOST_TEST(kevent64(kq.get(), nullptr, 0, nullptr, 0, 0x400 /* KEVENT_FLAG_WORKLOOP */,
                      nullptr) == -1);
  BOOST_TEST(errno == EINVAL);
}

// A nested kqueue: readable parent while the child has events; closing the child drops the
// parent's knote silently; cycles are refused.
BOOST_FIXTURE_TEST_CASE(nested_kqueue_follows_child, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd parent;
  int child = kqueue();
  BOOST_TEST_REQUIRE(child >= 0);
  BOOST_TEST(apply64(child, {mp_kev64(port, EV_ADD)}) == 0);
  struct kevent64_s rd {};
  EV_SET64(&rd, static_cast<std::uint64_t>(child), EVFILT_READ, EV_ADD, 0, 0, 5, 0, 0);
  BOOST_TEST(apply64(parent.get(), {rd}) == 0);
  struct kevent64_s back {};  // child watching parent: a cycle
  EV_SET64(&back, static_cast<std::uint64_t>(parent.get()), EVFILT_READ, EV_ADD, 0, 0, 0, 0, 0);
  int e = 0;
  BOOST_TEST(apply64(child, {back}, &e) == -1);
  BOOST_TEST(e == EINVAL);

  BOOST_TEST(!readable(parent.get()));
  send_to(port);
  BOOST_TEST(readable(parent.get()));
  struct kevent64_s ev {};
  BOOST_TEST_REQUIRE(wait_events64(parent.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.ident == static_cast<std::uint64_t>(child));
  BOOST_TEST(ev.data == 1);
  BOOST_TEST(ev.udata == 5u);
  drain(port, 1);
  BOOST_TEST(!readable(parent.get()));
  BOOST_TEST(wait_events64(parent.get(), &ev, 1, &poll_ts) == 0);

  send_to(port);
  BOOST_TEST(readable(parent.get()));
  BOOST_TEST(::close(child) == 0);  // knote_fdclose: the parent's knote is dropped
  BOOST_TEST(!readable(parent.get()));
  EV_SET64(&rd, static_cast<std::uint64_t>(child), EVFILT_READ, EV_DELETE, 0, 0, 0, 0, 0);
  BOOST_TEST(apply64(parent.get(), {rd}, &e) == -1);
  BOOST_TEST(e == ENOENT);
  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// close(), dup2() and close_range() release the kqueue; a new kqueue may reuse the number.
BOOST_FIXTURE_TEST_CASE(close_family_releases_kqueue, leak_check) {
  mach_port_name_t port = make_port_with_send();
  send_to(port);

  int kq = kqueue();
  BOOST_TEST_REQUIRE(kq >= 0);
  BOOST_TEST(apply64(kq, {mp_kev64(port, EV_ADD)}) == 0);
  BOOST_TEST(readable(kq));
  BOOST_TEST(::close(kq) == 0);
  int again = kqueue();  // lowest free number: very likely the same one
  BOOST_TEST_REQUIRE(again >= 0);
  BOOST_TEST(!readable(again));  // the old knote did not survive
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(again, &ev, 1, &poll_ts) == 0);

  // dup2 over a kqueue descriptor releases it.
  BOOST_TEST(apply64(again, {mp_kev64(port, EV_ADD)}) == 0);
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  BOOST_TEST(::dup2(fds[0], again) == again);
  errno = 0;
  BOOST_TEST(wait_events64(again, &ev, 1, &poll_ts) == -1);
  BOOST_TEST(errno == EBADF);
  ::close(again);

  // close_range over kqueue descriptors releases them.
  int k1 = kqueue();
  BOOST_TEST_REQUIRE(k1 >= 0);
  BOOST_TEST(apply64(k1, {mp_kev64(port, EV_ADD)}) == 0);
  BOOST_TEST(::close_range(static_cast<unsigned>(k1), static_cast<unsigned>(k1), 0) == 0);
  errno = 0;
  BOOST_TEST(wait_events64(k1, &ev, 1, &poll_ts) == -1);
  BOOST_TEST(errno == EBADF);

  // A number closed behind our back and reused by another file is not a kqueue any more.
  int k2 = kqueue();
  BOOST_TEST_REQUIRE(k2 >= 0);
  BOOST_TEST(apply64(k2, {mp_kev64(port, EV_ADD)}) == 0);
  BOOST_TEST(::syscall(SYS_close, k2) == 0);
  int reused = ::dup(fds[1]);
  BOOST_TEST_REQUIRE(reused >= 0);
  if (reused == k2) {
    errno = 0;
    BOOST_TEST(wait_events64(reused, &ev, 1, &poll_ts) == -1);
    BOOST_TEST(errno == EBADF);
  }
  ::close(reused);

  ::close(fds[0]);
  ::close(fds[1]);
  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// Knotes belong to the task that registered them; any thread may collect them, and receives
// land in the registering task's space. A terminated task's ports end in EV_EOF.
BOOST_FIXTURE_TEST_CASE(knotes_from_several_tasks, leak_check) {
  machport_emu::task_id other = machport_emu::task_create({.name = "kq-other"});
  kq_fd kq;
  mach_port_name_t mine = make_port_with_send();
  mach_port_name_t theirs = MACH_PORT_NULL;
  raw_msg<256> buf;
  {
    machport_emu::task_scope scope(other);
    theirs = make_port_with_send();
    BOOST_TEST(apply64(kq.get(), {mp_kev64(theirs, EV_ADD, MACH_RCV_MSG,
                                           reinterpret_cast<std::uintptr_t>(buf.bytes),
                                           raw_msg<256>::size, 1)}) == 0);
    send_to(theirs, 0x500);
  }
  BOOST_TEST(apply64(kq.get(), {mp_kev64(mine, EV_ADD, 0, 0, 0, 2)}) == 0);
  send_to(mine);
  if (theirs != mine) {
    // Deleting "theirs" from this task finds nothing: knotes are per registering task.
    int e = 0;
    BOOST_TEST(apply64(kq.get(), {mp_kev64(theirs, EV_DELETE)}, &e) == -1);
    BOOST_TEST(e == ENOENT);
  }

  struct kevent64_s ev[2] = {};
  int collected = 0;
  std::thread collector([&] {  // a plain thread in the initial task collects both
    collected = wait_events64(kq.get(), ev, 2, &guard_ts);
  });
  collector.join();
  BOOST_TEST_REQUIRE(collected == 2);
  for (const auto& x : ev) {
    if (x.udata == 1) {
      BOOST_TEST(x.fflags == static_cast<std::uint32_t>(MACH_MSG_SUCCESS));
      BOOST_TEST(buf.header()->msgh_id == 0x500);
      BOOST_TEST(buf.header()->msgh_local_port == theirs);  // a name in the other task
    } else {
      BOOST_TEST(x.udata == 2u);
      BOOST_TEST(x.data == static_cast<std::int64_t>(mine));
    }
  }
  drain(mine, 1);
  machport_emu::task_terminate(other);
  struct kevent64_s eof {};
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &eof, 1, &poll_ts) == 1);
  BOOST_TEST(eof.udata == 1u);
  BOOST_TEST((eof.flags & EV_EOF) != 0);
  BOOST_TEST(wait_events64(kq.get(), &eof, 1, &poll_ts) == 0);
  BOOST_TEST(mach_port_destruct(self(), mine, -1, 0) == KERN_SUCCESS);
}

// Many threads blocked on one kqueue: one message wakes them; each call reports at most one
// event per knote, and the receive knote hands each message to exactly one caller.
BOOST_FIXTURE_TEST_CASE(concurrent_collectors_share_messages, leak_check) {
  mach_port_name_t port = make_port_with_send(64);
  kq_fd kq;
  raw_msg<256> buf;  // only touched inside kevent, under the kernel lock
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD, MACH_RCV_MSG,
                                         reinterpret_cast<std::uintptr_t>(buf.bytes),
                                         raw_msg<256>::size)}) == 0);
  constexpr int threads = 4, per_thread = 8;
  std::atomic<int> received{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        struct kevent64_s ev {};
        int rc = wait_events64(kq.get(), &ev, 1, &guard_ts);
        if (rc == 1 && ev.fflags == static_cast<std::uint32_t>(MACH_MSG_SUCCESS)) ++received;
      }
    });
  }
  // The first message finds every collector blocked.
  BOOST_TEST_REQUIRE(machport_emu::wait_until_kevent_blocked(kq.get(), threads));
  for (int i = 0; i < threads * per_thread; ++i) send_to(port);
  for (auto& t : pool) t.join();
  BOOST_TEST(received.load() == threads * per_thread);
  BOOST_TEST(queue_empty(port));
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// The descriptor's readability follows EVFILT_USER triggers; fd knotes (pipes) are reported by
// kevent() itself only (documented limit: no thread watches them between calls). Closing a
// watched pipe through close() drops its knote.
BOOST_FIXTURE_TEST_CASE(descriptor_readability_user_and_fd_knotes, leak_check) {
  kq_fd kq;
  auto readable = [&] {
    pollfd p{kq.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
  };
  struct kevent k {};
  EV_SET(&k, 7, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  BOOST_TEST(!readable());
  EV_SET(&k, 7, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  BOOST_TEST(readable());
  struct kevent ev {};
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(!readable());

  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  EV_SET(&k, fds[0], EVFILT_READ, EV_ADD, 0, 0, nullptr);
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  BOOST_TEST_REQUIRE(::write(fds[1], "z", 1) == 1);
  BOOST_TEST(!readable());  // the limit: fd knotes do not drive the eventfd
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 1);
  ::close(fds[0]);  // drops the knote
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 0);
  EV_SET(&k, fds[0], EVFILT_READ, EV_DELETE, 0, 0, nullptr);
  int e = 0;
  BOOST_TEST(apply(kq.get(), {k}, &e) == -1);
  BOOST_TEST(e == ENOENT);
  ::close(fds[1]);
}

BOOST_AUTO_TEST_SUITE_END()
