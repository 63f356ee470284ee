// Bootstrap rendezvous between two emulated tasks (machport_emu task API), and a name taken by
// bootstrap_register.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <machport/bootstrap.hpp>

#include <machport_emu/task.hpp>
#include <servers/bootstrap.h>

#include <atomic>
#include <string>
#include <unistd.h>

using namespace machport;
using namespace core_test;

namespace {

std::string unique_service_name() {
  static std::atomic<int> counter{0};
  return "org.machport.core-tests.emu-bootstrap." + std::to_string(::getpid()) + "." +
         std::to_string(counter++);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(emu_only_bootstrap_tests, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(client_task_looks_up_and_sends) {
  const std::string name = unique_service_name();
  receive_right service = require(bootstrap_check_in(name));
  auto client_task = machport_emu::task_create({"client", 501, 20});
  {
    machport_emu::task_scope as(client_task);
    // The name is taken for every task.
    const auto again = bootstrap_check_in(name);
    BOOST_TEST_REQUIRE(!again.has_value());
    BOOST_TEST(again.error() == make_bootstrap_error(BOOTSTRAP_SERVICE_ACTIVE));
    send_right to_service = require(bootstrap_look_up(name));
    BOOST_TEST(type_of(to_service.name()) == MACH_PORT_TYPE_SEND);  // a name of its own space
    require(send(to_service, message_builder(9).build(), guard));
  }
  BOOST_TEST(receive_now(service).id() == 9);
  machport_emu::task_terminate(client_task);
}

BOOST_AUTO_TEST_CASE(registered_name_cannot_be_checked_in) {
  const std::string name = unique_service_name();
  auto port = make_port();
  name_t cname{};
  name.copy(cname, sizeof cname - 1);
  BOOST_TEST_REQUIRE(bootstrap_register(bootstrap_port, cname, port.send.name()) ==
                     BOOTSTRAP_SUCCESS);
  const auto r = bootstrap_check_in(name);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error() == make_bootstrap_error(BOOTSTRAP_NOT_PRIVILEGED));
  send_right looked = require(bootstrap_look_up(name));
  BOOST_TEST(looked.name() == port.send.name());
  BOOST_TEST(bootstrap_register(bootstrap_port, cname, MACH_PORT_NULL) == BOOTSTRAP_SUCCESS);
}

BOOST_AUTO_TEST_SUITE_END()
