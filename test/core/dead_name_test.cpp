// dead_name: allocate, move, the dead-name notification's uref.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <mach/notify.h>

using namespace machport;
using namespace core_test;

BOOST_FIXTURE_TEST_SUITE(dead_names, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(dead_name_allocate_and_release) {
  auto d = require(dead_name::allocate());
  BOOST_TEST(type_of(d.name()) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(require(d.urefs()) == 1u);
  dead_name moved = std::move(d);
  BOOST_TEST(!d.valid());
  BOOST_TEST(moved.valid());
  dead_name other;
  other = std::move(moved);
  BOOST_TEST(other.valid());
  mach_port_name_t n = other.release();
  BOOST_TEST(mach_port_deallocate(mach_task_self(), n) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_CASE(dead_name_notification_uref_is_released) {
  auto r = require(receive_right::allocate());
  auto notify = require(receive_right::allocate());
  send_right s;
  {
    auto victim = require(receive_right::allocate());
    s = require(victim.make_send());
    auto so = require(notify.make_send_once());
    mach_port_t previous = MACH_PORT_NULL;
    BOOST_TEST_REQUIRE(mach_port_request_notification(mach_task_self(), s.name(), MACH_NOTIFY_DEAD_NAME,
                                                      0, so.release(), MACH_MSG_TYPE_MOVE_SEND_ONCE,
                                                      &previous) == KERN_SUCCESS);
  }
  auto m = receive_now(notify);
  BOOST_TEST(m.id() == MACH_NOTIFY_DEAD_NAME);
  auto p = require(parse(std::move(m)));
  auto reader = p.reader();
  (void)require(reader.read_bytes(8));  // NDR
  auto not_port = require(reader.read<mach_port_name_t>());
  BOOST_TEST(not_port == s.name());
  dead_name carried = dead_name::adopt(not_port);  // the notification's uref
  BOOST_TEST(require(carried.urefs()) == 2u);
  BOOST_TEST(p.trailer().audit()->is_kernel());
}

BOOST_AUTO_TEST_SUITE_END()
