// async_mig_serve: a hand-written MIG demux served on an io_context (routines that reply,
// MIG_NO_REPLY, MIG_BAD_ID, error RetCode, dead clients), stopping, teardown, ordering, batching.
#include "async_util.hpp"
#include "mig_test_server.hpp"

#include <support/leak_check.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace async_test;
using namespace mig_test;
namespace asio = boost::asio;
using boost::system::error_code;
using machport::mig_served;
using machport::result;

namespace {

using outcome = std::pair<mach_msg_id_t, result<mig_served>>;

// Runs `server` on `port` until it has served `stop_after` requests (then the observer stops it
// through the handler's cancellation slot), or until it stops by itself.
struct serve_run {
  std::optional<error_code> ec;
  std::vector<outcome> outcomes;
};
serve_run serve(asio::io_context& io, machport::receive_port& port, test_server& server,
                std::size_t stop_after, machport::mig_serve_options options = {max_reply}) {
  asio::cancellation_signal stop;
  serve_run out;
  machport::async_mig_serve(
      port, std::ref(server), options,
      [&](mach_msg_id_t id, const result<mig_served>& r) {
        out.outcomes.emplace_back(id, r);
        if (out.outcomes.size() == stop_after) stop.emit(asio::cancellation_type::terminal);
      },
      asio::bind_cancellation_slot(stop.slot(), [&](error_code ec) { out.ec = ec; }));
  BOOST_TEST(!out.ec);  // never inside the initiating function
  io.restart();
  io.run();  // the server is the only work: returns when it stopped
  return out;
}

// A server port with a send right for clients, and a queue for `qlimit` requests.
struct server_port {
  port_pair p;
  machport::receive_port port;
  server_port(asio::io_context& io, mach_port_msgcount_t qlimit = 5)
      : port(io, (require(p.receive.set_queue_limit(qlimit)), std::move(p.receive))) {}
  const machport::send_right& send() const { return p.send; }
  void request(machport::message&& m) const { require(machport::send(p.send, std::move(m), guard)); }
};

bool served_ok(const outcome& o, mach_msg_id_t id, kern_return_t ret, bool replied) {
  return o.first == id && o.second.has_value() && o.second.value().ret_code == ret &&
         o.second.value().replied == replied;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(mig_server_tests, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(routine_replies_and_routine_answers_later) {
  asio::io_context io;
  server_port sp(io);
  test_server server;
  machport::receive_right deferred_client = require(machport::receive_right::allocate());
  machport::receive_right client = require(machport::receive_right::allocate());
  sp.request(simple_request_msg(deferred_client, defer_id));
  sp.request(add_request_msg(client, 2, 40));

  const serve_run run = serve(io, sp.port, server, 2);
  BOOST_TEST_REQUIRE(run.ec.has_value());
  BOOST_TEST(*run.ec == asio::error::operation_aborted);
  BOOST_TEST_REQUIRE(run.outcomes.size() == 2u);
  BOOST_TEST(served_ok(run.outcomes[0], defer_id, MIG_NO_REPLY, false));
  BOOST_TEST(served_ok(run.outcomes[1], add_id, KERN_SUCCESS, true));

  const auto sum = receive_reply<add_reply>(client);
  BOOST_TEST(sum.Head.msgh_id == add_id + 100);
  BOOST_TEST(sum.RetCode == KERN_SUCCESS);
  BOOST_TEST(sum.sum == 42);

  // The deferred routine kept the reply right; nothing came yet. It answers now.
  BOOST_TEST(queued(deferred_client) == 0u);
  BOOST_TEST_REQUIRE(server.deferred.valid());
  server.answer_deferred(KERN_SUCCESS);
  const auto later = receive_reply<mig_reply_error_t>(deferred_client);
  BOOST_TEST(later.Head.msgh_id == defer_id + 100);
  BOOST_TEST(later.RetCode == KERN_SUCCESS);
}

BOOST_AUTO_TEST_CASE(unknown_id_gets_mig_bad_id_and_its_rights_are_released) {
  asio::io_context io;
  server_port sp(io);
  test_server server;
  machport::receive_right client = require(machport::receive_right::allocate());
  machport::receive_right carried = require(machport::receive_right::allocate());
  sp.request(machport::message_builder(unknown_id)
                 .reply_make_send_once(client)
                 .add_make_send(carried)
                 .add(NDR_record)
                 .build());
  const serve_run run = serve(io, sp.port, server, 1);
  BOOST_TEST_REQUIRE(run.outcomes.size() == 1u);
  BOOST_TEST(served_ok(run.outcomes[0], unknown_id, MIG_BAD_ID, true));
  BOOST_TEST(!run.outcomes[0].second.value().recognized);
  BOOST_TEST(only_receive(carried));
  const auto r = receive_reply<mig_reply_error_t>(client);
  BOOST_TEST(r.Head.msgh_id == unknown_id + 100);
  BOOST_TEST(r.RetCode == MIG_BAD_ID);
}

BOOST_AUTO_TEST_CASE(error_ret_code_releases_the_request_and_success_keeps_it) {
  asio::io_context io;
  server_port sp(io);
  test_server server;
  machport::receive_right client = require(machport::receive_right::allocate());
  port_pair refused;
  port_pair kept;
  sp.request(store_request_msg(client, std::move(refused.send), true));
  sp.request(store_request_msg(client, std::move(kept.send), false));
  const serve_run run = serve(io, sp.port, server, 2);
  BOOST_TEST_REQUIRE(run.outcomes.size() == 2u);
  BOOST_TEST(served_ok(run.outcomes[0], store_id, KERN_FAILURE, true));
  BOOST_TEST(served_ok(run.outcomes[1], store_id, KERN_SUCCESS, true));
  BOOST_TEST(only_receive(refused.receive));  // released by the server, exactly once
  BOOST_TEST(server.stored.name() == kept.receive.name());  // the routine's now
  BOOST_TEST(receive_reply<mig_reply_error_t>(client).RetCode == KERN_FAILURE);
  BOOST_TEST(receive_reply<mig_reply_error_t>(client).RetCode == KERN_SUCCESS);
  server.stored.reset();
  BOOST_TEST(only_receive(kept.receive));
}

// Clients that die (before their request is received, or while it is served) and a reply port
// whose queue is full: each failure is the request's, reported to the observer; the server
// serves the next request.
BOOST_AUTO_TEST_CASE(dead_client_does_not_stop_the_server) {
  asio::io_context io;
  server_port sp(io, 16);
  test_server server;
  machport::receive_right client = require(machport::receive_right::allocate());

  // Dead before the request is received: the reply right arrives as MACH_PORT_DEAD.
  {
    machport::receive_right gone = require(machport::receive_right::allocate());
    sp.request(add_request_msg(gone, 1, 1));
  }
  // Dies while its request is served: the reply cannot be sent (the routine looked at the reply
  // right, which the kernel turned into a dead name).
  auto victim = std::make_unique<machport::receive_right>(require(machport::receive_right::allocate()));
  sp.request(simple_request_msg(*victim, hook_id));
  server.hook = [&] {
    const mach_port_name_t reply_name = server.last_request
        ? static_cast<const mach_msg_header_t*>(server.last_request)->msgh_remote_port
        : MACH_PORT_NULL;
    victim.reset();
    BOOST_TEST(type_of(reply_name) == MACH_PORT_TYPE_DEAD_NAME);
  };
  // A send right as reply port, its queue full: the reply is not waited for.
  port_pair full;
  require(full.receive.set_queue_limit(1));
  send_number(full.send, 1);
  sp.request(machport::message_builder(add_id)
                 .reply_make_send(full.receive)
                 .add(NDR_record)
                 .add(std::int32_t{1})
                 .add(std::int32_t{2})
                 .build());
  // A live client after them all.
  sp.request(add_request_msg(client, 3, 4));

  const serve_run run = serve(io, sp.port, server, 4);
  BOOST_TEST_REQUIRE(run.outcomes.size() == 4u);
  BOOST_TEST(served_ok(run.outcomes[0], add_id, KERN_SUCCESS, false));
  BOOST_TEST(run.outcomes[1].first == hook_id);
  BOOST_TEST_REQUIRE(!run.outcomes[1].second.has_value());
  BOOST_TEST(run.outcomes[1].second.error() == machport::make_msg_error(MACH_SEND_INVALID_DEST));
  BOOST_TEST(run.outcomes[2].first == add_id);
  BOOST_TEST_REQUIRE(!run.outcomes[2].second.has_value());
  BOOST_TEST(run.outcomes[2].second.error() == machport::make_msg_error(MACH_SEND_TIMED_OUT));
  BOOST_TEST(served_ok(run.outcomes[3], add_id, KERN_SUCCESS, true));
  BOOST_TEST(receive_reply<add_reply>(client).sum == 7);
  BOOST_TEST(number_of(receive_now(full.receive)) == 1u);  // only what was there before
  BOOST_TEST(queued(full.receive) == 0u);
  BOOST_TEST(*run.ec == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(cancellation_while_waiting_stops_the_server) {
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                    asio::cancellation_type::total}) {
    asio::io_context io;
    server_port sp(io);
    test_server server;
    asio::cancellation_signal stop;
    std::optional<error_code> ec;
    machport::async_mig_serve(sp.port, std::ref(server), max_reply,
                              asio::bind_cancellation_slot(stop.slot(), [&](error_code e) { ec = e; }));
    io.poll();  // waiting for a request
    BOOST_TEST(!ec);
    stop.emit(type);
    io.run();
    BOOST_TEST_REQUIRE(ec.has_value());
    BOOST_TEST(*ec == asio::error::operation_aborted);
    // A request sent now stays in the port.
    machport::receive_right client = require(machport::receive_right::allocate());
    sp.request(add_request_msg(client, 1, 2));
    BOOST_TEST(queued(sp.port.right()) == 1u);
    BOOST_TEST(server.calls == 0);
    // Emitting after completion does nothing.
    stop.emit(asio::cancellation_type::terminal);
  }
}

BOOST_AUTO_TEST_CASE(cancellation_while_serving_leaves_the_rest_queued) {
  asio::io_context io;
  server_port sp(io);
  test_server server;
  machport::receive_right client = require(machport::receive_right::allocate());
  for (std::int32_t i = 0; i < 3; ++i) sp.request(add_request_msg(client, i, 0));
  // The observer stops the server after the first request: the other two are not taken.
  const serve_run run = serve(io, sp.port, server, 1);
  BOOST_TEST(*run.ec == asio::error::operation_aborted);
  BOOST_TEST(run.outcomes.size() == 1u);
  BOOST_TEST(queued(sp.port.right()) == 2u);
  BOOST_TEST(receive_reply<add_reply>(client).sum == 0);
  // A new server takes the rest, in order.
  const serve_run rest = serve(io, sp.port, server, 2);
  BOOST_TEST(rest.outcomes.size() == 2u);
  BOOST_TEST(receive_reply<add_reply>(client).sum == 1);
  BOOST_TEST(receive_reply<add_reply>(client).sum == 2);
}

BOOST_AUTO_TEST_CASE(port_cancel_and_close_stop_the_server) {
  asio::io_context io;
  server_port sp(io);
  test_server server;
  std::optional<error_code> ec;
  // cancel() while the server waits.
  machport::async_mig_serve(sp.port, std::ref(server), max_reply, [&](error_code e) { ec = e; });
  io.poll();
  sp.port.cancel();
  io.run();
  BOOST_TEST_REQUIRE(ec.has_value());
  BOOST_TEST(*ec == asio::error::operation_aborted);

  // A routine closes the port: the request queued behind it is destroyed with the port (its
  // client gets a send-once notification), the routine's request is answered, then the server
  // stops.
  machport::receive_right client = require(machport::receive_right::allocate());
  sp.request(simple_request_msg(client, hook_id));
  sp.request(add_request_msg(client, 1, 1));
  server.hook = [&] { sp.port.close(); };
  ec.reset();
  machport::async_mig_serve(sp.port, std::ref(server), max_reply, [&](error_code e) { ec = e; });
  io.restart();
  io.run();
  BOOST_TEST_REQUIRE(ec.has_value());
  BOOST_TEST(*ec == asio::error::operation_aborted);
  // The queued request died with the port inside the routine, before the reply was sent.
  BOOST_TEST(receive_now(client).id() == MACH_NOTIFY_SEND_ONCE);
  BOOST_TEST(receive_reply<mig_reply_error_t>(client).Head.msgh_id == hook_id + 100);

  // A closed port: the server never starts.
  ec.reset();
  machport::async_mig_serve(sp.port, std::ref(server), max_reply, [&](error_code e) { ec = e; });
  BOOST_TEST(!ec);
  io.restart();
  io.run();
  BOOST_TEST_REQUIRE(ec.has_value());
  BOOST_TEST(*ec == machport::make_msg_error(MACH_RCV_INVALID_NAME));
  BOOST_TEST(server.calls == 1);
}

// Destroying the io_context while the server waits: its state (here a demux, held by value,
// that keeps a deferred reply right) is destroyed with the aborted receive, unrun.
BOOST_AUTO_TEST_CASE(context_destroyed_while_serving) {
  machport::receive_right client = require(machport::receive_right::allocate());
  bool completed = false;
  {
    auto io = std::make_unique<asio::io_context>();
    auto sp = std::make_unique<server_port>(*io);
    int served = 0;
    sp->request(simple_request_msg(client, defer_id));
    test_server owned;
    machport::async_mig_serve(
        sp->port, std::move(owned), machport::mig_serve_options{max_reply},
        [&](mach_msg_id_t, const result<mig_served>&) { ++served; },
        [&](error_code) { completed = true; });
    while (served == 0) io->run_one();
    io->poll();
    BOOST_TEST(queued(client) == 0u);  // the demux holds the reply right
    sp.reset();  // the I/O object goes before its context; aborts the receive
    io.reset();  // the aborted completion is destroyed, not run
  }
  BOOST_TEST(!completed);
  // The deferred reply right was released with the demux.
  BOOST_TEST(receive_now(client).id() == MACH_NOTIFY_SEND_ONCE);
}

// The handler's executor is another context that is destroyed while a received request waits
// on it to be served: request (and the right it carries), demux and buffers are released.
BOOST_AUTO_TEST_CASE(handler_context_destroyed_with_a_request_received) {
  port_pair carried;
  machport::receive_right client = require(machport::receive_right::allocate());
  bool completed = false;
  {
    auto io = std::make_unique<asio::io_context>();
    auto handler_io = std::make_unique<asio::io_context>();
    server_port sp(*io);
    test_server owned;
    machport::async_mig_serve(sp.port, std::move(owned), max_reply,
                              asio::bind_executor(*handler_io, [&](error_code) { completed = true; }));
    sp.request(store_request_msg(client, std::move(carried.send), false));
    // Until the request is taken from the port and its step queued on handler_io.
    while (queued(sp.port.right()) != 0) io->poll_one();
    io->poll();
    BOOST_TEST(send_refs(carried.receive.name()) == 1u);  // held by the unserved request
    handler_io.reset();  // destroys the step: the server's state goes with it
    BOOST_TEST(only_receive(carried.receive));
    BOOST_TEST(receive_now(client).id() == MACH_NOTIFY_SEND_ONCE);  // its reply right
  }
  BOOST_TEST(!completed);
}

// Many requests from one client: served and answered in order, with one request buffer and
// one reply buffer throughout, whatever the batch size.
BOOST_AUTO_TEST_CASE(many_requests_served_in_order_with_reused_buffers) {
  constexpr std::int32_t count = 300;
  for (std::size_t batch : {std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
    BOOST_TEST_CONTEXT("batch_limit " << batch) {
      asio::io_context io;
      server_port sp(io, MACH_PORT_QLIMIT_LARGE);
      test_server server;
      machport::receive_right client = require(machport::receive_right::allocate());
      for (std::int32_t i = 0; i < count; ++i) sp.request(add_request_msg(client, i, 1000));
      machport::mig_serve_options options{max_reply};
      options.batch_limit = batch;
      const serve_run run = serve(io, sp.port, server, count, options);
      BOOST_TEST(*run.ec == asio::error::operation_aborted);
      BOOST_TEST_REQUIRE(run.outcomes.size() == static_cast<std::size_t>(count));
      for (const auto& o : run.outcomes) BOOST_TEST(served_ok(o, add_id, KERN_SUCCESS, true));
      for (std::int32_t i = 0; i < count; ++i) {
        const auto r = receive_reply<add_reply>(client);
        BOOST_TEST_REQUIRE(r.sum == i + 1000);
      }
      BOOST_TEST(server.request_buffers == 1);
      BOOST_TEST(server.reply_buffers == 1);
    }
  }
}

// Past batch_limit requests the server goes back to the event loop: a handler posted while it
// serves runs before the next batch.
BOOST_AUTO_TEST_CASE(batches_let_other_handlers_run) {
  for (std::size_t batch : {std::size_t{4}, std::size_t{1000}}) {
    BOOST_TEST_CONTEXT("batch_limit " << batch) {
      asio::io_context io;
      server_port sp(io, 16);
      test_server server;
      machport::receive_right client = require(machport::receive_right::allocate());
      std::vector<int> order;  // request numbers; -1 for the other handler
      sp.request(simple_request_msg(client, hook_id));
      for (std::int32_t i = 1; i < 10; ++i) sp.request(add_request_msg(client, i, 0));
      server.hook = [&] { asio::post(io, [&] { order.push_back(-1); }); };
      machport::mig_serve_options options{max_reply};
      options.batch_limit = batch;
      asio::cancellation_signal stop;
      int served = 0;
      machport::async_mig_serve(
          sp.port, std::ref(server), options,
          [&](mach_msg_id_t, const result<mig_served>&) {
            order.push_back(served);
            if (++served == 10) stop.emit(asio::cancellation_type::terminal);
          },
          asio::bind_cancellation_slot(stop.slot(), [](error_code) {}));
      io.run();
      std::vector<int> expected;
      for (int i = 0; i < 10; ++i) {
        if (static_cast<std::size_t>(i) == std::min<std::size_t>(batch, 10)) expected.push_back(-1);
        expected.push_back(i);
      }
      if (batch >= 10) expected.push_back(-1);
      BOOST_TEST(order == expected, boost::test_tools::per_element());
      for (int i = 0; i < 10; ++i) (void)receive_now(client);
    }
  }
}

BOOST_AUTO_TEST_CASE(served_from_a_coroutine) {
  asio::io_context io;
  server_port sp(io);
  test_server server;
  machport::receive_right client = require(machport::receive_right::allocate());
  sp.request(add_request_msg(client, 20, 22));
  sp.request(simple_request_msg(client, hook_id));
  asio::cancellation_signal stop;
  // The second routine stops the server from inside (the coroutine's cancellation slot).
  server.hook = [&] { stop.emit(asio::cancellation_type::terminal); };
  std::optional<error_code> ec;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto [e] = co_await machport::async_mig_serve(sp.port, std::ref(server), max_reply,
                                                      asio::as_tuple(asio::use_awaitable));
        ec = e;
      },
      asio::bind_cancellation_slot(stop.slot(), asio::detached));
  io.run();
  BOOST_TEST_REQUIRE(ec.has_value());
  BOOST_TEST(*ec == asio::error::operation_aborted);
  BOOST_TEST(receive_reply<add_reply>(client).sum == 42);
  BOOST_TEST(receive_reply<mig_reply_error_t>(client).Head.msgh_id == hook_id + 100);
  BOOST_TEST(server.request_buffers == 1);
}

BOOST_AUTO_TEST_CASE(plain_function_demux) {
  asio::io_context io;
  server_port sp(io);
  machport::receive_right client = require(machport::receive_right::allocate());
  sp.request(add_request_msg(client, 1, 2));
  std::optional<error_code> ec;
  struct none {
    static boolean_t demux(mach_msg_header_t*, mach_msg_header_t*) { return FALSE; }
  };
  asio::cancellation_signal stop;
  int served = 0;
  machport::async_mig_serve(
      sp.port, &none::demux, machport::mig_serve_options{max_reply},
      [&](mach_msg_id_t, const result<mig_served>&) {
        if (++served == 1) stop.emit(asio::cancellation_type::terminal);
      },
      asio::bind_cancellation_slot(stop.slot(), [&](error_code e) { ec = e; }));
  io.run();
  BOOST_TEST(*ec == asio::error::operation_aborted);
  BOOST_TEST(receive_reply<mig_reply_error_t>(client).RetCode == MIG_BAD_ID);
}

BOOST_AUTO_TEST_SUITE_END()
