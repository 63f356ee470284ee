// Rights: send_right, send_once_right, receive_right, port_set, dead_name.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <mach/notify.h>

#include <unordered_set>

using namespace machport;
using namespace core_test;

BOOST_FIXTURE_TEST_SUITE(rights, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(allocate_receive_right_and_destroy) {
  mach_port_name_t name;
  {
    auto r = require(receive_right::allocate());
    BOOST_TEST(r.valid());
    BOOST_TEST(!r.guarded());
    name = r.name();
    BOOST_TEST(type_of(name) == MACH_PORT_TYPE_RECEIVE);
  }
  BOOST_TEST(!name_exists(name));
}

BOOST_AUTO_TEST_CASE(construct_with_options) {
  port_options o;
  o.queue_limit = 17;
  o.context = 0x1234;
  o.insert_send_right = true;
  auto p = require(receive_right::construct(o));
  BOOST_TEST(p.send.name() == p.receive.name());
  BOOST_TEST(same_port(p.receive, p.send));
  BOOST_TEST(type_of(p.receive.name()) == MACH_PORT_TYPE_SEND_RECEIVE);
  BOOST_TEST(require(p.receive.queue_limit()) == 17u);
  BOOST_TEST(require(p.receive.context()) == 0x1234u);
  BOOST_TEST(require(p.receive.make_send_count()) == 1u);
  auto st = require(p.receive.status());
  BOOST_TEST(st.has_send_rights);
  BOOST_TEST(st.queue_limit == 17u);
  BOOST_TEST(!st.in_set);
}

BOOST_AUTO_TEST_CASE(construct_rejects_bad_queue_limit) {
  port_options o;
  o.queue_limit = MACH_PORT_QLIMIT_MAX + 1;
  auto p = receive_right::construct(o);
  BOOST_TEST_REQUIRE(!p);
  BOOST_TEST(p.error() == make_kern_error(KERN_INVALID_VALUE));
}

BOOST_AUTO_TEST_CASE(construct_guarded_and_destroy_with_guard) {
  port_options o;
  o.guard = true;
  o.context = 0xfeed;
  auto p = require(receive_right::construct(o));
  BOOST_TEST(p.receive.guarded());
  BOOST_TEST(p.receive.guard() == 0xfeedu);
  BOOST_TEST((require(p.receive.status()).flags & MACH_PORT_STATUS_FLAG_GUARDED) != 0u);
  // Destruction goes through mach_port_destruct with the guard (mod_refs would be fatal).
}

BOOST_AUTO_TEST_CASE(construct_strict_and_immovable) {
  port_options o;
  o.guard = true;
  o.strict_guard = true;
  o.immovable_receive = true;
  o.context = 0x10;
  auto p = require(receive_right::construct(o));
  auto flags = require(p.receive.status()).flags;
  BOOST_TEST((flags & MACH_PORT_STATUS_FLAG_STRICT_GUARD) != 0u);
  BOOST_TEST((flags & MACH_PORT_STATUS_FLAG_GUARD_IMMOVABLE_RECEIVE) != 0u);
  BOOST_TEST(require(p.receive.context()) == 0u);  // strict guard hides the context
  BOOST_TEST(!p.send.valid());
}

BOOST_AUTO_TEST_CASE(guard_and_unguard) {
  auto r = require(receive_right::allocate());
  require(r.guard_with(0x77));
  BOOST_TEST(r.guarded());
  BOOST_TEST(r.guard_with(0x88).error() == make_kern_error(KERN_INVALID_ARGUMENT));
  require(r.unguard());
  BOOST_TEST(!r.guarded());
  BOOST_TEST(r.unguard().error() == make_kern_error(KERN_INVALID_ARGUMENT));
}

BOOST_AUTO_TEST_CASE(attributes) {
  auto r = require(receive_right::allocate());
  BOOST_TEST(require(r.queue_limit()) == MACH_PORT_QLIMIT_DEFAULT);
  require(r.set_queue_limit(1));
  BOOST_TEST(require(r.queue_limit()) == 1u);
  BOOST_TEST(r.set_queue_limit(1025).error() == make_kern_error(KERN_INVALID_VALUE));
  BOOST_TEST(require(r.queue_limit()) == 1u);
  BOOST_TEST(require(r.message_count()) == 0u);
  require(r.set_seqno(41));
  BOOST_TEST(require(r.seqno()) == 41u);
  require(r.set_make_send_count(9));
  BOOST_TEST(require(r.make_send_count()) == 9u);
  require(r.set_context(0xabc));
  BOOST_TEST(require(r.context()) == 0xabcu);
}

BOOST_AUTO_TEST_CASE(attribute_errors_on_empty_right) {
  receive_right r;
  BOOST_TEST(!r);
  BOOST_TEST(!r.status());
  BOOST_TEST(!r.make_send());
  BOOST_TEST(!r.make_send_once());
  BOOST_TEST(r.set_seqno(1).has_error());
  BOOST_TEST(r.set_make_send_count(1).has_error());
  BOOST_TEST(r.set_context(1).has_error());
  BOOST_TEST(!r.context());
  send_right s;
  BOOST_TEST(!s.type());
  BOOST_TEST(s.urefs().has_value());  // NULL: the kernel reports 1 for SEND on MACH_PORT_NULL
}

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

BOOST_AUTO_TEST_CASE(adopt_and_release_are_explicit) {
  mach_port_name_t name = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &name) == KERN_SUCCESS);
  auto r = receive_right::adopt(name);
  BOOST_TEST(r.name() == name);
  mach_port_name_t back = r.release();
  BOOST_TEST(back == name);
  BOOST_TEST(!r.valid());
  BOOST_TEST(name_exists(name));  // release did not destroy it
  BOOST_TEST(mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS);
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

BOOST_AUTO_TEST_CASE(receive_right_death_turns_send_into_dead_name) {
  auto p = make_port();
  send_right s = std::move(p.send);
  p.receive.reset();
  BOOST_TEST(s.is_dead());
  BOOST_TEST(require(s.type()) == MACH_PORT_TYPE_DEAD_NAME);
}

BOOST_AUTO_TEST_CASE(receive_right_move_assign_destroys_old) {
  auto a = require(receive_right::allocate());
  auto b = require(receive_right::allocate());
  mach_port_name_t old = a.name();
  a = std::move(b);
  BOOST_TEST(!name_exists(old));
  BOOST_TEST(a.valid());
  BOOST_TEST(!b.valid());
}

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
