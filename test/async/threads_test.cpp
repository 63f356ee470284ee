// basic_receive_port on an io_context run by several threads, with and without strands.
#include "async_util.hpp"

#include <support/leak_check.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

using namespace async_test;
namespace asio = boost::asio;
using boost::system::error_code;

BOOST_AUTO_TEST_SUITE(threads)

namespace {

constexpr std::uint64_t message_count = 2000;

// A receive loop that re-arms from its handler, reusing the message storage.
template <class Port>
struct receive_loop {
  Port& port;
  std::vector<std::uint64_t>& got;
  std::mutex* guard_mutex;  // null when the handlers are serialised (strand)
  void start(machport::message storage = {}) {
    port.async_receive(std::move(storage), {}, *this);
  }
  void operator()(error_code ec, machport::message m) {
    if (ec == asio::error::operation_aborted) return;  // the test is over
    BOOST_TEST_REQUIRE(!ec, ec.message());
    auto v = require(machport::decode<numbered>(m));  // decode in place: the buffer stays
    {
      std::unique_lock<std::mutex> lock;
      if (guard_mutex) lock = std::unique_lock<std::mutex>(*guard_mutex);
      got.push_back(v.n);
      if (got.size() == message_count) return;
    }
    start(std::move(m));
  }
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
  receive_loop<decltype(port)> loop{port, got, nullptr};
  loop.start();
  std::thread sender([&] {
    for (std::uint64_t n = 0; n < message_count; ++n) send_number(p.send, n);
  });
  std::thread runner([&] { io.run(); });
  io.run();
  runner.join();
  sender.join();
  BOOST_TEST_REQUIRE(got.size() == message_count);
  for (std::uint64_t n = 0; n < message_count; ++n) BOOST_TEST_REQUIRE(got[n] == n);
}

// Several receives pending at once from two threads: every message is received exactly once.
BOOST_FIXTURE_TEST_CASE(many_pending_receives_two_threads, machport_test::leak_check) {
  asio::io_context io(2);
  port_pair p;
  machport::receive_port port(io, std::move(p.receive));
  require(port.right().set_queue_limit(MACH_PORT_QLIMIT_LARGE));
  std::mutex m;
  std::vector<std::uint64_t> got;
  std::vector<receive_loop<machport::receive_port>> loops(4, {port, got, &m});
  for (auto& l : loops) l.start();
  std::thread sender([&] {
    for (std::uint64_t n = 0; n < message_count; ++n) send_number(p.send, n);
  });
  std::thread runner([&] { io.run_until(std::chrono::steady_clock::now() + guard); });
  // Runs until all messages are in, then cancels the loops that still wait.
  while (true) {
    io.run_one();
    std::lock_guard lock(m);
    if (got.size() >= message_count) break;
  }
  port.cancel();
  io.run();
  runner.join();
  sender.join();
  std::sort(got.begin(), got.end());
  BOOST_TEST_REQUIRE(got.size() == message_count);
  for (std::uint64_t n = 0; n < message_count; ++n) BOOST_TEST_REQUIRE(got[n] == n);
}

BOOST_AUTO_TEST_SUITE_END()
