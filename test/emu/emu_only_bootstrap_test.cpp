// The bootstrap namespace (one per process in the emulator). On macOS launchd only lets a
// process check in services declared in its plist, so these run on the emulator only.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <servers/bootstrap.h>

#include <machport_emu/task.hpp>

#include <atomic>
#include <string>
#include <unistd.h>

using namespace machport_test;
namespace emu = machport_emu;

namespace {
std::string service_name() {
  static std::atomic<int> counter{0};
  return "org.machport.emu-tests.bootstrap." + std::to_string(::getpid()) + "." +
         std::to_string(counter++);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(emu_only_bootstrap)

BOOST_FIXTURE_TEST_CASE(check_in_and_look_up, leak_check) {
  const std::string name = service_name();
  mach_port_t rcv = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(bootstrap_check_in(bootstrap_port, name.c_str(), &rcv) == KERN_SUCCESS);
  BOOST_TEST(type_of(rcv) == MACH_PORT_TYPE_RECEIVE);
  mach_port_t again = MACH_PORT_NULL;
  BOOST_TEST(bootstrap_check_in(bootstrap_port, name.c_str(), &again) ==
             BOOTSTRAP_SERVICE_ACTIVE);
  // Looked up in the same task, the send right joins the receive name.
  mach_port_t snd = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(bootstrap_look_up(bootstrap_port, name.c_str(), &snd) == KERN_SUCCESS);
  BOOST_TEST(snd == rcv);
  BOOST_TEST(type_of(rcv) == MACH_PORT_TYPE_SEND_RECEIVE);
  // From another task: a send right under that task's own name.
  emu::task_id t = emu::task_create({"client", 501, 20});
  {
    emu::task_scope s(t);
    mach_port_t other = MACH_PORT_NULL;
    BOOST_TEST(bootstrap_check_in(bootstrap_port, name.c_str(), &other) ==
               BOOTSTRAP_SERVICE_ACTIVE);
    BOOST_TEST_REQUIRE(bootstrap_look_up(bootstrap_port, name.c_str(), &other) == KERN_SUCCESS);
    BOOST_TEST(type_of(other) == MACH_PORT_TYPE_SEND);
    BOOST_TEST(send_header(other, MACH_MSG_TYPE_MOVE_SEND, MACH_PORT_NULL, 0, 3) ==
               MACH_MSG_SUCCESS);
  }
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(rcv, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 3);
  emu::task_terminate(t);
  // Once the service's port is gone the name is unknown again.
  BOOST_TEST(mach_port_destruct(self(), rcv, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(bootstrap_look_up(bootstrap_port, name.c_str(), &snd) == BOOTSTRAP_UNKNOWN_SERVICE);
}

BOOST_FIXTURE_TEST_CASE(look_up_unknown, leak_check) {
  mach_port_t snd = MACH_PORT_NULL;
  BOOST_TEST(bootstrap_look_up(bootstrap_port, service_name().c_str(), &snd) ==
             BOOTSTRAP_UNKNOWN_SERVICE);
  BOOST_TEST(snd == MACH_PORT_NULL);
}

BOOST_FIXTURE_TEST_CASE(register_and_unregister, leak_check) {
  std::string name = service_name();
  name_t cname{};
  name.copy(cname, sizeof cname - 1);
  mach_port_name_t p = make_port_with_send();
  BOOST_TEST(bootstrap_register(bootstrap_port, cname, p) == KERN_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);  // the namespace copied the right
  BOOST_TEST(bootstrap_register(bootstrap_port, cname, p) == BOOTSTRAP_NAME_IN_USE);
  mach_port_t looked = MACH_PORT_NULL;
  BOOST_TEST(bootstrap_look_up(bootstrap_port, cname, &looked) == KERN_SUCCESS);
  BOOST_TEST(looked == p);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 2u);
  BOOST_TEST(bootstrap_register(bootstrap_port, cname, MACH_PORT_NULL) == KERN_SUCCESS);
  BOOST_TEST(bootstrap_look_up(bootstrap_port, cname, &looked) == BOOTSTRAP_UNKNOWN_SERVICE);
  BOOST_TEST(mach_port_destruct(self(), p, -2, 0) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(bootstrap_error_strings, leak_check) {
  BOOST_TEST(std::string(bootstrap_strerror(BOOTSTRAP_UNKNOWN_SERVICE)) == "Unknown service name");
  BOOST_TEST(std::string(bootstrap_strerror(BOOTSTRAP_SUCCESS)) == "Success");
}

BOOST_AUTO_TEST_SUITE_END()
