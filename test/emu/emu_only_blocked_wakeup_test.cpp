// Threads blocked in the emulated kernel and woken by another thread: mach_msg senders on a
// full queue, receivers on an empty port or set (§2.9-§2.12, §4.5, §8), kevent waiters (§6).
// The acting thread first waits until the other one is blocked (machport_emu::wait_until_blocked,
// emulator only), so every run takes the blocked path; the tests keep the suite names of the
// files they came from (msg_receive_test, msg_send_test, kqueue_machport_test).
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include "kqueue_support.hpp"

#include <machport_emu/task.hpp>
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <cerrno>
#include <cstddef>
#include <thread>
#include <utility>

using namespace machport_test;
using namespace kq_test;

namespace {

// Returns once `count` threads are blocked in mach_msg on this task's `name`.
void await_blocked(mach_port_name_t name, machport_emu::blocked_in in, std::size_t count = 1) {
  BOOST_TEST_REQUIRE(
      machport_emu::wait_until_blocked(machport_emu::current_task(), name, in, count));
}

// Returns once a thread is blocked in kevent on `kq`.
void await_kevent_blocked(int kq) {
  BOOST_TEST_REQUIRE(machport_emu::wait_until_kevent_blocked(kq, 1));
}

// A thread that runs `act` once this thread is blocked in mach_msg on `name` (it makes no
// Boost.Test assertions: those belong to the main thread).
template <class Act>
std::thread when_blocked(mach_port_name_t name, machport_emu::blocked_in in, Act act) {
  return std::thread([task = machport_emu::current_task(), name, in, act = std::move(act)] {
    if (machport_emu::wait_until_blocked(task, name, in, 1)) act();
  });
}

// A thread that runs `act` once a thread is blocked in kevent on `kq`.
template <class Act>
std::thread when_kevent_blocked(int kq, Act act) {
  return std::thread([kq, act = std::move(act)] {
    if (machport_emu::wait_until_kevent_blocked(kq, 1)) act();
  });
}

// Closes `kq` once another thread is blocked in `wait(kq)` (a kevent call with no timeout) and
// returns the errno of that call, which must have failed.
template <class Wait>
int close_under_blocked_waiter(int kq, Wait wait) {
  int rc = 0, err = 0;
  std::thread waiter([&] {
    errno = 0;
    rc = wait(kq);
    err = errno;
  });
  await_kevent_blocked(kq);
  BOOST_TEST(::close(kq) == 0);
  waiter.join();
  BOOST_TEST(rc == -1);
  return err;
}

// Runs a receive on `name` (made by `setup`) in another thread, runs `action` on this thread
// once that receive is blocked, and returns the receive's result.
template <class Setup, class Action>
mach_msg_return_t receive_blocked_during(Setup setup, Action action) {
  const mach_port_name_t name = setup();
  mach_msg_return_t result = ~0;
  std::thread receiver([&] {
    raw_msg<> m;
    result = mach_msg(m.header(), MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, m.size, name, guard_ms,
                      MACH_PORT_NULL);
    if (result == MACH_MSG_SUCCESS) mach_msg_destroy(m.header());
  });
  await_blocked(name, machport_emu::blocked_in::receive);
  action(name);
  receiver.join();
  return result;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(msg_receive)

// §8: a blocked receive whose port is destructed from another thread → MACH_RCV_PORT_CHANGED.
BOOST_FIXTURE_TEST_CASE(blocked_receive_port_destructed, leak_check) {
  mach_msg_return_t mr = receive_blocked_during(
      [] { return make_receive(); },
      [](mach_port_name_t p) {
        BOOST_TEST(mach_port_destruct(self(), p, 0, 0) == KERN_SUCCESS);
      });
  BOOST_TEST(mr == MACH_RCV_PORT_CHANGED);
}

// §2.12: a blocked receive on a set that is destroyed → MACH_RCV_PORT_CHANGED.
BOOST_FIXTURE_TEST_CASE(blocked_receive_set_destroyed, leak_check) {
  mach_msg_return_t mr = receive_blocked_during(
      [] { return make_pset(); },
      [](mach_port_name_t s) {
        BOOST_TEST(mach_port_mod_refs(self(), s, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
      });
  BOOST_TEST(mr == MACH_RCV_PORT_CHANGED);
}

// §2.10: a blocked receive whose receive right moves away → MACH_RCV_PORT_CHANGED.
BOOST_FIXTURE_TEST_CASE(blocked_receive_right_moved, leak_check) {
  mach_msg_return_t mr = receive_blocked_during(
      [] { return make_receive(); },
      [](mach_port_name_t p) {
        mach_port_name_t carrier = make_port_with_send();
        struct {
          mach_msg_header_t h;
          mach_msg_body_t body;
          mach_msg_port_descriptor_t d;
        } msg{};
        msg.h.msgh_bits =
            MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, MACH_MSGH_BITS_COMPLEX);
        msg.h.msgh_remote_port = carrier;
        msg.body.msgh_descriptor_count = 1;
        msg.d.type = MACH_MSG_PORT_DESCRIPTOR;
        msg.d.disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
        msg.d.name = p;
        BOOST_TEST(mach_msg(&msg.h, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL, 0,
                            MACH_PORT_NULL) == MACH_MSG_SUCCESS);
        BOOST_TEST(!name_exists(p));
        // Destroying the carrier destroys the message and the port it carries.
        BOOST_TEST(mach_port_destruct(self(), carrier, -1, 0) == KERN_SUCCESS);
      });
  BOOST_TEST(mr == MACH_RCV_PORT_CHANGED);
}

// A blocked receive is woken by a send from another thread (sent once it blocked).
BOOST_FIXTURE_TEST_CASE(blocked_receive_woken_by_send, leak_check) {
  mach_port_name_t p = make_port_with_send();
  mach_msg_return_t sent = ~0;
  std::thread sender = when_blocked(p, machport_emu::blocked_in::receive, [&] {
    sent = send_header(p, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 5);
  });
  raw_msg<> m;
  BOOST_TEST(receive(p, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 5);
  sender.join();
  BOOST_TEST(sent == MACH_MSG_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(msg_send)

// A sender blocked on a full queue is woken by a receive on another thread (§4.5).
BOOST_FIXTURE_TEST_CASE(blocked_sender_woken_by_receive, leak_check) {
  mach_port_name_t p = make_port_with_send(1);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 1) == MACH_MSG_SUCCESS);
  mach_msg_return_t sent = ~0;
  std::thread sender([&] {
    sent = send_header(p, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 2, MACH_SEND_TIMEOUT,
                       guard_ms);
  });
  await_blocked(p, machport_emu::blocked_in::send);
  raw_msg<> r;
  BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
  BOOST_TEST(r.header()->msgh_id == 1);
  BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
  BOOST_TEST(r.header()->msgh_id == 2);
  sender.join();
  BOOST_TEST(sent == MACH_MSG_SUCCESS);
  destroy_port(p);
}

// Raising the qlimit wakes blocked senders (§2.11).
BOOST_FIXTURE_TEST_CASE(raising_qlimit_wakes_sender, leak_check) {
  mach_port_name_t p = make_port_with_send(1);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND) == MACH_MSG_SUCCESS);
  mach_msg_return_t sent = ~0;
  std::thread sender([&] {
    sent = send_header(p, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 2, MACH_SEND_TIMEOUT,
                       guard_ms);
  });
  await_blocked(p, machport_emu::blocked_in::send);
  mach_port_limits_t lim{};
  lim.mpl_qlimit = 2;
  BOOST_TEST(mach_port_set_attributes(self(), p, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&lim), 1) ==
             KERN_SUCCESS);
  sender.join();
  BOOST_TEST(sent == MACH_MSG_SUCCESS);
  BOOST_TEST(status_of(p).mps_msgcount == 2u);
  destroy_port(p);
}

// §2.9-5: a sender blocked on a full queue whose port dies returns MACH_MSG_SUCCESS and its
// message is destroyed.
BOOST_FIXTURE_TEST_CASE(blocked_sender_woken_by_port_death, leak_check) {
  mach_port_name_t p = make_port_with_send(1);
  mach_port_name_t reply = make_receive();
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND) == MACH_MSG_SUCCESS);
  mach_msg_return_t sent = ~0;
  std::thread sender([&] {
    sent = send_header(p, MACH_MSG_TYPE_COPY_SEND, reply, MACH_MSG_TYPE_MAKE_SEND_ONCE, 0,
                       MACH_SEND_TIMEOUT, guard_ms);
  });
  await_blocked(p, machport_emu::blocked_in::send);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS);
  sender.join();
  BOOST_TEST(sent == MACH_MSG_SUCCESS);
  // The destroyed message's send-once reply right notified the reply port.
  raw_msg<> n;
  BOOST_TEST_REQUIRE(receive(reply, n) == MACH_MSG_SUCCESS);
  BOOST_TEST(n.header()->msgh_id == MACH_NOTIFY_SEND_ONCE);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);
  destroy_port(reply);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(kqueue_machport)

// tests/kqueue_port_tests.c kqueue_machport; the other thread acts once this one is blocked in
// kevent (where the XNU test sleeps).
BOOST_FIXTURE_TEST_CASE(xnu_kqueue_machport, leak_check) {
  mach_port_name_t mp = make_port_with_send();
  mach_port_name_t pset = make_pset();
  BOOST_TEST_REQUIRE(mach_port_move_member(self(), mp, pset) == KERN_SUCCESS);
  kq_fd kq;
  struct kevent ke[2];

  // Fired when attached.
  send_to(mp);
  BOOST_TEST(apply(kq.get(), {mp_kev(mp, EV_ADD), mp_kev(pset, EV_ADD)}) == 0);
  BOOST_TEST_REQUIRE(wait_events(kq.get(), ke, 2, &guard_ts) == 2);
  for (const auto& e : ke) {
    BOOST_TEST(e.filter == EVFILT_MACHPORT);
    BOOST_TEST(e.data == static_cast<intptr_t>(mp));  // the member holding the message
    BOOST_TEST((e.flags & (EV_ERROR | EV_EOF)) == 0);
  }
  BOOST_TEST(((ke[0].ident == mp && ke[1].ident == pset) ||
              (ke[0].ident == pset && ke[1].ident == mp)));
  drain(mp, 1);
  BOOST_TEST(wait_events(kq.get(), ke, 2, &poll_ts) == 0);

  // Fired after being attached, before the wait.
  send_to(mp);
  BOOST_TEST(wait_events(kq.get(), ke, 2, &guard_ts) == 2);
  drain(mp, 1);
  BOOST_TEST(wait_events(kq.get(), ke, 2, &poll_ts) == 0);

  // Fired by another thread while this one waits.
  {
    mach_msg_return_t sent = ~0;
    std::thread sender = when_kevent_blocked(kq.get(), [&] { sent = send_raw(mp); });
    BOOST_TEST(wait_events(kq.get(), ke, 2, &guard_ts) == 2);
    sender.join();
    BOOST_TEST(sent == MACH_MSG_SUCCESS);
  }
  drain(mp, 1);
  BOOST_TEST(wait_events(kq.get(), ke, 2, &poll_ts) == 0);

  // Destroying the port wakes the waiter: exactly one event (the set's knote stays quiet).
  {
    kern_return_t kr = KERN_FAILURE;
    std::thread killer =
        when_kevent_blocked(kq.get(), [&] { kr = mach_port_destruct(self(), mp, -1, 0); });
    int n = wait_events(kq.get(), ke, 2, &guard_ts);
    killer.join();
    BOOST_TEST(kr == KERN_SUCCESS);
    BOOST_TEST_REQUIRE(n == 1);
    BOOST_TEST(ke[0].ident == static_cast<uintptr_t>(mp));
    BOOST_TEST((ke[0].flags & (EV_EOF | EV_ONESHOT)) == (EV_EOF | EV_ONESHOT));
    BOOST_TEST(ke[0].data == 0);
  }
  {
    kern_return_t kr = KERN_FAILURE;
    std::thread killer = when_kevent_blocked(kq.get(), [&] {
      kr = mach_port_mod_refs(self(), pset, MACH_PORT_RIGHT_PORT_SET, -1);
    });
    int n = wait_events(kq.get(), ke, 2, &guard_ts);
    killer.join();
    BOOST_TEST(kr == KERN_SUCCESS);
    BOOST_TEST_REQUIRE(n == 1);
    BOOST_TEST(ke[0].ident == static_cast<uintptr_t>(pset));
    BOOST_TEST((ke[0].flags & EV_EOF) != 0);
  }
  // Both knotes were one-shot: nothing is left.
  BOOST_TEST(wait_events(kq.get(), ke, 2, &poll_ts) == 0);
}

// tests/kqueue_close.c kqueue_filter_close: closing the kqueue wakes a waiter with EBADF.
BOOST_FIXTURE_TEST_CASE(filter_close_wakes_waiter_with_ebadf, leak_check) {
  mach_port_name_t port = make_receive();
  mach_port_name_t pset = make_pset();
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  int kq = kqueue();
  BOOST_TEST_REQUIRE(kq >= 0);

  struct kevent ch[3];
  EV_SET(&ch[0], port, EVFILT_MACHPORT, EV_ADD | EV_RECEIPT, 0, 0, nullptr);
  EV_SET(&ch[1], pset, EVFILT_MACHPORT, EV_ADD | EV_RECEIPT, 0, 0, nullptr);
  EV_SET(&ch[2], fds[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, nullptr);
  struct kevent out[3];
  BOOST_TEST_REQUIRE(kevent(kq, ch, 3, out, 3, nullptr) == 3);
  BOOST_TEST(out[0].data == 0);
  BOOST_TEST(out[1].data == 0);
  BOOST_TEST(out[2].data == 0);  // a pipe knote is accepted (as on macOS)

  BOOST_TEST(close_under_blocked_waiter(kq, [](int q) {
               struct kevent ev;
               return kevent(q, nullptr, 0, &ev, 1, nullptr);  // blocks until the close
             }) == EBADF);

  ::close(fds[0]);
  ::close(fds[1]);
  destroy_port(port);
  BOOST_TEST(mach_port_mod_refs(self(), pset, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
}

// tests/kqueue_close.c kqueue_filter_close exactly: port, set and pipe knotes in ONE kevent64
// call without EV_RECEIPT must succeed; then close(kq) under a blocked waiter wakes it with
// EBADF (the XNU test also accepts a waiter that calls kevent only after the close).
BOOST_FIXTURE_TEST_CASE(xnu_kqueue_filter_close_pipe, leak_check) {
  mach_port_name_t port = make_receive();
  mach_port_name_t pset = make_pset();
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  int kq = kqueue();
  BOOST_TEST_REQUIRE(kq >= 0);
  struct kevent64_s ch[3];
  EV_SET64(&ch[0], port, EVFILT_MACHPORT, EV_ADD, 0, 0, 0, 0, 0);
  EV_SET64(&ch[1], pset, EVFILT_MACHPORT, EV_ADD, 0, 0, 0, 0, 0);
  EV_SET64(&ch[2], static_cast<std::uint64_t>(fds[0]), EVFILT_READ, EV_ADD, 0, 0, 0, 0, 0);
  BOOST_TEST_REQUIRE(kevent64(kq, ch, 3, nullptr, 0, 0, nullptr) == 0);

  BOOST_TEST(close_under_blocked_waiter(kq, [](int q) {
               struct kevent64_s ev;
               return kevent64(q, nullptr, 0, &ev, 1, 0, nullptr);  // only the close ends it
             }) == EBADF);

  ::close(fds[0]);
  ::close(fds[1]);
  destroy_port(port);
  BOOST_TEST(mach_port_mod_refs(self(), pset, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
}

// EVFILT_READ on a pipe: level-triggered readiness with the byte count, EV_EOF once the writer
// is gone, and a blocked kevent woken by a write from another thread.
BOOST_FIXTURE_TEST_CASE(pipe_read_readiness, leak_check) {
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  kq_fd kq;
  struct kevent k {};
  EV_SET(&k, fds[0], EVFILT_READ, EV_ADD, 0, 0, reinterpret_cast<void*>(0x77));
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  struct kevent ev {};
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 0);

  BOOST_TEST_REQUIRE(::write(fds[1], "hello", 5) == 5);
  BOOST_TEST_REQUIRE(wait_events(kq.get(), &ev, 1, &guard_ts) == 1);
  BOOST_TEST(ev.ident == static_cast<std::uintptr_t>(fds[0]));
  BOOST_TEST(ev.filter == EVFILT_READ);
  BOOST_TEST(ev.data == 5);
  BOOST_TEST(ev.udata == reinterpret_cast<void*>(0x77));
  BOOST_TEST((ev.flags & EV_EOF) == 0);
  // Level-triggered: still readable until drained.
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 1);
  char buf[8];
  BOOST_TEST(::read(fds[0], buf, sizeof buf) == 5);
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 0);

  // A writer thread wakes a kevent blocked with no timeout.
  ssize_t wrote = 0;
  std::thread writer = when_kevent_blocked(kq.get(), [&] { wrote = ::write(fds[1], "x", 1); });
  int n = wait_events(kq.get(), &ev, 1, nullptr);
  writer.join();
  BOOST_TEST(wrote == 1);
  BOOST_TEST_REQUIRE(n == 1);
  BOOST_TEST(ev.data == 1);
  BOOST_TEST(::read(fds[0], buf, 1) == 1);

  // EV_DISPATCH (a fresh knote: a touch keeps the registered flags): reported once, then
  // disabled until EV_ENABLE.
  EV_SET(&k, fds[0], EVFILT_READ, EV_DELETE, 0, 0, nullptr);
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  EV_SET(&k, fds[0], EVFILT_READ, EV_ADD | EV_DISPATCH, 0, 0, nullptr);
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  BOOST_TEST_REQUIRE(::write(fds[1], "ab", 2) == 2);
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 0);
  EV_SET(&k, fds[0], EVFILT_READ, EV_ENABLE, 0, 0, nullptr);
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.data == 2);
  BOOST_TEST(::read(fds[0], buf, 2) == 2);

  // The writer closes: EV_EOF with no data left.
  EV_SET(&k, fds[0], EVFILT_READ, EV_ENABLE, 0, 0, nullptr);
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  ::close(fds[1]);
  BOOST_TEST_REQUIRE(wait_events(kq.get(), &ev, 1, &guard_ts) == 1);
  BOOST_TEST((ev.flags & EV_EOF) != 0);
  BOOST_TEST(ev.data == 0);
  EV_SET(&k, fds[0], EVFILT_READ, EV_DELETE, 0, 0, nullptr);
  BOOST_TEST(apply(kq.get(), {k}) == 0);

  // EVFILT_WRITE on an empty pipe with a live reader is ready at once.
  int fds2[2];
  BOOST_TEST_REQUIRE(::pipe(fds2) == 0);
  EV_SET(&k, fds2[1], EVFILT_WRITE, EV_ADD | EV_ONESHOT, 0, 0, nullptr);
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  BOOST_TEST_REQUIRE(wait_events(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.filter == EVFILT_WRITE);
  BOOST_TEST(ev.ident == static_cast<std::uintptr_t>(fds2[1]));
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 0);  // ONESHOT write knote is gone
  ::close(fds[0]);
  ::close(fds2[0]);
  ::close(fds2[1]);
}

// EVFILT_USER: NOTE_TRIGGER from another thread wakes a blocked kevent; fflags control
// (FFOR / FFAND / FFCOPY); EV_CLEAR resets the trigger on delivery.
BOOST_FIXTURE_TEST_CASE(user_trigger_from_thread, leak_check) {
  kq_fd kq;
  struct kevent k {};
  EV_SET(&k, 42, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_FFNOP, 0, reinterpret_cast<void*>(0x5));
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  struct kevent ev {};
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 0);

  int trc = -1;
  std::thread trigger = when_kevent_blocked(kq.get(), [&] {
    struct kevent t {};
    EV_SET(&t, 42, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFOR | 0x3, 0, nullptr);
    trc = kevent(kq.get(), &t, 1, nullptr, 0, nullptr);
  });
  int n = wait_events(kq.get(), &ev, 1, nullptr);
  trigger.join();
  BOOST_TEST(trc == 0);
  BOOST_TEST_REQUIRE(n == 1);
  BOOST_TEST(ev.ident == 42u);
  BOOST_TEST(ev.filter == EVFILT_USER);
  BOOST_TEST((ev.fflags & NOTE_FFLAGSMASK) == 0x3u);
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 0);  // EV_CLEAR: reset

  EV_SET(&k, 42, EVFILT_USER, 0, NOTE_FFAND | 0x2, 0, nullptr);  // no trigger: nothing fires
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 0);
  EV_SET(&k, 42, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  BOOST_TEST_REQUIRE(wait_events(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST((ev.fflags & NOTE_FFLAGSMASK) == 0x2u);
  EV_SET(&k, 42, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFCOPY | 0x10, 0, nullptr);
  BOOST_TEST_REQUIRE(apply(kq.get(), {k}) == 0);
  BOOST_TEST_REQUIRE(wait_events(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST((ev.fflags & NOTE_FFLAGSMASK) == 0x10u);

  EV_SET(&k, 42, EVFILT_USER, EV_DELETE, 0, 0, nullptr);
  BOOST_TEST(apply(kq.get(), {k}) == 0);
  EV_SET(&k, 42, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
  int e = 0;
  BOOST_TEST(apply(kq.get(), {k}, &e) == -1);
  BOOST_TEST(e == ENOENT);
}

// Timeouts: zero polls, NULL blocks until another thread sends; invalid -> EINVAL.
BOOST_FIXTURE_TEST_CASE(timeouts, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD)}) == 0);
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  BOOST_TEST(kevent64(kq.get(), nullptr, 0, &ev, 1, KEVENT_FLAG_IMMEDIATE, nullptr) == 0);
  struct timespec bad = {0, 2000000000L};
  errno = 0;
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &bad) == -1);
  BOOST_TEST(errno == EINVAL);
  mach_msg_return_t sent = ~0;
  std::thread sender = when_kevent_blocked(kq.get(), [&] { sent = send_raw(port); });
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, nullptr) == 1);  // NULL: block
  sender.join();
  BOOST_TEST(sent == MACH_MSG_SUCCESS);
  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_SUITE_END()
