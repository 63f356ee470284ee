// Emulator-only parts of the kqueue descriptor's ioctl / fcntl answers (§10 "close, ioctl and
// fcntl are interposed"): glibc's fcntl64 entry point answers as fcntl does, and a dup() of a
// kqueue, which is no kqueue here (§9), is an ordinary eventfd again.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include "kqueue_support.hpp"

#include <support/leak_check.hpp>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

using namespace machport_test;
using namespace kq_test;

BOOST_AUTO_TEST_SUITE(kqueue_fd_emu)

BOOST_FIXTURE_TEST_CASE(fcntl64_and_dup, leak_check) {
  kq_fd kq;
  errno = 0;
  BOOST_TEST(::fcntl64(kq.get(), F_SETFL, O_NONBLOCK) == -1);
  BOOST_TEST(errno == ENOTTY);
  BOOST_TEST((::fcntl64(kq.get(), F_GETFL) & O_NONBLOCK) != 0);
  BOOST_TEST(::fcntl64(kq.get(), F_GETFD) == FD_CLOEXEC);

  int copy = ::dup(kq.get());
  BOOST_TEST_REQUIRE(copy >= 0);
  int on = 1;
  BOOST_TEST(::ioctl(copy, FIONBIO, &on) == 0);
  BOOST_TEST(::fcntl(copy, F_SETFL, O_NONBLOCK) == 0);
  ::close(copy);
}

BOOST_AUTO_TEST_SUITE_END()
