// Between two emulated tasks (machport_emu task API): audit tokens, rights crossing spaces,
// a peer's death.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <machport_emu/task.hpp>
#include <servers/bootstrap.h>

#include <thread>

using namespace machport;
using namespace core_test;

namespace {

// Gives the current task a send right to `port`, which the task `from` holds a send right to,
// through the bootstrap namespace (the only channel two fresh spaces share).
send_right hand_over(machport_emu::task_id from, const send_right& port, const char* service) {
  {
    machport_emu::task_scope in(from);
    BOOST_TEST_REQUIRE(bootstrap_register(bootstrap_port, const_cast<char*>(service), port.name()) ==
                       BOOTSTRAP_SUCCESS);
  }
  mach_port_t got = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(bootstrap_look_up(bootstrap_port, service, &got) == BOOTSTRAP_SUCCESS);
  {
    machport_emu::task_scope in(from);
    BOOST_TEST_REQUIRE(bootstrap_register(bootstrap_port, const_cast<char*>(service), MACH_PORT_NULL) ==
                       BOOTSTRAP_SUCCESS);
  }
  return send_right::adopt(got);
}

struct request {
  static constexpr mach_msg_id_t id = 500;
  std::uint32_t n;
  send_once_right reply;
};
struct response {
  static constexpr mach_msg_id_t id = 501;
  std::uint32_t n;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(cross_task, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(audit_token_identifies_sender) {
  auto server = make_port();
  auto other = machport_emu::task_create({"client", 777, 88});
  {
    machport_emu::task_scope as(other);
    auto to_server = hand_over(machport_emu::initial_task(), server.send, "machport.test.audit");
    require(send(to_server, message_builder(1).build()));
  }
  auto parsed = require(parse(receive_now(server.receive)));
  auto audit = parsed.trailer().audit();
  BOOST_TEST_REQUIRE(audit.has_value());
  const audit_token_t expected = machport_emu::task_audit_token(other);
  BOOST_TEST(audit->pid() == static_cast<pid_t>(expected.val[5]));
  BOOST_TEST(audit->euid() == 777u);
  BOOST_TEST(audit->egid() == 88u);
  auto sender = parsed.trailer().sender();
  BOOST_TEST((*sender)[0] == 777u);
  BOOST_TEST((*sender)[1] == 88u);
  machport_emu::task_terminate(other);
}

BOOST_AUTO_TEST_CASE(typed_request_reply_between_tasks) {
  auto server = make_port();
  auto client_task = machport_emu::task_create({"client"});
  std::thread client([&] {
    machport_emu::task_scope as(client_task);
    auto to_server = hand_over(machport_emu::initial_task(), server.send, "machport.test.rpc");
    auto reply_port = require(receive_right::allocate());
    for (std::uint32_t i = 0; i < 3; ++i) {
      require(send(to_server, encode(request{i, require(reply_port.make_send_once())})));
      auto r = require(decode<response>(receive_now(reply_port)));
      BOOST_TEST(r.n == i * 10);
    }
    // the client drops a request's reply right: the server sees nothing, the client a notification
  });
  for (int i = 0; i < 3; ++i) {
    auto req = require(decode<request>(receive_now(server.receive)));
    require(send(std::move(req.reply), encode(response{req.n * 10})));
  }
  client.join();
  machport_emu::task_terminate(client_task);
}

BOOST_AUTO_TEST_CASE(peer_death_turns_rights_dead) {
  auto peer = machport_emu::task_create({"peer"});
  send_right to_peer;
  send_once_right once_to_peer;
  // The peer sends us a send and a send-once right to its port in a message.
  auto inbox = make_port();
  {
    machport_emu::task_scope as(peer);
    auto to_inbox = hand_over(machport_emu::initial_task(), inbox.send, "machport.test.death");
    auto q = require(receive_right::allocate());
    require(send(to_inbox, message_builder(9).add_make_send(q).add_make_send_once(q).build()));
    (void)q.release();  // owned by the task until it dies
  }
  {
    auto parsed = require(parse(receive_now(inbox.receive)));
    to_peer = std::move(std::get<send_right>(parsed.descriptors()[0]));
    once_to_peer = std::move(std::get<send_once_right>(parsed.descriptors()[1]));
  }
  BOOST_TEST(!to_peer.is_dead());
  machport_emu::task_terminate(peer);
  BOOST_TEST(to_peer.is_dead());
  BOOST_TEST(once_to_peer.is_dead());
  BOOST_TEST(send(to_peer, message_builder(1).build()).error() == make_msg_error(MACH_SEND_INVALID_DEST));
  // both destructors release their dead-name urefs (leak_check verifies)
}

BOOST_AUTO_TEST_SUITE_END()
