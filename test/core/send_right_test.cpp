// send_right: urefs, copies, copy_from, port death, pegged urefs.
#include "core_util.hpp"

#include "support/leak_check.hpp"

using namespace machport;
using namespace core_test;

BOOST_FIXTURE_TEST_SUITE(send_rights, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(make_send_counts_and_copies) {
  auto r = require(receive_right::allocate());
  {
    auto s = require(r.make_send());
    BOOST_TEST(s.name() == r.name());
    BOOST_TEST(require(r.make_send_count()) == 1u);
    BOOST_TEST(require(s.urefs()) == 1u);
    send_right c = s;  // mod_refs +1
    BOOST_TEST((c == s));
    BOOST_TEST(require(s.urefs()) == 2u);
    send_right d;
    d = c;
    BOOST_TEST(require(s.urefs()) == 3u);
    send_right m = std::move(d);
    BOOST_TEST(!d.valid());
    BOOST_TEST(require(s.urefs()) == 3u);
    c.reset();
    BOOST_TEST(require(s.urefs()) == 2u);
    BOOST_TEST(require(r.make_send_count()) == 1u);  // copies do not make
  }
  BOOST_TEST(type_of(r.name()) == MACH_PORT_TYPE_RECEIVE);
}

BOOST_AUTO_TEST_CASE(copy_from_raw_name) {
  auto p = make_port();
  auto c = require(send_right::copy_from(p.send.name()));
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  auto bad = send_right::copy_from(p.receive.name() + 0x400);
  BOOST_TEST(!bad);
}

BOOST_AUTO_TEST_CASE(send_right_survives_port_death) {
  send_right s;
  {
    auto r = require(receive_right::allocate());
    s = require(r.make_send());
    send_right c = s;
    BOOST_TEST(!s.is_dead());
    // r dies here: the name keeps 2 urefs as a dead name
    (void)c.release();  // keep the second uref, owned by a dead_name below
  }
  BOOST_TEST(s.is_dead());
  BOOST_TEST(require(s.type()) == MACH_PORT_TYPE_DEAD_NAME);
  dead_name extra = dead_name::adopt(s.name());
  BOOST_TEST(require(extra.urefs()) == 2u);
  send_right copy = s;  // copying a dead right adds a dead-name uref
  BOOST_TEST(copy.valid());
  BOOST_TEST(require(extra.urefs()) == 3u);
  // all three release correctly (leak_check verifies the name is gone)
}

// Regression: copy_from(MACH_PORT_NULL or MACH_PORT_DEAD) succeeded with an empty right (the
// kernel accepts mod_refs(SEND, +1) on them and does nothing).
BOOST_AUTO_TEST_CASE(copy_from_null_or_dead_is_an_error) {
  BOOST_TEST(send_right::copy_from(MACH_PORT_NULL).error() == make_kern_error(KERN_INVALID_NAME));
  BOOST_TEST(send_right::copy_from(MACH_PORT_DEAD).error() == make_kern_error(KERN_INVALID_NAME));
}

// Regression: after the port died, urefs() reported 0 (the kernel's SEND count of a dead
// name) although the right still owned its uref, now a dead-name uref.
BOOST_AUTO_TEST_CASE(urefs_after_port_death_counts_dead_name_urefs) {
  auto p = make_port();
  send_right s = std::move(p.send);
  send_right copy = s;
  BOOST_TEST(require(s.urefs()) == 2u);
  p.receive.reset();
  BOOST_TEST(s.is_dead());
  BOOST_TEST(require(s.urefs()) == 2u);
  copy.reset();
  BOOST_TEST(require(s.urefs()) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(pegged_urefs, machport_test::leak_check)

// At 0xFFFF send urefs the kernel ignores +1 and -1 alike (§2.6): copying a send_right and
// destroying both leaves the count pegged; it never releases a uref the copy did not add.
BOOST_AUTO_TEST_CASE(copy_and_destroy_at_pegged_count) {
  auto p = make_port();
  const mach_port_name_t n = p.send.name();
  BOOST_TEST_REQUIRE(mach_port_mod_refs(mach_task_self(), n, MACH_PORT_RIGHT_SEND, 0xFFFE) == KERN_SUCCESS);
  BOOST_TEST(refs(n, MACH_PORT_RIGHT_SEND) == 0xFFFFu);
  {
    send_right a(p.send);
    BOOST_TEST(a.name() == n);
    send_right b(a);
    BOOST_TEST(refs(n, MACH_PORT_RIGHT_SEND) == 0xFFFFu);
  }
  BOOST_TEST(refs(n, MACH_PORT_RIGHT_SEND) == 0xFFFFu);
  // Only -0xFFFF unpegs: this gives up every uref, including the one p.send owns.
  BOOST_TEST_REQUIRE(mach_port_mod_refs(mach_task_self(), n, MACH_PORT_RIGHT_SEND, -0xFFFF) == KERN_SUCCESS);
  BOOST_TEST((type_of(n) & MACH_PORT_TYPE_SEND) == 0u);
  (void)p.send.release();
}

BOOST_AUTO_TEST_SUITE_END()
