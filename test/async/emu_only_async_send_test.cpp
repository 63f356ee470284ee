// async_send across emulated tasks (machport_emu task API): the receiving task dies while
// sends wait; a notification forged by another task is ignored.
#include "async_util.hpp"

#include <support/leak_check.hpp>

#include <boost/asio/io_context.hpp>

#include <machport_emu/task.hpp>
#include <mach/notify.h>
#include <servers/bootstrap.h>

#include <array>
#include <optional>

using namespace async_test;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Gives the current task a send right to `port`, which the task `from` holds a send right to,
// through the bootstrap namespace (the only channel two fresh spaces share).
machport::send_right hand_over(machport_emu::task_id from, const machport::send_right& port,
                               const char* service) {
  {
    machport_emu::task_scope in(from);
    BOOST_TEST_REQUIRE(bootstrap_register(bootstrap_port, const_cast<char*>(service),
                                          port.name()) == BOOTSTRAP_SUCCESS);
  }
  mach_port_t got = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(bootstrap_look_up(bootstrap_port, service, &got) == BOOTSTRAP_SUCCESS);
  {
    machport_emu::task_scope in(from);
    BOOST_TEST_REQUIRE(bootstrap_register(bootstrap_port, const_cast<char*>(service),
                                          MACH_PORT_NULL) == BOOTSTRAP_SUCCESS);
  }
  return machport::send_right::adopt(got);
}

struct outcome {
  error_code ec;
  bool message_back = false;
};

machport::detail::send_engine& send_engine(asio::io_context& io) {
  return asio::use_service<machport::detail::send_service>(io).engine();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(emu_only_async_send_tests)

BOOST_FIXTURE_TEST_CASE(receiver_task_dies_while_sends_wait, machport_test::leak_check) {
  asio::io_context io;
  const auto peer = machport_emu::task_create({"peer"});
  mach_port_name_t peer_send = MACH_PORT_NULL;
  {
    machport_emu::task_scope as(peer);
    port_pair p;
    require(p.receive.set_queue_limit(1));
    send_number(p.send, 0);
    (void)p.receive.release();  // the peer keeps its port until it dies
    peer_send = p.send.release();
  }
  machport::send_right to_peer;
  {
    // A handle on the peer's name, only to name it (released in the peer's space below).
    machport::send_right in_peer = machport::send_right::adopt(peer_send);
    to_peer = hand_over(peer, in_peer, "machport.test.async_send.peer");
    (void)in_peer.release();
  }
  std::array<std::optional<outcome>, 2> got;
  for (auto& g : got) {
    machport::async_send(io, to_peer, machport::encode(numbered{1}),
                         [&g](error_code ec, machport::message m) { g = outcome{ec, !m.empty()}; });
  }
  io.poll();
  BOOST_TEST_REQUIRE(send_engine(io).waiting_destinations() == 1u);
  machport_emu::task_terminate(peer);
  io.run();
  for (auto& g : got) {
    BOOST_TEST_REQUIRE(g.has_value());
    BOOST_TEST(g->ec == machport::make_msg_error(MACH_SEND_INVALID_DEST), g->ec.message());
    BOOST_TEST(g->message_back);
  }
  BOOST_TEST(to_peer.is_dead());
  BOOST_TEST(require(to_peer.urefs()) == 1u);  // the notification's uref was released
}

BOOST_FIXTURE_TEST_CASE(notification_forged_by_another_task_is_ignored,
                        machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  require(p.receive.set_queue_limit(1));
  send_number(p.send, 0);
  std::optional<outcome> got;
  machport::async_send(io, p.send, machport::encode(numbered{1}),
                       [&got](error_code ec, machport::message m) { got = outcome{ec, !m.empty()}; });
  io.poll();
  const mach_port_name_t notify = send_engine(io).notify_port_name();
  BOOST_TEST_REQUIRE(mach_port_insert_right(mach_task_self(), notify, notify,
                                            MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  machport::send_right to_notify = machport::send_right::adopt(notify);
  const auto forger = machport_emu::task_create({"forger", 0, 0});  // root is not the kernel
  {
    machport_emu::task_scope as(forger);
    auto to = hand_over(machport_emu::initial_task(), to_notify, "machport.test.async_send.forge");
    const std::array<std::uint8_t, 8> ndr{0, 0, 0, 0, 1, 0, 0, 0};
    const mach_port_name_t name = p.send.name();
    for (mach_msg_id_t id : {MACH_NOTIFY_DEAD_NAME, MACH_NOTIFY_SEND_POSSIBLE}) {
      machport::message_builder b(id);
      b.add_data(std::as_bytes(std::span(ndr)));
      b.add_data(std::as_bytes(std::span(&name, 1)));
      require(machport::send(to, b.build(), guard));
    }
  }
  machport_emu::task_terminate(forger);
  to_notify.reset();
  io.poll();
  BOOST_TEST(!got);
  BOOST_TEST(send_engine(io).waiting_destinations() == 1u);
  BOOST_TEST(require(p.send.urefs()) == 2u);  // ours and the waiting send's, no fewer
  BOOST_TEST(queued(p.receive) == 1u);
  (void)require(machport::receive(p.receive));
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!got->ec, got->ec.message());
  BOOST_TEST(!got->message_back);
}

BOOST_AUTO_TEST_SUITE_END()
