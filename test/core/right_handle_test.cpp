// detail::right_handle, shared by every right class: identity, hash, empty rights.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <unordered_set>

using namespace machport;
using namespace core_test;

BOOST_FIXTURE_TEST_SUITE(right_handles, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(identity_and_hash) {
  auto a = require(receive_right::allocate());
  auto b = require(receive_right::allocate());
  BOOST_TEST(!(a == b));
  auto sa = require(a.make_send());
  auto sa2 = sa;
  BOOST_TEST((sa == sa2));
  BOOST_TEST(std::hash<send_right>{}(sa) == std::hash<send_right>{}(sa2));
  std::unordered_set<receive_right> set;
  set.insert(std::move(a));
  set.insert(std::move(b));
  BOOST_TEST(set.size() == 2u);
  BOOST_TEST(std::hash<send_once_right>{}(send_once_right{}) == std::hash<mach_port_name_t>{}(0));
  BOOST_TEST(std::hash<port_set>{}(port_set{}) == std::hash<mach_port_name_t>{}(0));
  BOOST_TEST(std::hash<dead_name>{}(dead_name{}) == std::hash<mach_port_name_t>{}(0));
}

BOOST_AUTO_TEST_CASE(empty_rights_release_nothing) {
  send_right s;
  send_once_right so;
  receive_right r;
  port_set ps;
  dead_name d;
  BOOST_TEST(!s);
  BOOST_TEST(!so);
  BOOST_TEST(!r);
  BOOST_TEST(!ps);
  BOOST_TEST(!d);
  BOOST_TEST(!s.is_dead());
  auto dead = send_right::adopt(MACH_PORT_DEAD);
  BOOST_TEST(dead.is_dead());
  BOOST_TEST(!dead.valid());
  send_right dead_copy = dead;
  BOOST_TEST(dead_copy.name() == MACH_PORT_DEAD);
}

BOOST_AUTO_TEST_SUITE_END()
