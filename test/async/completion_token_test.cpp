// async_receive with every kind of completion token Asio 1.81 offers.
#include "async_util.hpp"

#include <support/leak_check.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <future>
#include <optional>
#include <thread>
#include <variant>

using namespace async_test;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// co_spawns `coro` on `io`, runs it to the end and rethrows what it threw.
template <class F>
void run_coroutine(asio::io_context& io, F&& coro) {
  std::exception_ptr failure;
  bool finished = false;
  asio::co_spawn(io, std::forward<F>(coro), [&](std::exception_ptr e) {
    failure = e;
    finished = true;
  });
  io.run();
  BOOST_TEST_REQUIRE(finished);
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(completion_tokens)

BOOST_FIXTURE_TEST_CASE(use_future_from_another_thread, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  std::future<machport::message> f = port.async_receive(asio::use_future);
  send_number(p.send, 1);
  io.run();
  BOOST_TEST(number_of(f.get()) == 1u);
  // An error reaches the future as a system_error.
  port.close();
  auto failed = port.async_receive(asio::use_future);
  io.restart();
  io.run();
  BOOST_CHECK_THROW(failed.get(), boost::system::system_error);
}

BOOST_FIXTURE_TEST_CASE(deferred_starts_when_invoked, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  auto op = port.async_receive(asio::deferred);
  send_number(p.send, 2);
  io.poll();
  BOOST_TEST(queued(port.right()) == 1u);  // not started yet
  std::optional<std::uint64_t> got;
  std::move(op)([&](error_code ec, machport::message m) {
    BOOST_TEST_REQUIRE(!ec);
    got = number_of(std::move(m));
  });
  io.restart();  // the poll above ran out of work
  io.run();
  BOOST_TEST(got.value_or(~0ull) == 2u);
}

BOOST_FIXTURE_TEST_CASE(co_await_use_awaitable_and_as_tuple, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  send_number(p.send, 3);
  send_number(p.send, 4);
  run_coroutine(io, [&]() -> asio::awaitable<void> {
    machport::message m = co_await port.async_receive(asio::use_awaitable);
    BOOST_TEST(number_of(std::move(m)) == 3u);
    auto [ec, m2] = co_await port.async_receive(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!ec);
    BOOST_TEST(number_of(std::move(m2)) == 4u);
    numbered typed{};
    send_number(p.send, 5);
    typed = co_await port.async_receive<numbered>(asio::use_awaitable);
    BOOST_TEST(typed.n == 5u);
  });
}

BOOST_FIXTURE_TEST_CASE(redirect_error_gives_the_code, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  port.close();
  run_coroutine(io, [&]() -> asio::awaitable<void> {
    error_code ec;
    machport::message m = co_await port.async_receive(asio::redirect_error(asio::use_awaitable, ec));
    BOOST_TEST(ec == machport::make_msg_error(MACH_RCV_INVALID_NAME));
    BOOST_TEST(m.empty());
  });
}

BOOST_FIXTURE_TEST_CASE(default_token_of_the_executor, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  using awaitable_port = asio::use_awaitable_t<>::as_default_on_t<machport::receive_port>;
  awaitable_port port(io, std::move(p.receive));
  send_number(p.send, 6);
  send_number(p.send, 7);
  run_coroutine(io, [&]() -> asio::awaitable<void> {
    machport::message m = co_await port.async_receive();
    BOOST_TEST(number_of(std::move(m)) == 6u);
    numbered v = co_await port.async_receive<numbered>();
    BOOST_TEST(v.n == 7u);
  });
}

// || cancels the loser: a receive that lost to a timer leaves the message in the port.
BOOST_FIXTURE_TEST_CASE(awaitable_or_with_a_timer, machport_test::leak_check) {
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  run_coroutine(io, [&]() -> asio::awaitable<void> {
    asio::steady_timer timer(io, std::chrono::milliseconds(1));
    auto r = co_await (port.async_receive(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
    BOOST_TEST(r.index() == 1u);  // the timer won: nothing was sent
    send_number(p.send, 8);
    BOOST_TEST(queued(port.right()) == 1u);
    timer.expires_after(guard);
    auto r2 = co_await (port.async_receive(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
    BOOST_TEST_REQUIRE(r2.index() == 0u);
    BOOST_TEST(number_of(std::move(std::get<0>(r2))) == 8u);
  });
}

BOOST_FIXTURE_TEST_CASE(parallel_group_returns_every_result, machport_test::leak_check) {
  asio::io_context io;
  port_pair a, b;
  machport::receive_port pa(io, std::move(a.receive));
  machport::receive_port pb(io, std::move(b.receive));
  send_number(a.send, 9);
  send_number(b.send, 10);
  bool done = false;
  asio::experimental::make_parallel_group(pa.async_receive(asio::deferred), pb.async_receive(asio::deferred))
      .async_wait(asio::experimental::wait_for_all(),
                  [&](std::array<std::size_t, 2>, error_code ea, machport::message ma, error_code eb,
                      machport::message mb) {
                    BOOST_TEST(!ea);
                    BOOST_TEST(!eb);
                    BOOST_TEST(number_of(std::move(ma)) == 9u);
                    BOOST_TEST(number_of(std::move(mb)) == 10u);
                    done = true;
                  });
  io.run();
  BOOST_TEST(done);
}

// wait_for_one: the first completion cancels the other (a terminal cancellation through the
// group's slots); the cancelled receive leaves its port's message alone.
BOOST_FIXTURE_TEST_CASE(parallel_group_wait_for_one_cancels_the_rest, machport_test::leak_check) {
  asio::io_context io;
  port_pair a, b;
  machport::receive_port pa(io, std::move(a.receive));
  machport::receive_port pb(io, std::move(b.receive));
  send_number(a.send, 11);
  std::optional<error_code> loser;
  asio::experimental::make_parallel_group(pa.async_receive(asio::deferred), pb.async_receive(asio::deferred))
      .async_wait(asio::experimental::wait_for_one(),
                  [&](std::array<std::size_t, 2> order, error_code ea, machport::message ma,
                      error_code eb, machport::message) {
                    BOOST_TEST(order[0] == 0u);
                    BOOST_TEST(!ea);
                    BOOST_TEST(number_of(std::move(ma)) == 11u);
                    loser = eb;
                  });
  io.run();
  BOOST_TEST_REQUIRE(loser.has_value());
  BOOST_TEST(*loser == asio::error::operation_aborted);
  send_number(b.send, 12);
  BOOST_TEST(queued(pb.right()) == 1u);
  BOOST_TEST(number_of(require(machport::receive(pb.right(), {.timeout = guard}))) == 12u);
}

BOOST_FIXTURE_TEST_CASE(detached_and_a_coroutine_per_port, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  std::uint64_t sum = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) sum += number_of(co_await port.async_receive(asio::use_awaitable));
  }, asio::detached);
  for (std::uint64_t n = 1; n <= 3; ++n) send_number(p.send, n);
  io.run();
  BOOST_TEST(sum == 6u);
}

BOOST_AUTO_TEST_SUITE_END()
