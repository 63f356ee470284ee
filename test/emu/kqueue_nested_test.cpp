// Nested kqueues (§6 "A kqueue inside another kqueue"): EVFILT_READ on a kqueue descriptor
// registered in another (outer) kqueue, as Asio's kqueue reactor registers a service's kqueue.
// bsd/kern/kern_event.c: readiness is "the inner queue holds a knote" (filt_kqueue); attaching
// reports the current state (kqueue_kqfilter); the outer knote is posted only when a knote is
// queued into the empty inner queue (knote_enqueue -> kqfile_wakeup); a touch re-evaluates
// (filt_kqtouch). POSIX + Mach API only, so it also runs on macOS.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include "kqueue_support.hpp"

#include <support/leak_check.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

using namespace machport_test;
using namespace kq_test;

namespace {

struct kevent64_s kq_read(int inner, std::uint16_t flags) {
  struct kevent64_s k {};
  EV_SET64(&k, static_cast<std::uint64_t>(inner), EVFILT_READ, flags, 0, 0, 0, 0, 0);
  return k;
}

// How many events the outer kqueue reports now (at most one: it watches one inner kqueue).
int outer_fires(int outer) {
  struct kevent64_s ev[2] = {};
  int n = wait_events64(outer, ev, 2, &poll_ts);
  BOOST_TEST(n >= 0);
  BOOST_TEST(n <= 1);
  return n;
}

// One inner kevent call collecting up to `max` events; returns how many.
int collect(int inner, int max) {
  std::vector<struct kevent64_s> ev(static_cast<std::size_t>(max));
  return wait_events64(inner, ev.data(), max, &poll_ts);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kqueue_nested)

// Attaching reports the current state: an inner kqueue with a pending event fires at once
// (data = the inner queue's count), an idle one does not.
BOOST_FIXTURE_TEST_CASE(attach_reports_current_state, leak_check) {
  mach_port_name_t a = make_port_with_send();
  mach_port_name_t b = make_port_with_send();
  kq_fd inner, outer, idle;
  BOOST_TEST(apply64(inner.get(), {mp_kev64(a, EV_ADD | EV_CLEAR), mp_kev64(b, EV_ADD | EV_CLEAR)}) ==
             0);
  send_to(a);
  send_to(b);
  BOOST_TEST(apply64(outer.get(), {kq_read(inner.get(), EV_ADD | EV_CLEAR),
                                   kq_read(idle.get(), EV_ADD | EV_CLEAR)}) == 0);
  struct kevent64_s ev[2] = {};
  BOOST_TEST_REQUIRE(wait_events64(outer.get(), ev, 2, &poll_ts) == 1);
  BOOST_TEST(ev[0].ident == static_cast<std::uint64_t>(inner.get()));
  BOOST_TEST(ev[0].filter == EVFILT_READ);
  BOOST_TEST(ev[0].data == 2);
  BOOST_TEST(outer_fires(outer.get()) == 0);  // EV_CLEAR: reported once
  drain(a, 1);
  drain(b, 1);
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), b, -1, 0) == KERN_SUCCESS);
}

// (a) With EV_CLEAR the outer knote fires on each empty -> non-empty transition of the inner
// queue, and not on further activations while the queue is not empty.
BOOST_FIXTURE_TEST_CASE(clear_fires_on_empty_to_non_empty_only, leak_check) {
  mach_port_name_t a = make_port_with_send();
  mach_port_name_t b = make_port_with_send();
  kq_fd inner, outer;
  BOOST_TEST(apply64(inner.get(), {mp_kev64(a, EV_ADD | EV_CLEAR), mp_kev64(b, EV_ADD | EV_CLEAR)}) ==
             0);
  BOOST_TEST(apply64(outer.get(), {kq_read(inner.get(), EV_ADD | EV_CLEAR)}) == 0);
  BOOST_TEST(outer_fires(outer.get()) == 0);
  send_to(a);  // empty -> non-empty
  BOOST_TEST(outer_fires(outer.get()) == 1);
  send_to(b);  // b's knote joins a non-empty queue: no wakeup
  BOOST_TEST(outer_fires(outer.get()) == 0);
  BOOST_TEST(collect(inner.get(), 4) == 2);  // empties the inner queue (EV_CLEAR: not re-queued)
  BOOST_TEST(outer_fires(outer.get()) == 0);
  drain(a, 1);
  drain(b, 1);
  send_to(b);  // empty -> non-empty again
  BOOST_TEST(outer_fires(outer.get()) == 1);
  BOOST_TEST(collect(inner.get(), 4) == 1);
  drain(b, 1);
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), b, -1, 0) == KERN_SUCCESS);
}

// Without EV_CLEAR the outer knote reports at every outer kevent while the inner queue is not
// empty.
BOOST_FIXTURE_TEST_CASE(level_outer_reports_while_non_empty, leak_check) {
  mach_port_name_t a = make_port_with_send();
  kq_fd inner, outer;
  BOOST_TEST(apply64(inner.get(), {mp_kev64(a, EV_ADD | EV_CLEAR)}) == 0);
  BOOST_TEST(apply64(outer.get(), {kq_read(inner.get(), EV_ADD)}) == 0);
  send_to(a);
  BOOST_TEST(outer_fires(outer.get()) == 1);
  BOOST_TEST(outer_fires(outer.get()) == 1);
  BOOST_TEST(collect(inner.get(), 4) == 1);
  BOOST_TEST(outer_fires(outer.get()) == 0);
  drain(a, 1);
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
}

// (b) Every EV_ADD re-registration fires again while the inner queue is not empty (filt_kqtouch),
// and not while it is empty. Asio's kqueue reactor re-registers at each async_wait.
BOOST_FIXTURE_TEST_CASE(clear_fires_on_re_add_while_non_empty, leak_check) {
  mach_port_name_t a = make_port_with_send();
  kq_fd inner, outer;
  BOOST_TEST(apply64(inner.get(), {mp_kev64(a, EV_ADD | EV_CLEAR)}) == 0);
  BOOST_TEST(apply64(outer.get(), {kq_read(inner.get(), EV_ADD | EV_CLEAR)}) == 0);
  BOOST_TEST(apply64(outer.get(), {kq_read(inner.get(), EV_ADD | EV_CLEAR)}) == 0);
  BOOST_TEST(outer_fires(outer.get()) == 0);  // inner empty: the touch reports nothing
  send_to(a);
  BOOST_TEST(outer_fires(outer.get()) == 1);
  BOOST_TEST(outer_fires(outer.get()) == 0);
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(apply64(outer.get(), {kq_read(inner.get(), EV_ADD | EV_CLEAR)}) == 0);
    BOOST_TEST(outer_fires(outer.get()) == 1);
    BOOST_TEST(outer_fires(outer.get()) == 0);
  }
  BOOST_TEST(collect(inner.get(), 4) == 1);
  BOOST_TEST(apply64(outer.get(), {kq_read(inner.get(), EV_ADD | EV_CLEAR)}) == 0);
  BOOST_TEST(outer_fires(outer.get()) == 0);  // emptied: nothing to report
  drain(a, 1);
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
}

// (c) An inner kevent that returns a level-triggered knote still active re-queues it
// (knote_process re-activates it, kqfile_end_processing -> knote_unsuppress ->
// knote_enqueue); a re-queue into the empty inner queue wakes the outer knote again. An EV_CLEAR
// inner knote whose message is left in its port is not re-queued: nothing wakes the outer one.
BOOST_FIXTURE_TEST_CASE(clear_fires_after_inner_kevent_requeues_level_knote, leak_check) {
  mach_port_name_t level = make_port_with_send();
  mach_port_name_t clear = make_port_with_send();
  kq_fd inner, outer;
  BOOST_TEST(apply64(inner.get(), {mp_kev64(level, EV_ADD)}) == 0);
  BOOST_TEST(apply64(outer.get(), {kq_read(inner.get(), EV_ADD | EV_CLEAR)}) == 0);
  send_to(level);
  BOOST_TEST(outer_fires(outer.get()) == 1);
  BOOST_TEST(outer_fires(outer.get()) == 0);
  for (int i = 0; i < 3; ++i) {  // the message stays: each inner kevent re-queues the knote
    BOOST_TEST(collect(inner.get(), 4) == 1);
    BOOST_TEST(outer_fires(outer.get()) == 1);
    BOOST_TEST(outer_fires(outer.get()) == 0);
  }
  drain(level, 1);
  BOOST_TEST(collect(inner.get(), 4) == 0);
  BOOST_TEST(outer_fires(outer.get()) == 0);

  // A re-queue behind knotes still queued is no transition. Queue: level, clear.
  BOOST_TEST(apply64(inner.get(), {mp_kev64(clear, EV_ADD | EV_CLEAR)}) == 0);
  send_to(level);
  send_to(clear);
  BOOST_TEST(outer_fires(outer.get()) == 1);
  BOOST_TEST(collect(inner.get(), 1) == 1);  // level; queue: clear, level
  BOOST_TEST(outer_fires(outer.get()) == 0);
  BOOST_TEST(collect(inner.get(), 1) == 1);  // clear (not re-queued); queue: level
  BOOST_TEST(outer_fires(outer.get()) == 0);
  BOOST_TEST(collect(inner.get(), 1) == 1);  // level, re-queued into the empty queue
  BOOST_TEST(outer_fires(outer.get()) == 1);
  drain(level, 1);

  // EV_CLEAR knote returned with its message left in the port: no re-queue, no wakeup, even
  // when more messages arrive (the port's queue is not empty).
  BOOST_TEST(collect(inner.get(), 4) == 0);
  BOOST_TEST(outer_fires(outer.get()) == 0);
  send_to(clear);
  BOOST_TEST(outer_fires(outer.get()) == 0);
  drain(clear, 2);
  send_to(clear);  // posted to an empty port: the knote is queued into an empty queue
  BOOST_TEST(outer_fires(outer.get()) == 1);
  BOOST_TEST(collect(inner.get(), 4) == 1);
  drain(clear, 1);
  BOOST_TEST(mach_port_destruct(self(), level, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), clear, -1, 0) == KERN_SUCCESS);
}

// Disabling the only queued knote empties the inner queue; enabling it again queues it into
// the empty queue, which wakes the outer knote.
BOOST_FIXTURE_TEST_CASE(clear_fires_when_enable_requeues, leak_check) {
  mach_port_name_t a = make_port_with_send();
  kq_fd inner, outer;
  BOOST_TEST(apply64(inner.get(), {mp_kev64(a, EV_ADD | EV_CLEAR)}) == 0);
  BOOST_TEST(apply64(outer.get(), {kq_read(inner.get(), EV_ADD | EV_CLEAR)}) == 0);
  send_to(a);
  BOOST_TEST(outer_fires(outer.get()) == 1);
  BOOST_TEST(apply64(inner.get(), {mp_kev64(a, EV_DISABLE | EV_CLEAR)}) == 0);
  BOOST_TEST(outer_fires(outer.get()) == 0);
  BOOST_TEST(apply64(inner.get(), {mp_kev64(a, EV_ENABLE | EV_CLEAR)}) == 0);
  BOOST_TEST(outer_fires(outer.get()) == 1);
  BOOST_TEST(collect(inner.get(), 4) == 1);
  drain(a, 1);
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
}

// kqueue_kqfilter's ceiling protocol: a kqueue's level is 1 once nested, and a parent's level
// exceeds its children's; a chain stops at MAX_NESTED_KQ (10) levels, and a parent whose level
// is already below the child's is refused (EINVAL) even when that would make no cycle.
BOOST_FIXTURE_TEST_CASE(nesting_limit_and_level_inversion, leak_check) {
  constexpr int chain = 11;
  std::vector<int> kqs;
  kqs.push_back(kqueue());
  BOOST_TEST_REQUIRE(kqs.back() >= 0);
  for (int i = 1; i < chain; ++i) {
    kqs.push_back(kqueue());
    BOOST_TEST_REQUIRE(kqs.back() >= 0);
    int e = 0;
    int rc = apply64(kqs[i], {kq_read(kqs[i - 1], EV_ADD)}, &e);
    if (i <= 9) {  // kqs[i] gets level i + 1
      BOOST_TEST(rc == 0);
    } else {
      BOOST_TEST(rc == -1);
      BOOST_TEST(e == EINVAL);
    }
  }
  int e = 0;
  BOOST_TEST(apply64(kqs[0], {kq_read(kqs[2], EV_ADD)}, &e) == -1);  // a cycle
  BOOST_TEST(e == EINVAL);
  kq_fd p;
  BOOST_TEST(apply64(p.get(), {kq_read(kqs[0], EV_ADD)}) == 0);  // p: level 2
  BOOST_TEST(apply64(p.get(), {kq_read(kqs[2], EV_ADD)}, &e) == -1);  // kqs[2]: level 3
  BOOST_TEST(e == EINVAL);
  BOOST_TEST(apply64(p.get(), {kq_read(kqs[1], EV_ADD)}) == 0);  // level 2: p becomes 3
  BOOST_TEST(apply64(p.get(), {kq_read(p.get(), EV_ADD)}, &e) == -1);  // itself
  BOOST_TEST(e == EINVAL);
  struct kevent64_s wr {};
  EV_SET64(&wr, static_cast<std::uint64_t>(kqs[0]), EVFILT_WRITE, EV_ADD, 0, 0, 0, 0, 0);
  kq_fd q;
  BOOST_TEST(apply64(q.get(), {wr}, &e) == -1);  // only EVFILT_READ
  BOOST_TEST(e == EINVAL);
  for (auto it = kqs.rbegin(); it != kqs.rend(); ++it) ::close(*it);
}

BOOST_AUTO_TEST_SUITE_END()
