// send_once_right: the send-once notification, moves, port death.
#include "core_util.hpp"

#include "support/leak_check.hpp"

using namespace machport;
using namespace core_test;

BOOST_FIXTURE_TEST_SUITE(send_once_rights, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(send_once_destroyed_fires_notification) {
  auto r = require(receive_right::allocate());
  {
    auto so = require(r.make_send_once());
    BOOST_TEST(so.valid());
    BOOST_TEST(so.name() != r.name());
    BOOST_TEST(require(so.type()) == MACH_PORT_TYPE_SEND_ONCE);
    BOOST_TEST(!so.is_dead());
    BOOST_TEST(require(r.status()).send_once_rights == 1u);
  }
  expect_send_once_notification(r);
  BOOST_TEST(queue_empty(r));
}

BOOST_AUTO_TEST_CASE(send_once_move_and_release) {
  auto r = require(receive_right::allocate());
  auto so = require(r.make_send_once());
  send_once_right a = std::move(so);
  BOOST_TEST(!so.valid());
  send_once_right b;
  b = std::move(a);
  BOOST_TEST(b.valid());
  mach_port_name_t n = b.release();
  BOOST_TEST(type_of(n) == MACH_PORT_TYPE_SEND_ONCE);
  auto back = send_once_right::adopt(n);
  back.reset();
  expect_send_once_notification(r);
}

BOOST_AUTO_TEST_CASE(send_once_to_dead_port_is_dead) {
  send_once_right so;
  {
    auto r = require(receive_right::allocate());
    so = require(r.make_send_once());
  }
  BOOST_TEST(so.is_dead());
}

BOOST_AUTO_TEST_SUITE_END()
