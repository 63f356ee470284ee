// A MIG service found through the bootstrap server: the server task checks a name in and
// serves it with async_mig_serve on an io_context; a client task (the emulator's task API, on
// its own thread) looks the name up and makes MIG-style calls (send with a send-once reply
// port, then a blocking receive of the reply).
#include "async_util.hpp"
#include "mig_test_server.hpp"

#include <support/leak_check.hpp>

#include <machport/bootstrap.hpp>

#include <machport_emu/task.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace async_test;
using namespace mig_test;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

std::string unique_service_name() {
  static std::atomic<int> counter{0};
  return "org.machport.async-tests.mig." + std::to_string(::getpid()) + "." +
         std::to_string(counter++);
}

// One MIG-style call: the request gets a send-once right to `reply_port` as its reply port;
// waits for the reply (bounded by `guard`). Runs on the client's thread, so it reports
// failures in its result rather than through Boost.Test.
machport::result<machport::message> call(const machport::send_right& service,
                                         machport::message&& request,
                                         const machport::receive_right& reply_port) {
  BOOST_OUTCOME_TRY(machport::send(service, std::move(request), guard));
  machport::receive_options o;
  o.timeout = guard;
  return machport::receive(reply_port, o);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(emu_only_mig_bootstrap_tests, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(client_task_calls_a_checked_in_service) {
  const std::string name = unique_service_name();
  asio::io_context io;
  machport::receive_port port(io, require(machport::bootstrap_check_in(name)));
  test_server server;
  asio::cancellation_signal stop;
  std::optional<error_code> ec;
  std::vector<mach_msg_id_t> served;
  machport::async_mig_serve(
      port, std::ref(server), machport::mig_serve_options{max_reply},
      [&](mach_msg_id_t id, const machport::result<machport::mig_served>& r) {
        BOOST_TEST(r.has_value());
        served.push_back(id);
      },
      asio::bind_cancellation_slot(stop.slot(), [&](error_code e) { ec = e; }));

  const auto client_task = machport_emu::task_create({"mig-client", 501, 20});
  std::vector<std::int32_t> sums;
  std::vector<kern_return_t> ret_codes;
  std::vector<std::string> client_errors;  // checked on the test's thread
  std::thread client([&] {
    machport_emu::task_scope as(client_task);
    auto calls = [&]() -> machport::result<void> {
      BOOST_OUTCOME_TRY(auto service, machport::bootstrap_look_up(name));
      BOOST_OUTCOME_TRY(auto reply_port, machport::receive_right::allocate());
      for (std::int32_t i = 0; i < 3; ++i) {
        BOOST_OUTCOME_TRY(auto reply, call(service, add_request_msg(reply_port, i, 10), reply_port));
        add_reply r{};
        if (reply.size() == sizeof r) std::memcpy(&r, reply.bytes().data(), sizeof r);
        sums.push_back(r.sum);
      }
      BOOST_OUTCOME_TRY(auto bad, call(service, simple_request_msg(reply_port, unknown_id), reply_port));
      mig_reply_error_t e{};
      if (bad.size() == sizeof e) std::memcpy(&e, bad.bytes().data(), sizeof e);
      ret_codes.push_back(e.RetCode);
      return machport::success();
    };
    if (auto r = calls(); !r) client_errors.push_back(r.error().message());
    // Done: stop the server from its own executor (cancellation is emitted there).
    asio::post(io, [&] { stop.emit(asio::cancellation_type::terminal); });
  });
  io.run();  // until the server stopped
  client.join();
  machport_emu::task_terminate(client_task);

  BOOST_TEST(client_errors.empty(), (client_errors.empty() ? "" : client_errors.front()));
  BOOST_TEST_REQUIRE(ec.has_value());
  BOOST_TEST(*ec == asio::error::operation_aborted);
  BOOST_TEST(sums == (std::vector<std::int32_t>{10, 11, 12}), boost::test_tools::per_element());
  BOOST_TEST(ret_codes == (std::vector<kern_return_t>{MIG_BAD_ID}), boost::test_tools::per_element());
  BOOST_TEST(served == (std::vector<mach_msg_id_t>{add_id, add_id, add_id, unknown_id}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
