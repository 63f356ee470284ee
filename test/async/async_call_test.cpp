// async_call: request and reply, typed and untyped, every completion kind used here; a dead
// server, a dropped request, a forged notification id, cancellation and a timeout; the reply
// port never leaks.
#include "async_util.hpp"

#include <support/leak_check.hpp>

#include <machport/async_call.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

using namespace async_test;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

struct question {
  static constexpr mach_msg_id_t id = 800;
  std::uint64_t n = 0;
  machport::reply_port reply;  // filled on the server's side; the call makes it
};

struct answer {
  static constexpr mach_msg_id_t id = 801;
  std::uint64_t n = 0;
};

// A server on the client's io_context.
struct server {
  explicit server(asio::io_context& io) : port(io, std::move(pair.receive)) {}

  // Answers the next `count` questions with n + 1.
  void answer_questions(int count) {
    port.async_receive<question>([this, count](error_code ec, question q) {
      BOOST_TEST_REQUIRE(!ec, ec.message());
      BOOST_TEST_REQUIRE(q.reply.is_send_once());
      require(machport::send(std::move(q.reply), machport::encode(answer{q.n + 1}), guard));
      if (count > 1) answer_questions(count - 1);
    });
  }

  // Takes the next question and keeps it, unanswered.
  void keep_question() {
    port.async_receive<question>([this](error_code ec, question q) {
      BOOST_TEST_REQUIRE(!ec, ec.message());
      kept.push_back(std::move(q));
    });
  }

  port_pair pair;
  machport::send_right& send = pair.send;
  machport::receive_port port;
  std::vector<question> kept;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(async_call_tests)

BOOST_FIXTURE_TEST_CASE(call_with_a_callback, machport_test::leak_check) {
  asio::io_context io;
  server s(io);
  s.answer_questions(1);
  std::optional<std::uint64_t> got;
  machport::async_call(io, s.send, machport::encode(question{41, {}}),
                       [&](error_code ec, machport::message reply) {
                         BOOST_TEST_REQUIRE(!ec, ec.message());
                         got = require(machport::decode<answer>(std::move(reply))).n;
                       });
  BOOST_TEST(!got);  // never inside the initiating function
  io.run();
  BOOST_TEST(got.value_or(0) == 42u);
}

BOOST_FIXTURE_TEST_CASE(typed_calls_in_a_coroutine, machport_test::leak_check) {
  asio::io_context io;
  server s(io);
  s.answer_questions(3);
  std::vector<std::uint64_t> got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // On the coroutine's executor; typed and untyped.
        answer a = co_await machport::async_call<answer>(s.send, question{1, {}}, asio::use_awaitable);
        got.push_back(a.n);
        machport::message m = co_await machport::async_call(
            s.send, machport::encode(question{a.n, {}}), asio::use_awaitable);
        got.push_back(require(machport::decode<answer>(std::move(m))).n);
        // On an explicit executor.
        auto [ec, b] = co_await machport::async_call<answer>(
            io.get_executor(), s.send, question{10, {}}, asio::as_tuple(asio::use_awaitable));
        BOOST_TEST(!ec, ec.message());
        got.push_back(b.n);
      },
      asio::detached);
  io.run();
  BOOST_TEST(got == (std::vector<std::uint64_t>{2, 3, 11}), boost::test_tools::per_element());
}

// Several calls in flight at once: each reply reaches its own call.
BOOST_FIXTURE_TEST_CASE(concurrent_calls_get_their_own_replies, machport_test::leak_check) {
  asio::io_context io;
  server s(io);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> got;
  for (std::uint64_t n = 0; n < 5; ++n) {
    // The handler's executor is bound: the call runs on it.
    machport::async_call<answer>(s.send, question{n * 10, {}},
                                 asio::bind_executor(io, [&got, n](error_code ec, answer a) {
                                   BOOST_TEST_REQUIRE(!ec, ec.message());
                                   got.emplace_back(n, a.n);
                                 }));
  }
  s.answer_questions(5);
  io.run();
  BOOST_TEST_REQUIRE(got.size() == 5u);
  for (auto [n, reply] : got) BOOST_TEST(reply == n * 10 + 1);
}

BOOST_FIXTURE_TEST_CASE(a_dead_server_fails_the_send, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  p.receive.reset();  // p.send is a dead name now
  std::optional<error_code> result;
  machport::async_call<answer>(io, p.send, question{1, {}}, [&](error_code ec, answer) { result = ec; });
  io.run();
  BOOST_TEST_REQUIRE(result.has_value());
  BOOST_TEST(*result == machport::make_msg_error(MACH_SEND_INVALID_DEST));
}

// The server destroys the request unanswered: the kernel's send-once notification arrives
// on the reply port instead of a reply.
BOOST_FIXTURE_TEST_CASE(a_dropped_request_is_reported, machport_test::leak_check) {
  asio::io_context io;
  server s(io);
  s.port.async_receive<question>([](error_code ec, question) { BOOST_TEST(!ec); });  // dropped
  std::optional<error_code> result;
  machport::async_call(io, s.send, machport::encode(question{1, {}}),
                       [&](error_code ec, machport::message m) {
                         result = ec;
                         BOOST_TEST(m.empty());
                       });
  io.run();
  BOOST_TEST_REQUIRE(result.has_value());
  BOOST_TEST(*result == machport::make_error_code(machport::message_errc::request_dropped),
             result->message());
}

// The server dies with the request still queued: the same.
BOOST_FIXTURE_TEST_CASE(a_server_dying_with_the_request_queued, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  std::optional<error_code> result;
  machport::async_call<answer>(io, p.send, question{1, {}}, [&](error_code ec, answer) { result = ec; });
  BOOST_TEST(queued(p.receive) == 1u);  // sent inside the initiating function
  p.receive.reset();
  io.run();
  BOOST_TEST_REQUIRE(result.has_value());
  BOOST_TEST(*result == machport::make_error_code(machport::message_errc::request_dropped));
}

// A reply whose id is MACH_NOTIFY_SEND_ONCE but that the kernel did not send is a reply.
BOOST_FIXTURE_TEST_CASE(a_forged_notification_id_is_a_reply, machport_test::leak_check) {
  asio::io_context io;
  server s(io);
  s.port.async_receive<question>([](error_code ec, question q) {
    BOOST_TEST_REQUIRE(!ec);
    machport::message_builder forged(MACH_NOTIFY_SEND_ONCE);
    require(machport::send(std::move(q.reply), forged.build(), guard));
  });
  std::optional<mach_msg_id_t> got;
  machport::async_call(io, s.send, machport::encode(question{1, {}}),
                       [&](error_code ec, machport::message m) {
                         BOOST_TEST_REQUIRE(!ec, ec.message());
                         got = m.id();
                       });
  io.run();
  BOOST_TEST(got.value_or(0) == MACH_NOTIFY_SEND_ONCE);
}

// A timeout given by the token: the call races a timer with awaitable operators. The timer
// wins, the call is cancelled and its reply port destroyed, with the late reply.
BOOST_FIXTURE_TEST_CASE(a_timeout_with_awaitable_operators, machport_test::leak_check) {
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  server s(io);
  s.keep_question();  // never answered in time
  std::optional<std::size_t> winner;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io, std::chrono::milliseconds(20));
        auto r = co_await (machport::async_call<answer>(s.send, question{1, {}}, asio::use_awaitable) ||
                           timer.async_wait(asio::use_awaitable));
        winner = r.index();
      },
      asio::detached);
  io.run();
  BOOST_TEST(winner.value_or(0) == 1u);  // the timer
  BOOST_TEST_REQUIRE(s.kept.size() == 1u);
  // The reply port is gone: the late reply is accepted and destroyed by the kernel (a send
  // through a send-once right to a dead port), and leaks nothing.
  require(machport::send(std::move(s.kept[0].reply), machport::encode(answer{2}), guard));
}

// Terminal and partial cancellation abort the call; total does not (the request has been
// sent), and the call then completes with the reply.
BOOST_FIXTURE_TEST_CASE(cancellation_types, machport_test::leak_check) {
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial}) {
    asio::io_context io;
    server s(io);
    asio::cancellation_signal sig;
    std::optional<error_code> result;
    machport::async_call<answer>(io, s.send, question{1, {}},
                                 asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, answer) { result = ec; }));
    io.poll();
    sig.emit(type);
    io.run();
    BOOST_TEST(result.value_or(error_code{}) == asio::error::operation_aborted);
    // The request is still with the server; its reply right arrives dead (the reply port is
    // gone), so a late reply cannot be sent, and nothing leaks.
    question q = require(machport::decode<question>(
        require(machport::receive(s.port.right(), {.timeout = guard}))));
    BOOST_TEST(machport::send(std::move(q.reply), machport::encode(answer{2}), guard).error() ==
               machport::make_msg_error(MACH_SEND_INVALID_DEST));
  }
  asio::io_context io;
  server s(io);
  asio::cancellation_signal sig;
  std::optional<std::uint64_t> got;
  machport::async_call<answer>(io, s.send, question{1, {}},
                               asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, answer a) {
                                 BOOST_TEST_REQUIRE(!ec, ec.message());
                                 got = a.n;
                               }));
  io.poll();
  sig.emit(asio::cancellation_type::total);
  io.poll();
  BOOST_TEST(!got.has_value());
  s.answer_questions(1);
  io.run();
  BOOST_TEST(got.value_or(0) == 2u);
  sig.emit(asio::cancellation_type::terminal);  // after completion: no effect
}

BOOST_FIXTURE_TEST_CASE(bad_requests, machport_test::leak_check) {
  asio::io_context io;
  server s(io);
  std::vector<error_code> results;
  auto on_reply = [&](error_code ec, machport::message) { results.push_back(ec); };
  machport::async_call(io, s.send, machport::message{}, on_reply);
  // A request that names a reply port already.
  port_pair other;
  machport::message_builder b(5);
  b.reply_make_send_once(other.receive);
  machport::async_call(io, s.send, b.build(), on_reply);
  io.run();
  BOOST_TEST_REQUIRE(results.size() == 2u);
  BOOST_TEST(results[0] == machport::make_error_code(machport::message_errc::empty_message));
  BOOST_TEST(results[1] == machport::make_error_code(machport::message_errc::bad_header_bits));
  BOOST_TEST(queued(s.port.right()) == 0u);  // nothing was sent
}

// The request is sent without waiting: a full queue fails the call, and the request (with
// the send-once right the kernel made for it) is released.
BOOST_FIXTURE_TEST_CASE(a_full_queue_fails_the_call, machport_test::leak_check) {
  asio::io_context io;
  server s(io);
  require(s.port.right().set_queue_limit(1));
  send_number(s.send, 1);
  std::optional<error_code> result;
  machport::async_call<answer>(io, s.send, question{1, {}}, [&](error_code ec, answer) { result = ec; });
  io.run();
  BOOST_TEST_REQUIRE(result.has_value());
  BOOST_TEST(*result == machport::make_msg_error(MACH_SEND_TIMED_OUT));
  BOOST_TEST(queued(s.port.right()) == 1u);
  (void)require(machport::receive(s.port.right(), {.timeout = guard}));
}

// The server is another thread using the synchronous API.
BOOST_FIXTURE_TEST_CASE(a_server_on_another_thread, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  // No Boost.Test on this thread (it is not thread-safe): the first failure is kept and
  // checked after join.
  error_code server_failure;
  std::thread server_thread([&] {
    for (int i = 0; i < 3; ++i) {
      auto request = machport::receive(p.receive, {.timeout = guard});
      if (!request) {
        server_failure = request.error();
        return;
      }
      auto q = machport::decode<question>(std::move(request).value());
      if (!q) {
        server_failure = q.error();
        return;
      }
      auto sent = machport::send(std::move(q.value().reply), machport::encode(answer{q.value().n * 2}), guard);
      if (!sent) {
        server_failure = sent.error();
        return;
      }
    }
  });
  std::vector<std::uint64_t> got;
  std::function<void(std::uint64_t)> call = [&](std::uint64_t n) {
    machport::async_call<answer>(io, p.send, question{n, {}}, [&, n](error_code ec, answer a) {
      BOOST_TEST_REQUIRE(!ec, ec.message());
      got.push_back(a.n);
      if (n < 3) call(n + 1);
    });
  };
  call(1);
  io.run();
  server_thread.join();
  BOOST_TEST(!server_failure, server_failure.message());
  BOOST_TEST(got == (std::vector<std::uint64_t>{2, 4, 6}), boost::test_tools::per_element());
}

// The context destroyed with a call pending: no handler runs, the reply port goes with it.
BOOST_FIXTURE_TEST_CASE(context_destroyed_with_a_call_pending, machport_test::leak_check) {
  port_pair p;
  bool ran = false;
  {
    auto io = std::make_unique<asio::io_context>();
    machport::async_call<answer>(*io, p.send, question{1, {}}, [&](error_code, answer) { ran = true; });
    io->poll();
    io.reset();
  }
  BOOST_TEST(!ran);
  // The request is still queued; its reply right arrives dead (the reply port is gone).
  question q = require(machport::decode<question>(require(machport::receive(p.receive, {.timeout = guard}))));
  BOOST_TEST(machport::send(std::move(q.reply), machport::encode(answer{2}), guard).error() ==
             machport::make_msg_error(MACH_SEND_INVALID_DEST));
}

// A completed call whose handler waits on another context that outlives the call's context:
// the reply port went when the reply came, so the handler runs, or is destroyed, safely.
BOOST_FIXTURE_TEST_CASE(a_handler_outliving_the_call_context, machport_test::leak_check) {
  asio::io_context handler_io;
  std::optional<std::uint64_t> got;
  {
    asio::io_context io;
    server s(io);
    s.answer_questions(1);
    machport::async_call<answer>(io, s.send, question{1, {}},
                                 asio::bind_executor(handler_io, [&](error_code ec, answer a) {
                                   BOOST_TEST(!ec, ec.message());
                                   got = a.n;
                                 }));
    io.run();  // the reply is bound and the handler handed to handler_io
    BOOST_TEST(!got.has_value());
  }
  handler_io.run();
  BOOST_TEST(got.value_or(0) == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
