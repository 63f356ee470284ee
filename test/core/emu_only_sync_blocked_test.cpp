// Synchronous receives that are blocked when the event that ends them happens. The emulator's
// wait_until_blocked hook makes each test take the blocked path on every run (no retries, no
// races); on a Mac nothing can tell that a thread is blocked, so these run on the emulator.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <machport_emu/task.hpp>

#include <thread>

using namespace machport;
using namespace core_test;

namespace {

// Receives on `name` in another thread, waits until that thread is blocked in the kernel,
// then runs `event` and returns what the receive got.
template <class Event>
result<message> receive_while_blocked(mach_port_name_t name, const receive_options& o,
                                      Event event) {
  result<message> got = make_msg_error(MACH_RCV_INVALID_NAME);
  std::thread t([&] { got = receive(name, o); });
  BOOST_TEST_REQUIRE(machport_emu::wait_until_blocked(machport_emu::current_task(), name,
                                                      machport_emu::blocked_in::receive, 1));
  event();
  t.join();
  return got;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(sync_calls_blocked, machport_test::leak_check)

// A blocked receive is woken by a send.
BOOST_AUTO_TEST_CASE(receive_in_thread_woken_by_send) {
  auto p = make_port();
  receive_options o;
  o.timeout = guard;
  auto got = receive_while_blocked(p.receive.name(), o, [&] {
    require(send(p.send, message_builder(42).add<std::uint32_t>(7).build()));
  });
  BOOST_TEST_REQUIRE(got.has_value());
  auto parsed = require(parse(std::move(got).value()));
  BOOST_TEST(parsed.id() == 42);
  BOOST_TEST(require(parsed.reader().read<std::uint32_t>()) == 7u);
}

// Destroying a port set while another thread receives on it: MACH_RCV_PORT_CHANGED, an error
// naming the constant, and nothing leaks.
BOOST_AUTO_TEST_CASE(receive_on_destroyed_set) {
  auto set = require(port_set::allocate());
  receive_options o;  // no timeout: only the destruction can end it
  auto got = receive_while_blocked(set.name(), o, [&] { set.reset(); });
  BOOST_TEST_REQUIRE(got.has_error());
  BOOST_TEST(got.error() == make_msg_error(MACH_RCV_PORT_CHANGED));
  BOOST_TEST(got.error().message().find("MACH_RCV_PORT_CHANGED") != std::string::npos);
}

// Regression: a timeout near milliseconds::max() overflowed the deadline (clock::now() + t),
// which then lay in the past: the receive timed out at once instead of waiting for the send.
BOOST_AUTO_TEST_CASE(receive_timeout_near_max_waits) {
  auto p = make_port();
  receive_options o;
  o.timeout = std::chrono::milliseconds::max() - std::chrono::milliseconds(1);
  auto got = receive_while_blocked(p.receive.name(), o,
                                   [&] { require(send(p.send, message_builder(43).build())); });
  BOOST_TEST_REQUIRE(got.has_value(), (got ? std::string() : got.error().message()));
  BOOST_TEST(got.value().id() == 43);
}

BOOST_AUTO_TEST_SUITE_END()
