// port_set: membership, destruction, receiving from a set.
#include "core_util.hpp"

#include "support/leak_check.hpp"

using namespace machport;
using namespace core_test;

BOOST_FIXTURE_TEST_SUITE(port_sets, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(port_set_membership) {
  auto set = require(port_set::allocate());
  auto r = require(receive_right::allocate());
  BOOST_TEST(type_of(set.name()) == MACH_PORT_TYPE_PORT_SET);
  require(set.insert(r));
  BOOST_TEST(require(r.status()).in_set);
  BOOST_TEST(set.insert(r).error() == make_kern_error(KERN_ALREADY_IN_SET));
  require(set.extract(r));
  BOOST_TEST(set.extract(r).error() == make_kern_error(KERN_NOT_IN_SET));
  require(set.insert(r));
  port_set moved = std::move(set);
  BOOST_TEST(!set.valid());
  mach_port_name_t n = moved.name();
  moved.reset();  // destroys the set; the member stays
  BOOST_TEST(!name_exists(n));
  BOOST_TEST(!require(r.status()).in_set);
  auto s2 = port_set::adopt(require(port_set::allocate()).release());
  BOOST_TEST(s2.valid());
}

BOOST_AUTO_TEST_CASE(receive_from_port_set) {
  auto set = require(port_set::allocate());
  auto p = make_port();
  require(set.insert(p.receive));
  require(send(p.send, message_builder(5).build()));
  receive_options o;
  o.timeout = guard;
  auto m = require(receive(set, o));
  BOOST_TEST(m.id() == 5);
  BOOST_TEST(m.header().msgh_local_port == p.receive.name());
}

BOOST_AUTO_TEST_SUITE_END()
