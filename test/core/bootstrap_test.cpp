// bootstrap_check_in / bootstrap_look_up: rendezvous through the bootstrap server.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <machport/bootstrap.hpp>

#include <servers/bootstrap.h>

#include <atomic>
#include <string>
#include <unistd.h>

using namespace machport;
using namespace core_test;

namespace {

// A name no other test (or test run) uses.
std::string unique_service_name() {
  static std::atomic<int> counter{0};
  return "org.machport.core-tests.bootstrap." + std::to_string(::getpid()) + "." +
         std::to_string(counter++);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(bootstrap_tests, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(check_in_look_up_and_send) {
  const std::string name = unique_service_name();
  receive_right service = require(bootstrap_check_in(name));
  BOOST_TEST(type_of(service.name()) == MACH_PORT_TYPE_RECEIVE);

  send_right client = require(bootstrap_look_up(name));
  BOOST_TEST(same_port(service, client));  // in this task the send right joins the receive name
  require(send(client, message_builder(77).add(std::uint32_t{5}).build(), guard));
  message m = receive_now(service);
  BOOST_TEST(m.id() == 77);

  // The name stays taken while the service lives.
  const auto again = bootstrap_check_in(name);
  BOOST_TEST_REQUIRE(!again.has_value());
  BOOST_TEST(again.error() == make_bootstrap_error(BOOTSTRAP_SERVICE_ACTIVE));
  BOOST_TEST(again.error().message() == "BOOTSTRAP_SERVICE_ACTIVE");

  // Destroying the receive right ends the service.
  client.reset();
  service.reset();
  const auto gone = bootstrap_look_up(name);
  BOOST_TEST_REQUIRE(!gone.has_value());
  BOOST_TEST(gone.error() == make_bootstrap_error(BOOTSTRAP_UNKNOWN_SERVICE));
}

BOOST_AUTO_TEST_CASE(look_up_unknown_service) {
  const auto r = bootstrap_look_up(unique_service_name());
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error() == make_bootstrap_error(BOOTSTRAP_UNKNOWN_SERVICE));
  BOOST_TEST(&r.error().category() == &bootstrap_category());
  BOOST_TEST(r.error().message() == "BOOTSTRAP_UNKNOWN_SERVICE");
}

BOOST_AUTO_TEST_CASE(name_length_limit) {
  // The longest name fits name_t with its NUL.
  std::string name = unique_service_name();
  name.resize(max_service_name_length, 'x');
  receive_right service = require(bootstrap_check_in(name));
  send_right client = require(bootstrap_look_up(name));
  BOOST_TEST(same_port(service, client));

  // One more byte is refused before the server is asked.
  name.push_back('x');
  for (const auto& r : {bootstrap_check_in(name).error(), bootstrap_look_up(name).error()}) {
    BOOST_TEST(r == make_kern_error(KERN_INVALID_ARGUMENT));
    BOOST_TEST(r == boost::system::errc::invalid_argument);
  }
}

BOOST_AUTO_TEST_CASE(embedded_nul_is_refused) {
  const std::string name = unique_service_name();
  receive_right service = require(bootstrap_check_in(name));
  // The C call would read only up to the NUL and find `name`.
  const std::string longer = name + std::string(1, '\0') + "suffix";
  const auto r = bootstrap_look_up(longer);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error() == make_kern_error(KERN_INVALID_ARGUMENT));
  BOOST_TEST(!bootstrap_check_in(longer).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
