// A peer task terminated mid-conversation (the emulator's task API): the receiver's no-senders
// wait and the sender's dead-name wait complete, and nothing leaks in either task.
#include "async_util.hpp"

#include <support/leak_check.hpp>

#include <machport_emu/task.hpp>
#include <servers/bootstrap.h>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstring>
#include <optional>
#include <string>
#include <unistd.h>

using namespace async_test;
namespace asio = boost::asio;
namespace emu = machport_emu;
using boost::system::error_code;

namespace {

std::string unique_service_name() {
  static std::atomic<int> counter{0};
  return "org.machport.peer-death-tests." + std::to_string(::getpid()) + "." +
         std::to_string(counter++);
}

struct port_msg {
  mach_msg_header_t header;
  mach_msg_body_t body;
  mach_msg_port_descriptor_t dsc;
  mach_msg_max_trailer_t trailer;
};

// This task and a peer task B holding a receive right `b_rcv`, to which `to_b` (ours, found
// through the bootstrap namespace) is a send right.
struct peer : machport_test::leak_check {
  emu::task_id b = emu::task_create({"peer", 502, 21});
  mach_port_name_t b_rcv = MACH_PORT_NULL;  // in B
  machport::send_right to_b;

  peer() {
    const std::string service = unique_service_name();
    {
      emu::task_scope in_b(b);
      BOOST_TEST_REQUIRE(bootstrap_check_in(bootstrap_port, service.c_str(), &b_rcv) ==
                         KERN_SUCCESS);
    }
    mach_port_name_t name = MACH_PORT_NULL;
    BOOST_TEST_REQUIRE(bootstrap_look_up(bootstrap_port, service.c_str(), &name) ==
                       KERN_SUCCESS);
    to_b = machport::send_right::adopt(name);
  }

  // Sends a send right made from `port` (MAKE_SEND) to B, and has B receive it: B holds it.
  void give_send_right_to_b(const machport::receive_right& port) {
    port_msg msg{};
    msg.header.msgh_bits =
        MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, MACH_MSGH_BITS_COMPLEX);
    msg.header.msgh_remote_port = to_b.name();
    msg.header.msgh_size = offsetof(port_msg, trailer);
    msg.body.msgh_descriptor_count = 1;
    msg.dsc.type = MACH_MSG_PORT_DESCRIPTOR;
    msg.dsc.disposition = MACH_MSG_TYPE_MAKE_SEND;
    msg.dsc.name = port.name();
    BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_SEND_MSG, offsetof(port_msg, trailer), 0,
                                MACH_PORT_NULL, 0, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
    emu::task_scope in_b(b);
    std::memset(&msg, 0, sizeof msg);
    BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof msg,
                                b_rcv, 10000, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
    BOOST_TEST_REQUIRE(MACH_PORT_VALID(msg.dsc.name));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(emu_only_peer_death)

BOOST_FIXTURE_TEST_CASE(receiver_sees_no_senders_when_the_sending_task_ends, peer) {
  asio::io_context io;
  machport::receive_port port(io, require(machport::receive_right::allocate()));
  give_send_right_to_b(port.right());
  std::optional<error_code> got;
  mach_port_mscount_t mscount = 0;
  machport::async_wait_no_senders(port, [&](error_code ec, machport::no_senders_notification n) {
    got = ec;
    mscount = n.mscount;
  });
  io.poll();
  BOOST_TEST(!got);  // B still holds its send right
  emu::task_terminate(b);
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
  BOOST_TEST(mscount == 1u);
}

BOOST_FIXTURE_TEST_CASE(sender_sees_a_dead_name_when_the_receiving_task_ends, peer) {
  asio::io_context io;
  std::optional<error_code> got;
  machport::async_wait_dead_name(to_b, io, [&](error_code ec) { got = ec; });
  io.poll();
  BOOST_TEST(!got);
  emu::task_terminate(b);
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
  mach_port_urefs_t refs = 0;
  BOOST_TEST_REQUIRE(mach_port_get_refs(mach_task_self(), to_b.name(), MACH_PORT_RIGHT_DEAD_NAME,
                                        &refs) == KERN_SUCCESS);
  BOOST_TEST(refs == 1u);  // ours only: the notification's uref was released
  to_b.reset();
}

// Port-deleted: our name loses its send right while the port lives on (its receive right is in
// another task, so the name is not kept by a receive right).
BOOST_FIXTURE_TEST_CASE(dead_name_wait_aborts_when_the_send_right_goes, peer) {
  asio::io_context io;
  std::optional<error_code> got;
  machport::async_wait_dead_name(to_b, io, [&](error_code ec) { got = ec; });
  io.poll();
  to_b.reset();
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST((*got == asio::error::operation_aborted), got->message());
  emu::task_terminate(b);
}

BOOST_AUTO_TEST_SUITE_END()
