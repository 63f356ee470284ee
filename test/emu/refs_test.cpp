// mach_port_mod_refs, deallocate and destroy (§2.6, §2.7; §7 mach_port_mod_refs.c and
// mach_port_deallocate_21692215.c).
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

using namespace machport_test;

namespace {
constexpr mach_port_name_t unknown_name = (0x2345u << 8) | 0x03u;
}

BOOST_AUTO_TEST_SUITE(refs_and_dealloc)

// tests/mach_port_mod_refs.c
BOOST_FIXTURE_TEST_CASE(mod_refs_xnu_tables, leak_check) {
  mach_port_name_t p = make_receive();
  mach_port_name_t s = make_pset();
  for (mach_port_right_t r : {MACH_PORT_RIGHT_SEND, MACH_PORT_RIGHT_SEND_ONCE,
                              MACH_PORT_RIGHT_PORT_SET, MACH_PORT_RIGHT_DEAD_NAME,
                              MACH_PORT_RIGHT_LABELH}) {
    BOOST_TEST(mach_port_mod_refs(self(), p, r, -1) == KERN_INVALID_RIGHT, "receive, right " << r);
  }
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_NUMBER, -1) == KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_mod_refs(self(), p, 7, -1) == KERN_INVALID_VALUE);
  for (mach_port_right_t r : {MACH_PORT_RIGHT_SEND, MACH_PORT_RIGHT_SEND_ONCE,
                              MACH_PORT_RIGHT_RECEIVE, MACH_PORT_RIGHT_DEAD_NAME,
                              MACH_PORT_RIGHT_LABELH}) {
    BOOST_TEST(mach_port_mod_refs(self(), s, r, -1) == KERN_INVALID_RIGHT, "pset, right " << r);
  }
  BOOST_TEST(mach_port_mod_refs(self(), s, MACH_PORT_RIGHT_NUMBER, -1) == KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_mod_refs(self(), s, 7, -1) == KERN_INVALID_VALUE);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  BOOST_TEST(type_of(s) == MACH_PORT_TYPE_PORT_SET);
  BOOST_TEST(mach_port_mod_refs(self(), s, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));
  BOOST_TEST(!name_exists(s));
}

// Order of the first checks (§2.6 1-3).
BOOST_FIXTURE_TEST_CASE(mod_refs_null_dead_unknown, leak_check) {
  for (mach_port_name_t n : null_and_dead) {
    BOOST_TEST(mach_port_mod_refs(self(), n, MACH_PORT_RIGHT_NUMBER, -1) == KERN_INVALID_VALUE);
    BOOST_TEST(mach_port_mod_refs(self(), n, MACH_PORT_RIGHT_SEND, -1) == KERN_SUCCESS);
    BOOST_TEST(mach_port_mod_refs(self(), n, MACH_PORT_RIGHT_SEND_ONCE, -1) == KERN_SUCCESS);
    BOOST_TEST(mach_port_mod_refs(self(), n, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_INVALID_NAME);
    BOOST_TEST(mach_port_mod_refs(self(), n, MACH_PORT_RIGHT_DEAD_NAME, -1) ==
               KERN_INVALID_NAME);
    BOOST_TEST(mach_port_mod_refs(self(), n, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_INVALID_NAME);
  }
  BOOST_TEST(mach_port_mod_refs(self(), unknown_name, MACH_PORT_RIGHT_NUMBER, -1) ==
             KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_mod_refs(self(), unknown_name, MACH_PORT_RIGHT_SEND, -1) ==
             KERN_INVALID_NAME);
}

BOOST_FIXTURE_TEST_CASE(mod_refs_receive_and_pset_deltas, leak_check) {
  mach_port_name_t p = make_receive();
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_RECEIVE, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_RECEIVE, 1) == KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_RECEIVE, -2) == KERN_INVALID_VALUE);
  // mod_refs cannot create rights.
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, 1) == KERN_INVALID_RIGHT);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  mach_port_name_t s = make_pset();
  BOOST_TEST(mach_port_mod_refs(self(), s, MACH_PORT_RIGHT_PORT_SET, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), s, MACH_PORT_RIGHT_PORT_SET, 1) == KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_mod_refs(self(), s, MACH_PORT_RIGHT_PORT_SET, -2) == KERN_INVALID_VALUE);
  BOOST_TEST(type_of(s) == MACH_PORT_TYPE_PORT_SET);
  BOOST_TEST(mach_port_mod_refs(self(), s, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(mod_refs_send_ranges, leak_check) {
  mach_port_name_t p = make_port_with_send();
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, 4) == KERN_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 5u);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, -6) == KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, 0x10000) == KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, -0x10000) ==
             KERN_INVALID_VALUE);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 5u);
  BOOST_TEST(status_of(p).mps_mscount == 1u);  // mod_refs is not a make
  // Dropping to 0 keeps the receive right under the name.
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, -5) == KERN_SUCCESS);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  BOOST_TEST(status_of(p).mps_srights == 0);
  destroy_port(p);
}

// Send urefs saturate at 0xFFFF and then ignore every delta except -0xFFFF (§2.6).
BOOST_FIXTURE_TEST_CASE(send_urefs_peg_at_max, leak_check) {
  mach_port_name_t p = make_port_with_send();
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, 0xFFFE) == KERN_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 0xFFFFu);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, 1) == KERN_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 0xFFFFu);
  BOOST_TEST(mach_port_insert_right(self(), p, p, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 0xFFFFu);
  // Pegged: -1 and -10 are ignored.
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, -1) == KERN_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 0xFFFFu);
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 0xFFFFu);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, -10) == KERN_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 0xFFFFu);
  // Only the full amount releases it.
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, -0xFFFF) == KERN_SUCCESS);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  destroy_port(p);
}

BOOST_FIXTURE_TEST_CASE(dead_name_urefs_peg_and_free, leak_check) {
  mach_port_name_t d = make_dead_name();
  BOOST_TEST(mach_port_mod_refs(self(), d, MACH_PORT_RIGHT_DEAD_NAME, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), d, MACH_PORT_RIGHT_DEAD_NAME, -2) == KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_mod_refs(self(), d, MACH_PORT_RIGHT_DEAD_NAME, 0x10000) ==
             KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_mod_refs(self(), d, MACH_PORT_RIGHT_SEND, 1) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_mod_refs(self(), d, MACH_PORT_RIGHT_SEND_ONCE, -1) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_mod_refs(self(), d, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_mod_refs(self(), d, MACH_PORT_RIGHT_DEAD_NAME, 0xFFFF) == KERN_SUCCESS);
  BOOST_TEST(refs(d, MACH_PORT_RIGHT_DEAD_NAME) == 0xFFFFu);
  BOOST_TEST(mach_port_mod_refs(self(), d, MACH_PORT_RIGHT_DEAD_NAME, -0xFFFF) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(d));

  d = make_dead_name();
  BOOST_TEST(mach_port_mod_refs(self(), d, MACH_PORT_RIGHT_DEAD_NAME, 2) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), d) == KERN_SUCCESS);
  BOOST_TEST(refs(d, MACH_PORT_RIGHT_DEAD_NAME) == 2u);
  BOOST_TEST(mach_port_mod_refs(self(), d, MACH_PORT_RIGHT_DEAD_NAME, -2) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(d));
}

BOOST_FIXTURE_TEST_CASE(mod_refs_send_once, leak_check) {
  mach_port_name_t p = make_receive();
  mach_port_name_t so = make_send_once(p);
  BOOST_TEST(mach_port_mod_refs(self(), so, MACH_PORT_RIGHT_SEND_ONCE, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), so, MACH_PORT_RIGHT_SEND_ONCE, 1) == KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_mod_refs(self(), so, MACH_PORT_RIGHT_SEND_ONCE, -2) ==
             KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_mod_refs(self(), so, MACH_PORT_RIGHT_SEND, -1) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_mod_refs(self(), so, MACH_PORT_RIGHT_DEAD_NAME, -1) == KERN_INVALID_RIGHT);
  BOOST_TEST(queue_empty(p));
  BOOST_TEST(mach_port_mod_refs(self(), so, MACH_PORT_RIGHT_SEND_ONCE, -1) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(so));
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(p, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_SEND_ONCE);
  BOOST_TEST(m.header()->msgh_local_port == p);
  destroy_port(p);
}

BOOST_FIXTURE_TEST_CASE(deallocate_rules, leak_check) {
  BOOST_TEST(mach_port_deallocate(self(), MACH_PORT_NULL) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), MACH_PORT_DEAD) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), unknown_name) == KERN_INVALID_NAME);
  mach_port_name_t p = make_receive();
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_INVALID_RIGHT);  // receive alone
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  BOOST_TEST(mach_port_insert_right(self(), p, p, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  BOOST_TEST(mach_port_insert_right(self(), p, p, MACH_MSG_TYPE_COPY_SEND) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_INVALID_RIGHT);
  // Send-once: deleted with a notification.
  mach_port_name_t so = make_send_once(p);
  BOOST_TEST(mach_port_deallocate(self(), so) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(so));
  receive_and_destroy(p);
  destroy_port(p);
}

// tests/mach_port_deallocate_21692215.c
BOOST_FIXTURE_TEST_CASE(deallocate_21692215, leak_check) {
  mach_port_name_t s = make_pset();
  mach_port_name_t ports[4];
  for (auto& p : ports) {
    p = make_receive();
    BOOST_TEST(mach_port_move_member(self(), p, s) == KERN_SUCCESS);
  }
  for (auto p : ports) {
    BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS);
  }
  BOOST_TEST(mach_port_deallocate(self(), s) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(s));
}

BOOST_FIXTURE_TEST_CASE(destroy_rules, leak_check) {
  BOOST_TEST(port_destroy(MACH_PORT_NULL) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(MACH_PORT_DEAD) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(unknown_name) == KERN_INVALID_NAME);
  // Every right under the name goes, whatever the urefs.
  mach_port_name_t p = make_port_with_send();
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, 9) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(p) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));
  mach_port_name_t d = make_dead_name();
  BOOST_TEST(mach_port_mod_refs(self(), d, MACH_PORT_RIGHT_DEAD_NAME, 5) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(d) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(d));
  mach_port_name_t s = make_pset();
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(s));
  // Send-once: destroyed with a notification.
  p = make_receive();
  mach_port_name_t so = make_send_once(p);
  BOOST_TEST(port_destroy(so) == KERN_SUCCESS);
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(p, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_SEND_ONCE);
  destroy_port(p);
}

// Destroying SEND+RECEIVE whose send was the last one fires no-senders before the port dies;
// mod_refs(RECEIVE,-1) instead turns the send into a dead name without no-senders (§2.7).
BOOST_FIXTURE_TEST_CASE(destroy_vs_mod_refs_receive, leak_check) {
  mach_port_name_t notify = make_receive();
  {
    // The last send goes first: no-senders fires (consuming the request), then the port dies.
    mach_port_name_t p = make_port_with_send();
    mach_port_t prev = MACH_PORT_NULL;
    BOOST_TEST(request_notification(p, MACH_NOTIFY_NO_SENDERS, 1, notify, &prev) ==
               KERN_SUCCESS);
    BOOST_TEST(prev == MACH_PORT_NULL);
    BOOST_TEST(port_destroy(p) == KERN_SUCCESS);
    BOOST_TEST(!name_exists(p));
    raw_msg<> m;
    BOOST_TEST_REQUIRE(receive(notify, m) == MACH_MSG_SUCCESS);
    BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_NO_SENDERS);
    BOOST_TEST(m.at<uint32_t>(notify_layout::not_count) == 1u);
    BOOST_TEST(queue_empty(notify));
  }
  {
    mach_port_name_t p = make_port_with_send();
    mach_port_t prev = MACH_PORT_NULL;
    BOOST_TEST(request_notification(p, MACH_NOTIFY_NO_SENDERS, 1, notify, &prev) ==
               KERN_SUCCESS);
    BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS);
    BOOST_TEST(type_of(p) == MACH_PORT_TYPE_DEAD_NAME);
    BOOST_TEST(refs(p, MACH_PORT_RIGHT_DEAD_NAME) == 1u);
    raw_msg<> m;
    BOOST_TEST_REQUIRE(receive(notify, m) == MACH_MSG_SUCCESS);
    BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_SEND_ONCE);  // the request died unfired
    BOOST_TEST(queue_empty(notify));
    BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);
  }
  destroy_port(notify);
}

// §2.6 SEND_ONCE / §2.9: a send-once right whose port died reads as a dead name with 1 uref;
// mod_refs(SEND_ONCE) on it fails with KERN_INVALID_RIGHT and converts it.
BOOST_FIXTURE_TEST_CASE(send_once_to_dead_port, leak_check) {
  mach_port_name_t p = make_receive();
  mach_port_name_t so1 = make_send_once(p);
  mach_port_name_t so2 = make_send_once(p);
  destroy_port(p);
  BOOST_TEST(mach_port_mod_refs(self(), so1, MACH_PORT_RIGHT_SEND_ONCE, -1) == KERN_INVALID_RIGHT);
  BOOST_TEST(type_of(so1) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(refs(so1, MACH_PORT_RIGHT_DEAD_NAME) == 1u);
  BOOST_TEST(mach_port_mod_refs(self(), so1, MACH_PORT_RIGHT_DEAD_NAME, -1) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(so1));
  // deallocate handles it as a dead name.
  BOOST_TEST(mach_port_deallocate(self(), so2) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(so2));
}

// §2.9 (inferred): an untouched send-once right to a dead port can still be a destination; the
// send succeeds and the message is destroyed. Once converted, the name is an invalid dest.
BOOST_FIXTURE_TEST_CASE(untouched_send_once_to_dead_port_as_destination, leak_check) {
  mach_port_name_t p = make_receive();
  mach_port_name_t so1 = make_send_once(p);
  mach_port_name_t so2 = make_send_once(p);
  destroy_port(p);
  BOOST_TEST(send_header(so1, MACH_MSG_TYPE_MOVE_SEND_ONCE) == MACH_MSG_SUCCESS);
  BOOST_TEST(!name_exists(so1));
  BOOST_TEST(type_of(so2) == MACH_PORT_TYPE_DEAD_NAME);  // touched: converted
  BOOST_TEST(send_header(so2, MACH_MSG_TYPE_MOVE_SEND_ONCE) == MACH_SEND_INVALID_DEST);
  BOOST_TEST(mach_port_deallocate(self(), so2) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(so2));
}

BOOST_AUTO_TEST_SUITE_END()
