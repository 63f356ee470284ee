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

// Regression: empty rights answered inconsistently (queue_limit() gave 0, status() failed,
// urefs() on an empty send_right gave 1). Every call on an empty right (MACH_PORT_NULL, or
// MACH_PORT_DEAD, which owns nothing either) now fails with KERN_INVALID_NAME.
BOOST_AUTO_TEST_CASE(empty_right_calls_fail_with_invalid_name) {
  const auto invalid_name = make_kern_error(KERN_INVALID_NAME);
  for (mach_port_name_t empty : {mach_port_name_t{MACH_PORT_NULL}, MACH_PORT_DEAD}) {
    auto s = send_right::adopt(empty);
    BOOST_TEST(s.type().error() == invalid_name);
    BOOST_TEST(s.urefs().error() == invalid_name);
    auto so = send_once_right::adopt(empty);
    BOOST_TEST(so.type().error() == invalid_name);
    auto d = dead_name::adopt(empty);
    BOOST_TEST(d.urefs().error() == invalid_name);
    auto r = receive_right::adopt(empty);
    BOOST_TEST(r.make_send().error() == invalid_name);
    BOOST_TEST(r.make_send_once().error() == invalid_name);
    BOOST_TEST(r.queue_limit().error() == invalid_name);
    BOOST_TEST(r.set_queue_limit(1).error() == invalid_name);
    BOOST_TEST(r.status().error() == invalid_name);
    BOOST_TEST(r.message_count().error() == invalid_name);
    BOOST_TEST(r.make_send_count().error() == invalid_name);
    BOOST_TEST(r.set_make_send_count(1).error() == invalid_name);
    BOOST_TEST(r.seqno().error() == invalid_name);
    BOOST_TEST(r.set_seqno(1).error() == invalid_name);
    BOOST_TEST(r.context().error() == invalid_name);
    BOOST_TEST(r.set_context(1).error() == invalid_name);
    BOOST_TEST(r.guard_with(1).error() == invalid_name);
    BOOST_TEST(r.unguard().error() == invalid_name);
    auto ps = port_set::adopt(empty);
    auto member = require(receive_right::allocate());
    BOOST_TEST(ps.insert(member).error() == invalid_name);
    BOOST_TEST(ps.extract(member).error() == invalid_name);
    auto set = require(port_set::allocate());
    BOOST_TEST(set.insert(r).error() == invalid_name);
    BOOST_TEST(set.extract(r).error() == invalid_name);
    BOOST_TEST(invalid_name.message().find("KERN_INVALID_NAME") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
