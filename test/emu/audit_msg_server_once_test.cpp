// Audit regression: mach_msg_server_once sizes its receive like libsyscall/mach/mach_msg.c.
// Without MACH_RCV_LARGE it receives into max_size + REQUESTED_TRAILER_SIZE(options) bytes, so a
// bigger request fails with MACH_RCV_TOO_LARGE (and the kernel destroys it, spec §5.2). With
// MACH_RCV_LARGE it grows the buffer to the reported size and receives again.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <vector>

using namespace machport_test;

namespace {

int g_demux_calls = 0;
mach_msg_id_t g_last_id = 0;

boolean_t counting_demux(mach_msg_header_t* request, mach_msg_header_t* reply) {
  ++g_demux_calls;
  g_last_id = request->msgh_id;
  auto* rep = reinterpret_cast<mig_reply_error_t*>(reply);
  rep->Head.msgh_bits = 0;
  rep->Head.msgh_remote_port = MACH_PORT_NULL;  // no reply
  rep->RetCode = MIG_NO_REPLY;
  return TRUE;
}

mach_msg_return_t send_sized(mach_port_name_t port, mach_msg_size_t size, mach_msg_id_t id) {
  std::vector<std::uint64_t> storage(size / 8 + 1, 0);
  auto* h = reinterpret_cast<mach_msg_header_t*>(storage.data());
  h->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
  h->msgh_remote_port = port;
  h->msgh_id = id;
  return mach_msg(h, MACH_SEND_MSG, size, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(server_once_without_large_uses_max_size, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  BOOST_TEST_REQUIRE(send_sized(port, 200, 1) == MACH_MSG_SUCCESS);
  g_demux_calls = 0;
  BOOST_TEST(mach_msg_server_once(counting_demux, 100, port, MACH_RCV_TIMEOUT) == MACH_RCV_TOO_LARGE);
  BOOST_TEST(g_demux_calls == 0);
  BOOST_TEST(queue_empty(port));  // destroyed by the failed receive
  destroy_port(port);
}

BOOST_FIXTURE_TEST_CASE(server_once_with_large_grows_the_buffer, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  BOOST_TEST_REQUIRE(send_sized(port, 8192, 2) == MACH_MSG_SUCCESS);
  g_demux_calls = 0;
  g_last_id = 0;
  BOOST_TEST(mach_msg_server_once(counting_demux, 100, port, MACH_RCV_TIMEOUT | MACH_RCV_LARGE) ==
             MACH_MSG_SUCCESS);
  BOOST_TEST(g_demux_calls == 1);
  BOOST_TEST(g_last_id == 2);
  BOOST_TEST(queue_empty(port));
  destroy_port(port);
}
