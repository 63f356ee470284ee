// Audit regression: xnu tests/kqueue_close.c (spec §7, kqueue_filter_close) registers knotes on a
// port, a port set AND A PIPE in one kevent64 call without EV_RECEIPT and requires it to
// succeed; on macOS EVFILT_READ on a pipe reports the readable byte count in `data`.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <sys/event.h>

#include <cerrno>
#include <ctime>
#include <unistd.h>

using namespace machport_test;

BOOST_FIXTURE_TEST_CASE(kqueue_pipe_knote_with_mach_knotes, leak_check) {
  const mach_port_name_t port = make_receive();
  const mach_port_name_t pset = make_pset();
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  const int kq = kqueue();
  BOOST_TEST_REQUIRE(kq >= 0);

  struct kevent64_s changes[3];
  EV_SET64(&changes[0], port, EVFILT_MACHPORT, EV_ADD, 0, 0, 0, 0, 0);
  EV_SET64(&changes[1], pset, EVFILT_MACHPORT, EV_ADD, 0, 0, 0, 0, 0);
  EV_SET64(&changes[2], static_cast<std::uint64_t>(fds[0]), EVFILT_READ, EV_ADD, 0, 0, 0, 0, 0);
  errno = 0;
  BOOST_TEST(kevent64(kq, changes, 3, nullptr, 0, 0, nullptr) == 0);
  BOOST_TEST(errno == 0);

  const timespec zero{0, 0};
  struct kevent64_s ev {};
  BOOST_TEST(kevent64(kq, nullptr, 0, &ev, 1, 0, &zero) == 0);  // nothing ready yet

  BOOST_TEST_REQUIRE(::write(fds[1], "abc", 3) == 3);
  const int n = kevent64(kq, nullptr, 0, &ev, 1, 0, &zero);
  BOOST_TEST(n == 1);
  if (n == 1) {
    BOOST_TEST(ev.filter == EVFILT_READ);
    BOOST_TEST(ev.ident == static_cast<std::uint64_t>(fds[0]));
    BOOST_TEST(ev.data == 3);
  }

  char buf[3];
  BOOST_TEST(::read(fds[0], buf, sizeof buf) == 3);
  BOOST_TEST(kevent64(kq, nullptr, 0, &ev, 1, 0, &zero) == 0);

  BOOST_TEST(::close(kq) == 0);
  ::close(fds[0]);
  ::close(fds[1]);
  destroy_port(port);
  BOOST_TEST(mach_port_mod_refs(self(), pset, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
}
