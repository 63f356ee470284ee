// basic_receive_port on an io_context run by several threads, with and without strands.
#include "async_util.hpp"

#include <support/leak_check.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

using namespace async_test;
namespace asio = boost::asio;
using boost::system::error_code;

BOOST_AUTO_TEST_SUITE(threads)

namespace {

constexpr std::uint64_t message_count = 2000;

// A receive loop that re-arms from its handler, reusing the message storage. Handlers run on
// both threads, so they never use Boost.Test (not thread-safe): they record what they saw, and
// the test checks it after joining. An error stops every loop.
template <class Port>
struct receive_loop {
  Port& port;
  std::vector<std::uint64_t>& got;
  std::vector<error_code>& errors;
  std::mutex* guard_mutex;  // null when the handlers are serialised (strand)
  void start(machport::message storage = {}) {
    port.async_receive(std::move(storage), {}, *this);
  }
  void operator()(error_code ec, machport::message m) {
    if (ec == asio::error::operation_aborted) return;  // the test is over
    auto v = ec ? machport::result<numbered>(ec)
                : machport::decode<numbered>(m);  // decode in place: the buffer stays
    {
      std::unique_lock<std::mutex> lock;
      if (guard_mutex) lock = std::unique_lock<std::mutex>(*guard_mutex);
      if (!v) errors.push_back(v.error());
      else got.push_back(v.value().n);
      if (!v || got.size() == message_count) {
        port.cancel();  // the other loops' receives: the test is over
        return;
      }
      // Still under the lock: a receive started after the cancel above would wait forever.
      start(std::move(m));
    }
  }
};

// Sends numbered{0 .. message_count - 1} from another thread; records a failure instead of
// using Boost.Test there.
// After a failure it calls give_up (which cancels the receives, so the test ends).
struct sender_thread {
  const machport::send_right& to;
  std::function<void()> give_up;
  error_code failure;
  std::thread thread{[this] {
    for (std::uint64_t n = 0; n < message_count; ++n) {
      auto r = machport::send(to, machport::encode(numbered{n}), guard);
      if (!r) {
        failure = r.error();
        give_up();
        return;
      }
    }
  }};
  ~sender_thread() { if (thread.joinable()) thread.join(); }
};

}  // namespace

// One receive pending at a time on a strand: messages arrive in order although two threads
// run the context.
BOOST_FIXTURE_TEST_CASE(strand_keeps_order_with_two_threads, machport_test::leak_check) {
  asio::io_context io(2);
  port_pair p;
  machport::basic_receive_port<asio::strand<asio::io_context::executor_type>> port(
      asio::make_strand(io), std::move(p.receive));
  require(port.right().set_queue_limit(MACH_PORT_QLIMIT_LARGE));
  std::vector<std::uint64_t> got;
  std::vector<error_code> errors;
  receive_loop<decltype(port)> loop{port, got, errors, nullptr};
  loop.start();
  sender_thread sender{p.send, [&] { port.cancel(); }, {}};
  std::thread runner([&] { io.run(); });
  io.run();
  runner.join();
  sender.thread.join();
  BOOST_TEST(!sender.failure, sender.failure.message());
  BOOST_TEST(errors.empty());
  BOOST_TEST_REQUIRE(got.size() == message_count);
  for (std::uint64_t n = 0; n < message_count; ++n) BOOST_TEST_REQUIRE(got[n] == n);
}

// Several receives pending at once from two threads: every message is received exactly once.
// The handler that stores the last message cancels the receives still pending, so both threads'
// run() return whichever thread ran it.
BOOST_FIXTURE_TEST_CASE(many_pending_receives_two_threads, machport_test::leak_check) {
  asio::io_context io(2);
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  require(port.right().set_queue_limit(MACH_PORT_QLIMIT_LARGE));
  std::mutex m;
  std::vector<std::uint64_t> got;
  std::vector<error_code> errors;
  std::vector<receive_loop<machport::receive_port>> loops(4, {port, got, errors, &m});
  for (auto& l : loops) l.start();
  sender_thread sender{p.send, [&] { port.cancel(); }, {}};
  std::thread runner([&] { io.run(); });
  io.run();
  runner.join();
  sender.thread.join();
  BOOST_TEST(!sender.failure, sender.failure.message());
  BOOST_TEST(errors.empty());
  std::sort(got.begin(), got.end());
  BOOST_TEST_REQUIRE(got.size() == message_count);
  for (std::uint64_t n = 0; n < message_count; ++n) BOOST_TEST_REQUIRE(got[n] == n);
}

// Cancellation racing a message's arrival and its binding: two threads run the context, the
// message is sent from a third, and the emit runs on the handler's strand (a cancellation
// signal is not thread-safe, so it must not race the handler's own completion). Whatever wins,
// the message is either delivered to the handler or still in the port: never lost, never both.
BOOST_FIXTURE_TEST_CASE(cancellation_racing_arrival_never_loses_a_message, machport_test::leak_check) {
  int delivered = 0;
  int kept = 0;
  for (std::uint64_t i = 0; i < 200; ++i) {
    asio::io_context io(2);
    port_pair p;
    machport::receive_port port(io, std::move(p.receive));
    auto strand = asio::make_strand(io);
    asio::cancellation_signal sig;
    bool got = false;
    error_code result;
    port.async_receive(asio::bind_cancellation_slot(
        sig.slot(), asio::bind_executor(strand, [&](error_code ec, machport::message m) {
          result = ec;
          got = !m.empty();
        })));
    error_code send_failure;
    std::thread sender([&] {
      auto r = machport::send(p.send, machport::encode(numbered{i}), guard);
      if (!r) send_failure = r.error();
    });
    asio::post(strand, [&] { sig.emit(asio::cancellation_type::terminal); });
    std::thread runner([&] { io.run(); });
    io.run();
    runner.join();
    sender.join();
    BOOST_TEST_REQUIRE(!send_failure, send_failure.message());
    const auto left = queued(port.right());
    if (got) {
      BOOST_TEST(!result);
      BOOST_TEST(left == 0u);
      ++delivered;
    } else {
      BOOST_TEST(result == asio::error::operation_aborted);
      BOOST_TEST_REQUIRE(left == 1u);
      BOOST_TEST(number_of(require(machport::receive(port.right(), {.timeout = guard}))) == i);
      ++kept;
    }
  }
  BOOST_TEST_MESSAGE("delivered " << delivered << ", left in the port " << kept);
  BOOST_TEST(delivered + kept == 200);
}

BOOST_AUTO_TEST_SUITE_END()
