// Audit regression: a message the process sends to itself carries the process's own identity in
// the audit trailer (spec §5.5: audit_token = TASK_AUDIT_TOKEN of the sender). On macOS that
// token's pid (val[5], what audit_token_to_pid reads) is getpid() and its euid/egid are the
// process's; the emulated initial task stands for the real process, so it must match too.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <unistd.h>

using namespace machport_test;

BOOST_FIXTURE_TEST_CASE(audit_trailer_identifies_this_process, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  BOOST_TEST_REQUIRE(send_header(port, MACH_MSG_TYPE_COPY_SEND) == MACH_MSG_SUCCESS);
  raw_msg<> buf;
  BOOST_TEST_REQUIRE(receive(port, buf,
                             MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
                                 MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT)) ==
                     MACH_MSG_SUCCESS);
  const auto size = buf.header()->msgh_size;
  BOOST_TEST(size == sizeof(mach_msg_header_t));
  const auto trailer = buf.at<mach_msg_audit_trailer_t>(size);
  BOOST_TEST(trailer.msgh_trailer_size == sizeof(mach_msg_audit_trailer_t));
  BOOST_TEST(static_cast<pid_t>(trailer.msgh_audit.val[5]) == ::getpid());
  BOOST_TEST(trailer.msgh_audit.val[1] == ::geteuid());
  BOOST_TEST(trailer.msgh_audit.val[2] == ::getegid());
  BOOST_TEST(trailer.msgh_sender.val[0] == ::geteuid());
  BOOST_TEST(trailer.msgh_sender.val[1] == ::getegid());
  destroy_port(port);
}
