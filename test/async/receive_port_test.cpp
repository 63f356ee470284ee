// basic_receive_port: receiving, ordering, cancellation, close / release, teardown.
#include "async_util.hpp"

#include <support/leak_check.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <optional>
#include <vector>

using namespace async_test;
namespace asio = boost::asio;
using boost::system::error_code;

BOOST_AUTO_TEST_SUITE(receive_port_tests)

BOOST_FIXTURE_TEST_CASE(receives_a_message_queued_before_the_call, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  send_number(p.send, 7);
  std::optional<std::uint64_t> got;
  port.async_receive([&](error_code ec, machport::message m) {
    BOOST_TEST(!ec, ec.message());
    got = number_of(std::move(m));
  });
  BOOST_TEST(!got);  // never inside the initiating function
  io.run();
  BOOST_TEST(got.value_or(~0ull) == 7u);
}

BOOST_FIXTURE_TEST_CASE(receives_a_message_sent_while_waiting, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  std::optional<std::uint64_t> got;
  port.async_receive([&](error_code ec, machport::message m) {
    BOOST_TEST(!ec, ec.message());
    got = number_of(std::move(m));
  });
  io.poll();  // the knote is armed; nothing to do yet
  BOOST_TEST(!got);
  send_number(p.send, 8);
  io.run();  // returns once the handler ran: the operation was the only work
  BOOST_TEST(got.value_or(~0ull) == 8u);
}

BOOST_FIXTURE_TEST_CASE(pending_receives_complete_in_arrival_order, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  std::vector<std::uint64_t> order;
  for (int i = 0; i < 5; ++i) {
    port.async_receive([&](error_code ec, machport::message m) {
      BOOST_TEST_REQUIRE(!ec);
      order.push_back(number_of(std::move(m)));
    });
  }
  io.poll();
  for (std::uint64_t n = 1; n <= 5; ++n) send_number(p.send, n);
  io.run();
  BOOST_TEST(order == (std::vector<std::uint64_t>{1, 2, 3, 4, 5}), boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(a_large_message_is_never_dropped, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  std::vector<std::byte> big(64 * 1024, std::byte{0x5a});
  machport::message_builder b(9);
  b.add_data(big);
  require(machport::send(p.send, b.build(), guard));
  machport::async_receive_options small;
  small.buffer_size = 64;
  bool done = false;
  port.async_receive(small, [&](error_code ec, machport::message m) {
    BOOST_TEST_REQUIRE(!ec, ec.message());
    BOOST_TEST(m.id() == 9);
    BOOST_TEST(m.size() >= big.size());
    done = true;
  });
  io.run();
  BOOST_TEST(done);
}

BOOST_FIXTURE_TEST_CASE(typed_receive_decodes_and_rejects, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  send_number(p.send, 42);
  machport::message_builder other(12345);
  require(machport::send(p.send, other.build(), guard));
  std::optional<std::uint64_t> first;
  std::optional<error_code> second;
  port.async_receive<numbered>([&](error_code ec, numbered v) {
    BOOST_TEST(!ec, ec.message());
    first = v.n;
  });
  port.async_receive<numbered>([&](error_code ec, numbered) { second = ec; });
  io.run();
  BOOST_TEST(first.value_or(~0ull) == 42u);
  BOOST_TEST_REQUIRE(second.has_value());
  BOOST_TEST(*second == machport::make_error_code(machport::message_errc::unexpected_id));
  BOOST_TEST(queued(port.right()) == 0u);
}

// Each cancellation type a queued operation honours: it completes with operation_aborted and
// the message sent afterwards is still in the port.
BOOST_FIXTURE_TEST_CASE(per_operation_cancellation_keeps_the_message, machport_test::leak_check) {
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                    asio::cancellation_type::total}) {
    asio::io_context io;
    port_pair p;
    machport::receive_port port(io, std::move(p.receive));
    asio::cancellation_signal sig;
    std::optional<error_code> result;
    port.async_receive(asio::bind_cancellation_slot(
        sig.slot(), [&](error_code ec, machport::message m) {
          result = ec;
          BOOST_TEST(m.empty());
        }));
    io.poll();
    sig.emit(type);
    BOOST_TEST(!result.has_value());  // posted, not run inside emit
    io.run();
    BOOST_TEST_REQUIRE(result.has_value());
    BOOST_TEST(*result == asio::error::operation_aborted);
    send_number(p.send, 3);
    BOOST_TEST(queued(port.right()) == 1u);
    BOOST_TEST(number_of(require(machport::receive(port.right(), {.timeout = guard}))) == 3u);
  }
}

// A message bound to the operation before the emit: the operation completes with it.
BOOST_FIXTURE_TEST_CASE(cancellation_after_the_message_is_bound_delivers_it, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  asio::cancellation_signal sig;
  std::optional<std::uint64_t> got;
  port.async_receive(asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, machport::message m) {
    BOOST_TEST_REQUIRE(!ec, ec.message());
    got = number_of(std::move(m));
  }));
  send_number(p.send, 5);
  // Run until the reactor has bound the message (the handler is then queued), without
  // running the handler: poll_one runs one handler at a time.
  while (queued(port.right()) != 0) io.run_one();
  if (!got) sig.emit(asio::cancellation_type::terminal);
  io.run();
  BOOST_TEST(got.value_or(~0ull) == 5u);
}

BOOST_FIXTURE_TEST_CASE(cancel_aborts_every_pending_receive, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  int aborted = 0;
  for (int i = 0; i < 3; ++i) {
    port.async_receive([&](error_code ec, machport::message) {
      if (ec == asio::error::operation_aborted) ++aborted;
    });
  }
  io.poll();
  port.cancel();
  io.run();
  BOOST_TEST(aborted == 3);
  // The port still works after cancel().
  send_number(p.send, 11);
  std::optional<std::uint64_t> got;
  port.async_receive([&](error_code ec, machport::message m) {
    BOOST_TEST_REQUIRE(!ec);
    got = number_of(std::move(m));
  });
  io.restart();
  io.run();
  BOOST_TEST(got.value_or(~0ull) == 11u);
}

BOOST_FIXTURE_TEST_CASE(release_aborts_and_hands_back_the_right, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  const mach_port_name_t name = p.receive.name();
  machport::receive_port port(io, std::move(p.receive));
  std::optional<error_code> result;
  port.async_receive([&](error_code ec, machport::message) { result = ec; });
  io.poll();
  send_number(p.send, 1);  // arrives after release: stays in the port
  machport::receive_right back = port.release();
  BOOST_TEST(!port.is_open());
  BOOST_TEST(back.name() == name);
  io.run();
  BOOST_TEST_REQUIRE(result.has_value());
  // Either the reactor bound the message before release (the handler has it) or it is in the port.
  if (*result) {
    BOOST_TEST(*result == asio::error::operation_aborted);
    BOOST_TEST(queued(back) == 1u);
    BOOST_TEST(number_of(require(machport::receive(back, {.timeout = guard}))) == 1u);
  } else {
    BOOST_TEST(queued(back) == 0u);
  }
}

BOOST_FIXTURE_TEST_CASE(close_aborts_and_receive_on_closed_fails, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  std::vector<error_code> results;
  port.async_receive([&](error_code ec, machport::message) { results.push_back(ec); });
  io.poll();
  port.close();
  port.async_receive([&](error_code ec, machport::message) { results.push_back(ec); });
  BOOST_TEST(results.empty());
  io.run();
  BOOST_TEST_REQUIRE(results.size() == 2u);
  BOOST_TEST(results[0] == asio::error::operation_aborted);
  BOOST_TEST(results[1] == machport::make_msg_error(MACH_RCV_INVALID_NAME));
}

BOOST_FIXTURE_TEST_CASE(move_keeps_pending_operations, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port a(io, std::move(p.receive));
  std::optional<std::uint64_t> got;
  a.async_receive([&](error_code ec, machport::message m) {
    BOOST_TEST_REQUIRE(!ec, ec.message());
    got = number_of(std::move(m));
  });
  io.poll();
  machport::receive_port b(std::move(a));
  BOOST_TEST(!a.is_open());
  BOOST_TEST(b.is_open());
  send_number(p.send, 21);
  io.run();
  BOOST_TEST(got.value_or(~0ull) == 21u);
}

// A message nobody waits for does not keep the reactor busy: the knote fires once (it was
// armed by an operation that was then cancelled) and stays disabled.
BOOST_FIXTURE_TEST_CASE(an_unwanted_message_wakes_nothing, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  asio::cancellation_signal sig;
  port.async_receive(asio::bind_cancellation_slot(sig.slot(), [](error_code, machport::message) {}));
  io.poll();
  sig.emit(asio::cancellation_type::terminal);
  io.poll();
  send_number(p.send, 1);
  io.poll();  // the event: nothing is queued, so nothing is received
  const auto after_event = performs(io);
  for (int i = 0; i < 100; ++i) io.poll();
  BOOST_TEST(performs(io) == after_event);
  BOOST_TEST(queued(port.right()) == 1u);
  // A new receive takes it (EV_ENABLE on a non-empty port fires at once).
  std::optional<std::uint64_t> got;
  port.async_receive([&](error_code ec, machport::message m) {
    BOOST_TEST_REQUIRE(!ec);
    got = number_of(std::move(m));
  });
  io.restart();
  io.run();
  BOOST_TEST(got.value_or(~0ull) == 1u);
}

// Stopping the io_context leaves a pending receive pending: after restart() it completes.
BOOST_FIXTURE_TEST_CASE(stopped_context_keeps_the_operation, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  std::optional<std::uint64_t> got;
  port.async_receive([&](error_code ec, machport::message m) {
    BOOST_TEST_REQUIRE(!ec, ec.message());
    got = number_of(std::move(m));
  });
  io.poll();
  io.stop();
  send_number(p.send, 31);
  io.run();  // stopped: returns at once, runs nothing
  BOOST_TEST(!got);
  io.restart();
  io.run();
  BOOST_TEST(got.value_or(~0ull) == 31u);
}

// Destroying the io_context with operations pending runs no handler and leaks nothing, also
// for an operation whose message was already bound: its handler is queued on the handler's
// executor (here a second context that never runs) and destroyed with it.
BOOST_FIXTURE_TEST_CASE(context_destroyed_with_operations_pending, machport_test::leak_check) {
  port_pair p;
  bool ran = false;
  {
    auto io = std::make_unique<asio::io_context>();
    auto handler_io = std::make_unique<asio::io_context>();
    machport::receive_port port(*io, std::move(p.receive));
    // The bound message carries a right: destroying the queued handler must release it.
    machport::message_builder b(1);
    b.add_port(require(port.right().make_send()));
    require(machport::send(p.send, b.build(), guard));
    port.async_receive(asio::bind_executor(*handler_io, [&](error_code, machport::message) { ran = true; }));
    port.async_receive([&](error_code, machport::message) { ran = true; });
    // Runs until the first operation's handler has moved to handler_io: the second one still
    // waits (it keeps `io` busy, so poll rather than run).
    while (queued(port.right()) != 0) io->poll_one();
    io->poll();
    BOOST_TEST(!ran);
    port.close();  // the I/O object goes before its context; aborts the second operation
    io.reset();    // its aborted handler is destroyed, not run
    handler_io.reset();
  }
  BOOST_TEST(!ran);
}

BOOST_FIXTURE_TEST_CASE(context_destroyed_before_close, machport_test::leak_check) {
  port_pair p;
  bool ran = false;
  auto io = std::make_unique<asio::io_context>();
  auto port = std::make_unique<machport::receive_port>(*io, std::move(p.receive));
  port->async_receive([&](error_code, machport::message) { ran = true; });
  io->poll();
  // shutdown destroys the pending handler; the I/O object is closed afterwards (allowed
  // between the context's shutdown and its destruction, as for Asio's own objects).
  io->stop();
  boost::asio::execution_context& ctx = *io;
  (void)ctx;
  io->notify_fork(asio::execution_context::fork_prepare);
  io->notify_fork(asio::execution_context::fork_parent);
  port.reset();
  io.reset();
  BOOST_TEST(!ran);
}

BOOST_AUTO_TEST_SUITE_END()
