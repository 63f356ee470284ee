// The kqueue descriptor as a file (§6 "The kqueue descriptor"): ioctl and fcntl answer as XNU's
// kqueue fileops do (fo_ioctl is fo_no_ioctl: ENOTTY), so Boost.Asio's
// posix::stream_descriptor fails on it here exactly as on a Mac. POSIX + Mach API only, so it
// also runs on macOS.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include "kqueue_support.hpp"

#include <support/leak_check.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/version.hpp>
#include <boost/system/errc.hpp>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>

using namespace machport_test;
using namespace kq_test;

namespace {

// ioctl's result, with errno in *err.
int ioctl_int(int fd, unsigned long request, int value, int* err) {
  errno = 0;
  int rc = ::ioctl(fd, request, &value);
  *err = errno;
  return rc;
}

int fcntl_err(int fd, int cmd, int arg, int* err) {
  errno = 0;
  int rc = ::fcntl(fd, cmd, arg);
  *err = errno;
  return rc;
}

// The kqueue still works as a kqueue: a message makes its knote fire.
void check_still_a_kqueue(int kq) {
  mach_port_name_t port = make_port_with_send();
  BOOST_TEST(apply64(kq, {mp_kev64(port, EV_ADD)}) == 0);
  send_to(port);
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(kq, &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.ident == port);
  BOOST_TEST(apply64(kq, {mp_kev64(port, EV_DELETE)}) == 0);
  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kqueue_fd)

// sys_generic.c ioctl case FIONBIO and kern_descrip.c sys_fcntl_nocancel case F_SETFL both
// return fo_ioctl(FIONBIO), which kqueueops answers with ENOTTY (fo_no_ioctl). Both change the
// file's flags before that call, and nothing puts them back, so F_GETFL shows the change.
BOOST_FIXTURE_TEST_CASE(fionbio_and_setfl_fail_with_enotty, leak_check) {
  kq_fd kq;
  int e = 0;
  int fl = ::fcntl(kq.get(), F_GETFL);
  BOOST_TEST((fl & O_ACCMODE) == O_RDWR);  // kqueue_internal: FREAD | FWRITE
  BOOST_TEST((fl & O_NONBLOCK) == 0);

  BOOST_TEST(ioctl_int(kq.get(), FIONBIO, 1, &e) == -1);
  BOOST_TEST(e == ENOTTY);
  BOOST_TEST((::fcntl(kq.get(), F_GETFL) & O_NONBLOCK) != 0);
  BOOST_TEST(ioctl_int(kq.get(), FIONBIO, 0, &e) == -1);
  BOOST_TEST(e == ENOTTY);
  BOOST_TEST((::fcntl(kq.get(), F_GETFL) & O_NONBLOCK) == 0);

  BOOST_TEST(fcntl_err(kq.get(), F_SETFL, fl | O_NONBLOCK, &e) == -1);
  BOOST_TEST(e == ENOTTY);
  BOOST_TEST((::fcntl(kq.get(), F_GETFL) & O_NONBLOCK) != 0);
  BOOST_TEST(fcntl_err(kq.get(), F_SETFL, fl, &e) == -1);  // even a no-op F_SETFL
  BOOST_TEST(e == ENOTTY);
  BOOST_TEST(::fcntl(kq.get(), F_GETFL) == fl);
  BOOST_TEST(fcntl_err(kq.get(), F_SETFL, fl, &e) == -1);
  BOOST_TEST(e == ENOTTY);

  check_still_a_kqueue(kq.get());

  // An ordinary descriptor is untouched by any of this.
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  BOOST_TEST(ioctl_int(fds[0], FIONBIO, 1, &e) == 0);
  BOOST_TEST((::fcntl(fds[0], F_GETFL) & O_NONBLOCK) != 0);
  BOOST_TEST(::fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0);
  BOOST_TEST((::fcntl(fds[1], F_GETFL) & O_NONBLOCK) != 0);
  ::close(fds[0]);
  ::close(fds[1]);
}

// The other ioctls: FIOCLEX / FIONCLEX are handled by ioctl() itself; FIOASYNC, FIOSETOWN and
// FIOGETOWN reach fo_ioctl (ENOTTY), except FIOSETOWN naming no process (ESRCH); anything else
// is fo_ioctl (ENOTTY). fcntl: F_GETFD / F_SETFD work; F_GETOWN / F_SETOWN go to fo_ioctl.
BOOST_FIXTURE_TEST_CASE(other_ioctls_and_fcntls, leak_check) {
  kq_fd kq;
  int e = 0;
  BOOST_TEST(::fcntl(kq.get(), F_GETFD) == FD_CLOEXEC);  // kqueue_internal: FP_CLOEXEC
  BOOST_TEST(::fcntl(kq.get(), F_SETFD, 0) == 0);
  BOOST_TEST(::fcntl(kq.get(), F_GETFD) == 0);
  BOOST_TEST(::ioctl(kq.get(), FIOCLEX) == 0);
  BOOST_TEST(::fcntl(kq.get(), F_GETFD) == FD_CLOEXEC);
  BOOST_TEST(::ioctl(kq.get(), FIONCLEX) == 0);
  BOOST_TEST(::fcntl(kq.get(), F_GETFD) == 0);
  BOOST_TEST(::fcntl(kq.get(), F_SETFD, FD_CLOEXEC) == 0);
  BOOST_TEST(::fcntl(kq.get(), F_GETFD) == FD_CLOEXEC);

  BOOST_TEST(ioctl_int(kq.get(), FIOASYNC, 1, &e) == -1);
  BOOST_TEST(e == ENOTTY);
  BOOST_TEST((::fcntl(kq.get(), F_GETFL) & O_ASYNC) != 0);
  BOOST_TEST(ioctl_int(kq.get(), FIOASYNC, 0, &e) == -1);
  BOOST_TEST(e == ENOTTY);
  BOOST_TEST((::fcntl(kq.get(), F_GETFL) & O_ASYNC) == 0);
  BOOST_TEST(ioctl_int(kq.get(), FIONREAD, 0, &e) == -1);
  BOOST_TEST(e == ENOTTY);
  BOOST_TEST(ioctl_int(kq.get(), FIOSETOWN, 0, &e) == -1);
  BOOST_TEST(e == ENOTTY);
  BOOST_TEST(ioctl_int(kq.get(), FIOSETOWN, static_cast<int>(::getpid()), &e) == -1);
  BOOST_TEST(e == ENOTTY);
  BOOST_TEST(ioctl_int(kq.get(), FIOSETOWN, INT_MAX, &e) == -1);  // no such process
  BOOST_TEST(e == ESRCH);
  BOOST_TEST(ioctl_int(kq.get(), FIOGETOWN, 0, &e) == -1);
  BOOST_TEST(e == ENOTTY);

  BOOST_TEST(fcntl_err(kq.get(), F_GETOWN, 0, &e) == -1);
  BOOST_TEST(e == ENOTTY);
  BOOST_TEST(fcntl_err(kq.get(), F_SETOWN, static_cast<int>(::getpid()), &e) == -1);
  BOOST_TEST(e == ENOTTY);
  BOOST_TEST(fcntl_err(kq.get(), F_SETOWN, INT_MAX, &e) == -1);
  BOOST_TEST(e == ESRCH);

  check_still_a_kqueue(kq.get());
}

// What the mission is about: a Mac trap fails here first. Asio before 1.31 (Boost <= 1.85)
// puts the descriptor in non-blocking mode before every wait (descriptor_ops
// set_internal_non_blocking: ioctl(FIONBIO), then fcntl(F_SETFL) on ENOTTY), so async_wait on a
// kqueue completes at once with ENOTTY. Every Asio version fails native_non_blocking(true).
BOOST_FIXTURE_TEST_CASE(asio_stream_descriptor_on_a_kqueue, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD)}) == 0);
  boost::asio::io_context io;
  boost::asio::posix::stream_descriptor d(io, kq.get());

  boost::system::error_code ec;
  d.native_non_blocking(true, ec);
  BOOST_TEST(ec == boost::system::errc::inappropriate_io_control_operation);

#if BOOST_ASIO_VERSION < 103100
  const bool expect_enotty = true;
#else
  const bool expect_enotty = false;  // Asio 1.31: waits no longer set non-blocking mode
  send_to(port);                     // so make it readable: the wait then succeeds
#endif
  bool called = false;
  d.async_wait(boost::asio::posix::stream_descriptor::wait_read,
               [&](const boost::system::error_code& e) {
                 called = true;
                 ec = e;
               });
  io.run_for(std::chrono::seconds(10));
  BOOST_TEST_REQUIRE(called);
  if (expect_enotty) {
    BOOST_TEST(ec == boost::system::errc::inappropriate_io_control_operation);
    BOOST_TEST(ec.value() == ENOTTY);
    BOOST_TEST_MESSAGE("async_wait on a kqueue: " << ec.message());
  } else {
    BOOST_TEST(!ec);
    drain(port, 1);
  }
  BOOST_TEST(d.release() == kq.get());  // kq_fd closes it
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}) == 0);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_SUITE_END()
