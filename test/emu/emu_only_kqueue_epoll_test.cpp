// Emulator-only: the kqueue descriptor under an edge-triggered epoll (§10 "The kqueue is a real
// descriptor"), as Asio's epoll reactor watches it. A new edge comes only when the kqueue goes
// from nothing to report to something, and after a kevent() that leaves events to report: the
// wakeups an EV_CLEAR knote on the kqueue gets on a Mac (§6 "A kqueue inside another kqueue"),
// plus one after a kevent() whose event list filled up. A service that takes an edge and stops
// collecting with events left gets no further edge and hangs here as it would on a Mac.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include "kqueue_support.hpp"

#include <support/leak_check.hpp>

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

using namespace machport_test;
using namespace kq_test;

namespace {

// An edge-triggered epoll instance watching one descriptor for input.
class edge_watch {
 public:
  explicit edge_watch(int fd) : ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    BOOST_TEST_REQUIRE(ep_ >= 0);
    struct epoll_event want {};
    want.events = EPOLLIN | EPOLLET;
    BOOST_TEST_REQUIRE(::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &want) == 0);
  }
  ~edge_watch() { ::close(ep_); }
  edge_watch(const edge_watch&) = delete;
  edge_watch& operator=(const edge_watch&) = delete;

  // Whether a new edge arrived since the last call (never waits).
  bool edge() {
    struct epoll_event got {};
    int n = ::epoll_wait(ep_, &got, 1, 0);
    BOOST_TEST(n >= 0);
    return n == 1;
  }

 private:
  int ep_;
};

bool readable(int fd) {
  struct pollfd p {};
  p.fd = fd;
  p.events = POLLIN;
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

int collect(int kq, int max) {
  struct kevent64_s ev[4] = {};
  return wait_events64(kq, ev, max, &poll_ts);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kqueue_epoll)

BOOST_FIXTURE_TEST_CASE(edges_only_on_transition_and_after_kevent_leaving_events,
                        leak_check) {
  mach_port_name_t a = make_port_with_send();
  mach_port_name_t b = make_port_with_send();
  mach_port_name_t c = make_port_with_send();
  kq_fd kq;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(a, EV_ADD | EV_CLEAR), mp_kev64(b, EV_ADD | EV_CLEAR),
                                mp_kev64(c, EV_ADD | EV_CLEAR)}) == 0);
  edge_watch ep(kq.get());
  BOOST_TEST(!ep.edge());
  send_to(a);  // nothing -> something
  BOOST_TEST(ep.edge());
  BOOST_TEST(!ep.edge());

  // The service took the edge but collects nothing: more events give no edge. It would wait
  // forever with events pending, as on a Mac.
  send_to(b);
  send_to(a);
  BOOST_TEST(!ep.edge());
  BOOST_TEST(readable(kq.get()));

  // A kevent that leaves an event to report gives a new edge; one that takes the last does not.
  BOOST_TEST(collect(kq.get(), 1) == 1);
  BOOST_TEST(ep.edge());
  BOOST_TEST(collect(kq.get(), 4) == 1);
  BOOST_TEST(!ep.edge());
  BOOST_TEST(!readable(kq.get()));

  // Messages left in EV_CLEAR ports: more of them report nothing and give no edge; a message to
  // an empty port is a transition again.
  send_to(a);
  send_to(b);
  BOOST_TEST(!ep.edge());
  BOOST_TEST(collect(kq.get(), 4) == 0);
  BOOST_TEST(!ep.edge());
  send_to(c);
  BOOST_TEST(ep.edge());
  BOOST_TEST(collect(kq.get(), 4) == 1);
  BOOST_TEST(!ep.edge());

  drain(a, 3);
  drain(b, 2);
  drain(c, 1);
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), b, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), c, -1, 0) == KERN_SUCCESS);
}

// A level-triggered knote whose message stays in its port reports again at every kevent, so
// every kevent gives a new edge (a busy loop under epoll, as under a Mac's kqueue reactor);
// once the port is empty, nothing does.
BOOST_FIXTURE_TEST_CASE(level_knote_left_active_gives_an_edge_per_kevent, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD)}) == 0);
  edge_watch ep(kq.get());
  send_to(port);
  BOOST_TEST(ep.edge());
  BOOST_TEST(!ep.edge());
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(collect(kq.get(), 4) == 1);
    BOOST_TEST(ep.edge());
    BOOST_TEST(!ep.edge());
  }
  drain(port, 1);
  BOOST_TEST(collect(kq.get(), 4) == 0);
  BOOST_TEST(!ep.edge());
  BOOST_TEST(!readable(kq.get()));
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_SUITE_END()
