// The kqueue descriptor as an event loop sees it (XNU bsd/kern/kern_event.c, sys_generic.c,
// kern_descrip.c): it has no ioctl, so FIONBIO and fcntl(F_SETFL) fail with ENOTTY (after the
// file's flags were changed, which F_GETFL shows); and a kqueue watched by another kqueue wakes
// it whenever its ready queue goes from empty to non-empty, including when a kevent() call
// puts a still-active level-triggered knote back. POSIX and <sys/event.h> only.
#include "kqueue_support.hpp"

#include <support/leak_check.hpp>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

using namespace machport_test;
using namespace kq_test;

namespace {

struct kevent read_kev(int fd, std::uint16_t flags) {
  struct kevent k {};
  EV_SET(&k, fd, EVFILT_READ, flags, 0, 0, nullptr);
  return k;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kqueue_descriptor)

BOOST_FIXTURE_TEST_CASE(fionbio_fails_with_enotty, leak_check) {
  kq_fd kq;
  const int before = ::fcntl(kq.get(), F_GETFL);
  BOOST_TEST_REQUIRE(before != -1);
  BOOST_TEST((before & O_ACCMODE) == O_RDWR);
  BOOST_TEST((before & O_NONBLOCK) == 0);
  int on = 1;
  errno = 0;
  BOOST_TEST(::ioctl(kq.get(), FIONBIO, &on) == -1);
  BOOST_TEST(errno == ENOTTY);
  // The flag was set in the file before the kqueue refused the ioctl.
  BOOST_TEST((::fcntl(kq.get(), F_GETFL) & O_NONBLOCK) != 0);
  int off = 0;
  errno = 0;
  BOOST_TEST(::ioctl(kq.get(), FIONBIO, &off) == -1);
  BOOST_TEST(errno == ENOTTY);
  BOOST_TEST((::fcntl(kq.get(), F_GETFL) & O_NONBLOCK) == 0);
  // Any other ioctl is refused too.
  int n = 0;
  errno = 0;
  BOOST_TEST(::ioctl(kq.get(), FIONREAD, &n) == -1);
  BOOST_TEST(errno == ENOTTY);
}

BOOST_FIXTURE_TEST_CASE(fcntl_setfl_fails_with_enotty, leak_check) {
  kq_fd kq;
  const int flags = ::fcntl(kq.get(), F_GETFL);
  BOOST_TEST_REQUIRE(flags != -1);
  errno = 0;
  BOOST_TEST(::fcntl(kq.get(), F_SETFL, flags | O_NONBLOCK) == -1);
  BOOST_TEST(errno == ENOTTY);
  BOOST_TEST((::fcntl(kq.get(), F_GETFL) & O_NONBLOCK) != 0);
  errno = 0;
  BOOST_TEST(::fcntl(kq.get(), F_SETFL, flags) == -1);  // even a change to nothing
  BOOST_TEST(errno == ENOTTY);
  BOOST_TEST(::fcntl(kq.get(), F_GETFL) == flags);
  // The kqueue still works.
  struct kevent ev {};
  BOOST_TEST(wait_events(kq.get(), &ev, 1, &poll_ts) == 0);
}

BOOST_FIXTURE_TEST_CASE(close_on_exec_ioctls_work, leak_check) {
  kq_fd kq;
  BOOST_TEST((::fcntl(kq.get(), F_GETFD) & FD_CLOEXEC) != 0);  // kqueues are close-on-exec
  BOOST_TEST(::ioctl(kq.get(), FIONCLEX) == 0);
  BOOST_TEST((::fcntl(kq.get(), F_GETFD) & FD_CLOEXEC) == 0);
  BOOST_TEST(::ioctl(kq.get(), FIOCLEX) == 0);
  BOOST_TEST((::fcntl(kq.get(), F_GETFD) & FD_CLOEXEC) != 0);
}

BOOST_FIXTURE_TEST_CASE(other_descriptors_keep_their_ioctl_and_fcntl, leak_check) {
  kq_fd kq;  // a kqueue exists meanwhile
  int fds[2] = {-1, -1};
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  int on = 1;
  BOOST_TEST(::ioctl(fds[0], FIONBIO, &on) == 0);
  BOOST_TEST((::fcntl(fds[0], F_GETFL) & O_NONBLOCK) != 0);
  BOOST_TEST(::fcntl(fds[1], F_SETFL, ::fcntl(fds[1], F_GETFL) | O_NONBLOCK) == 0);
  BOOST_TEST((::fcntl(fds[1], F_GETFL) & O_NONBLOCK) != 0);
  BOOST_TEST(::write(fds[1], "x", 1) == 1);
  int n = 0;
  BOOST_TEST(::ioctl(fds[0], FIONREAD, &n) == 0);
  BOOST_TEST(n == 1);
  ::close(fds[0]);
  ::close(fds[1]);
}

// A level-triggered knote that is still active after kevent() on the inner kqueue goes back on
// its empty queue: that wakes the outer kqueue's EV_CLEAR watcher again.
BOOST_FIXTURE_TEST_CASE(nested_level_knote_requeued_wakes_watcher, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd inner;
  kq_fd outer;
  BOOST_TEST(apply(inner.get(), {mp_kev(port, EV_ADD)}) == 0);  // level probe
  BOOST_TEST(apply(outer.get(), {read_kev(inner.get(), EV_ADD | EV_CLEAR)}) == 0);
  struct kevent ev {};
  BOOST_TEST(wait_events(outer.get(), &ev, 1, &poll_ts) == 0);
  send_to(port);
  BOOST_TEST_REQUIRE(wait_events(outer.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.ident == static_cast<uintptr_t>(inner.get()));
  BOOST_TEST(wait_events(outer.get(), &ev, 1, &poll_ts) == 0);  // EV_CLEAR: consumed
  for (int i = 0; i < 2; ++i) {
    BOOST_TEST(wait_events(inner.get(), &ev, 1, &poll_ts) == 1);   // still queued afterwards
    BOOST_TEST(wait_events(outer.get(), &ev, 1, &poll_ts) == 1);   // so the outer fires again
    BOOST_TEST(wait_events(outer.get(), &ev, 1, &poll_ts) == 0);
  }
  drain(port, 1);
  BOOST_TEST(wait_events(inner.get(), &ev, 1, &poll_ts) == 0);
  BOOST_TEST(wait_events(outer.get(), &ev, 1, &poll_ts) == 0);
  BOOST_TEST(apply(inner.get(), {mp_kev(port, EV_DELETE)}) == 0);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// Only the empty -> non-empty transition wakes: a knote put back on a queue that still holds
// another (kevent collected one of two) does not.
BOOST_FIXTURE_TEST_CASE(nested_requeue_onto_non_empty_queue_does_not_wake, leak_check) {
  mach_port_name_t a = make_port_with_send();
  mach_port_name_t b = make_port_with_send();
  kq_fd inner;
  kq_fd outer;
  BOOST_TEST(apply(inner.get(), {mp_kev(a, EV_ADD), mp_kev(b, EV_ADD)}) == 0);
  BOOST_TEST(apply(outer.get(), {read_kev(inner.get(), EV_ADD | EV_CLEAR)}) == 0);
  send_to(a);
  send_to(b);
  struct kevent ev {};
  BOOST_TEST(wait_events(outer.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(wait_events(outer.get(), &ev, 1, &poll_ts) == 0);
  BOOST_TEST(wait_events(inner.get(), &ev, 1, &poll_ts) == 1);  // one of two; the other stays
  BOOST_TEST(wait_events(outer.get(), &ev, 1, &poll_ts) == 0);
  drain(a, 1);
  drain(b, 1);
  BOOST_TEST(apply(inner.get(), {mp_kev(a, EV_DELETE), mp_kev(b, EV_DELETE)}) == 0);
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), b, -1, 0) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_SUITE_END()
