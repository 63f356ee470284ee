// Port sets: move/insert/extract member and receiving through a set (§2.12).
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <vector>

using namespace machport_test;

namespace {
constexpr mach_port_name_t unknown_name = (0x5678u << 8) | 0x03u;
}

BOOST_AUTO_TEST_SUITE(port_sets)

BOOST_FIXTURE_TEST_CASE(move_member_errors, leak_check) {
  mach_port_name_t s = make_pset();
  mach_port_name_t p = make_receive();
  mach_port_name_t q = make_receive();
  BOOST_TEST(mach_port_move_member(self(), MACH_PORT_NULL, s) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_move_member(self(), MACH_PORT_DEAD, s) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_move_member(self(), p, MACH_PORT_DEAD) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_move_member(self(), unknown_name, s) == KERN_INVALID_NAME);
  BOOST_TEST(mach_port_move_member(self(), p, unknown_name) == KERN_INVALID_NAME);
  BOOST_TEST(mach_port_move_member(self(), s, s) == KERN_INVALID_RIGHT);  // member not a port
  BOOST_TEST(mach_port_move_member(self(), p, q) == KERN_INVALID_RIGHT);  // after not a set
  BOOST_TEST(mach_port_move_member(self(), p, MACH_PORT_NULL) == KERN_NOT_IN_SET);
  BOOST_TEST(status_of(p).mps_pset == 0u);
  BOOST_TEST(mach_port_move_member(self(), p, s) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_pset != 0u);
  BOOST_TEST(mach_port_move_member(self(), p, s) == KERN_SUCCESS);  // idempotent
  BOOST_TEST(mach_port_move_member(self(), p, MACH_PORT_NULL) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_pset == 0u);
  BOOST_TEST(mach_port_move_member(self(), p, MACH_PORT_NULL) == KERN_NOT_IN_SET);
  destroy_port(p);
  destroy_port(q);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(insert_and_extract_member, leak_check) {
  mach_port_name_t s1 = make_pset();
  mach_port_name_t s2 = make_pset();
  mach_port_name_t p = make_receive();
  BOOST_TEST(mach_port_extract_member(self(), p, s1) == KERN_NOT_IN_SET);
  BOOST_TEST(mach_port_insert_member(self(), p, s1) == KERN_SUCCESS);
  BOOST_TEST(mach_port_insert_member(self(), p, s1) == KERN_ALREADY_IN_SET);
  // A port can be in several sets.
  BOOST_TEST(mach_port_insert_member(self(), p, s2) == KERN_SUCCESS);
  BOOST_TEST(mach_port_extract_member(self(), p, s1) == KERN_SUCCESS);
  BOOST_TEST(mach_port_extract_member(self(), p, s1) == KERN_NOT_IN_SET);
  BOOST_TEST(mach_port_extract_member(self(), p, s2) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_pset == 0u);
  // move_member into one set removes it from the others.
  BOOST_TEST(mach_port_insert_member(self(), p, s1) == KERN_SUCCESS);
  BOOST_TEST(mach_port_move_member(self(), p, s2) == KERN_SUCCESS);
  BOOST_TEST(mach_port_extract_member(self(), p, s1) == KERN_NOT_IN_SET);
  BOOST_TEST(mach_port_extract_member(self(), p, s2) == KERN_SUCCESS);
  // Wrong kinds of names.
  BOOST_TEST(mach_port_insert_member(self(), s1, s2) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_insert_member(self(), p, p) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_insert_member(self(), unknown_name, s1) == KERN_INVALID_NAME);
  BOOST_TEST(mach_port_extract_member(self(), p, unknown_name) == KERN_INVALID_NAME);
  // Inserting a send right on a set is refused (§2.12).
  BOOST_TEST(mach_port_insert_right(self(), s1, s1, MACH_MSG_TYPE_MAKE_SEND) ==
             KERN_INVALID_RIGHT);
  destroy_port(p);
  BOOST_TEST(port_destroy(s1) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(s2) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(receive_through_set, leak_check) {
  mach_port_name_t s = make_pset();
  mach_port_name_t a = make_port_with_send();
  mach_port_name_t b = make_port_with_send();
  BOOST_TEST(mach_port_move_member(self(), a, s) == KERN_SUCCESS);
  BOOST_TEST(mach_port_move_member(self(), b, s) == KERN_SUCCESS);
  BOOST_TEST(queue_empty(s));
  BOOST_TEST(send_header(b, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 2) == MACH_MSG_SUCCESS);
  BOOST_TEST(send_header(a, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 1) == MACH_MSG_SUCCESS);
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(s, m) == MACH_MSG_SUCCESS);
  mach_port_name_t first = m.header()->msgh_local_port;
  BOOST_TEST((first == a || first == b));
  BOOST_TEST(m.header()->msgh_id == (first == a ? 1 : 2));
  BOOST_TEST_REQUIRE(receive(s, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_local_port == (first == a ? b : a));
  BOOST_TEST(queue_empty(s));
  // Receiving directly on a member still works.
  BOOST_TEST(send_header(a, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 3) == MACH_MSG_SUCCESS);
  BOOST_TEST_REQUIRE(receive(a, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 3);
  BOOST_TEST(m.header()->msgh_local_port == a);
  // Destroying the set leaves the members alive and out of any set.
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  BOOST_TEST(type_of(a) == MACH_PORT_TYPE_SEND_RECEIVE);
  BOOST_TEST(status_of(a).mps_pset == 0u);
  BOOST_TEST(status_of(b).mps_pset == 0u);
  destroy_port(a);
  destroy_port(b);
}

BOOST_FIXTURE_TEST_CASE(destroyed_member_leaves_set, leak_check) {
  mach_port_name_t s = make_pset();
  mach_port_name_t a = make_port_with_send();
  BOOST_TEST(mach_port_move_member(self(), a, s) == KERN_SUCCESS);
  BOOST_TEST(send_header(a, MACH_MSG_TYPE_COPY_SEND) == MACH_MSG_SUCCESS);
  destroy_port(a);  // its queued message goes with it
  BOOST_TEST(queue_empty(s));
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(receive_on_invalid_names, leak_check) {
  raw_msg<> m;
  BOOST_TEST(receive(MACH_PORT_NULL, m, 0, 0) == MACH_RCV_INVALID_NAME);
  BOOST_TEST(receive(unknown_name, m, 0, 0) == MACH_RCV_INVALID_NAME);
  mach_port_name_t d = make_dead_name();
  BOOST_TEST(receive(d, m, 0, 0) == MACH_RCV_INVALID_NAME);
  mach_port_name_t p = make_receive();
  mach_port_name_t so = make_send_once(p);
  BOOST_TEST(receive(so, m, 0, 0) == MACH_RCV_INVALID_NAME);
  BOOST_TEST(receive(p, m, 0, 0) == MACH_RCV_TIMED_OUT);
  BOOST_TEST(mach_port_deallocate(self(), so) == KERN_SUCCESS);
  receive_and_destroy(p);
  BOOST_TEST(mach_port_deallocate(self(), d) == KERN_SUCCESS);
  destroy_port(p);
}

// A port that already holds messages when it joins a set is served through the set.
BOOST_FIXTURE_TEST_CASE(queued_message_visible_after_joining_set, leak_check) {
  mach_port_name_t s = make_pset();
  mach_port_name_t a = make_port_with_send();
  BOOST_TEST(send_header(a, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 4) == MACH_MSG_SUCCESS);
  BOOST_TEST(queue_empty(s));
  BOOST_TEST(mach_port_insert_member(self(), a, s) == KERN_SUCCESS);
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(s, m, 0, 0) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 4);
  BOOST_TEST(m.header()->msgh_local_port == a);
  // Leaving the set hides it again.
  BOOST_TEST(send_header(a, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 5) == MACH_MSG_SUCCESS);
  BOOST_TEST(mach_port_extract_member(self(), a, s) == KERN_SUCCESS);
  BOOST_TEST(queue_empty(s));
  receive_and_destroy(a);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
}

// A receive on a set finds the one busy member among many idle ones, message after message.
BOOST_FIXTURE_TEST_CASE(one_busy_member_among_many_idle, leak_check) {
  mach_port_name_t s = make_pset();
  std::vector<mach_port_name_t> idle(1000);
  for (auto& p : idle) {
    p = make_receive();
    BOOST_TEST_REQUIRE(mach_port_insert_member(self(), p, s) == KERN_SUCCESS);
  }
  mach_port_name_t busy = make_port_with_send();
  BOOST_TEST(mach_port_insert_member(self(), busy, s) == KERN_SUCCESS);
  for (mach_msg_id_t id = 1; id <= 3; ++id)
    BOOST_TEST(send_header(busy, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, id) == MACH_MSG_SUCCESS);
  raw_msg<> m;
  for (mach_msg_id_t id = 1; id <= 3; ++id) {
    BOOST_TEST_REQUIRE(receive(s, m, 0, 0) == MACH_MSG_SUCCESS);
    BOOST_TEST(m.header()->msgh_id == id);
    BOOST_TEST(m.header()->msgh_local_port == busy);
  }
  BOOST_TEST(queue_empty(s));
  for (auto p : idle) destroy_port(p);
  BOOST_TEST(mach_port_destruct(self(), busy, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
}

// A member with messages that leaves the set, or dies, is no longer received from through it;
// the other members still are.
BOOST_FIXTURE_TEST_CASE(member_leaving_or_dying_with_messages, leak_check) {
  mach_port_name_t s = make_pset();
  mach_port_name_t a = make_port_with_send();
  mach_port_name_t b = make_port_with_send();
  mach_port_name_t c = make_port_with_send();
  for (auto p : {a, b, c}) BOOST_TEST(mach_port_insert_member(self(), p, s) == KERN_SUCCESS);
  BOOST_TEST(send_header(a, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 1) == MACH_MSG_SUCCESS);
  BOOST_TEST(send_header(b, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 2) == MACH_MSG_SUCCESS);
  BOOST_TEST(send_header(c, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 3) == MACH_MSG_SUCCESS);
  BOOST_TEST(mach_port_extract_member(self(), a, s) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), b, -1, 0) == KERN_SUCCESS);  // its message dies with it
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(s, m, 0, 0) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 3);
  BOOST_TEST(m.header()->msgh_local_port == c);
  BOOST_TEST(queue_empty(s));
  // The member that left keeps its message; joining again makes it visible again.
  BOOST_TEST(mach_port_insert_member(self(), a, s) == KERN_SUCCESS);
  BOOST_TEST_REQUIRE(receive(s, m, 0, 0) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 1);
  BOOST_TEST(queue_empty(s));
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), c, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
}

// A message taken by a receive on the member itself is gone from the set too; the next one
// shows up there again.
BOOST_FIXTURE_TEST_CASE(direct_receive_on_member_empties_the_set, leak_check) {
  mach_port_name_t s = make_pset();
  mach_port_name_t a = make_port_with_send();
  BOOST_TEST(mach_port_insert_member(self(), a, s) == KERN_SUCCESS);
  BOOST_TEST(send_header(a, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 1) == MACH_MSG_SUCCESS);
  BOOST_TEST(send_header(a, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 2) == MACH_MSG_SUCCESS);
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(a, m, 0, 0) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 1);
  BOOST_TEST_REQUIRE(receive(s, m, 0, 0) == MACH_MSG_SUCCESS);  // the second one, via the set
  BOOST_TEST(m.header()->msgh_id == 2);
  BOOST_TEST(send_header(a, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 3) == MACH_MSG_SUCCESS);
  BOOST_TEST_REQUIRE(receive(a, m, 0, 0) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 3);
  BOOST_TEST(receive(s, m, 0, 0) == MACH_RCV_TIMED_OUT);
  BOOST_TEST(send_header(a, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 4) == MACH_MSG_SUCCESS);
  BOOST_TEST_REQUIRE(receive(s, m, 0, 0) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 4);
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
}

// A port in two sets: a receive through either takes the message from both.
BOOST_FIXTURE_TEST_CASE(member_of_two_sets, leak_check) {
  mach_port_name_t s1 = make_pset();
  mach_port_name_t s2 = make_pset();
  mach_port_name_t a = make_port_with_send();
  BOOST_TEST(mach_port_insert_member(self(), a, s1) == KERN_SUCCESS);
  BOOST_TEST(mach_port_insert_member(self(), a, s2) == KERN_SUCCESS);
  BOOST_TEST(send_header(a, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 1) == MACH_MSG_SUCCESS);
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(s2, m, 0, 0) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 1);
  BOOST_TEST(queue_empty(s1));
  BOOST_TEST(queue_empty(s2));
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(s1) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(s2) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_SUITE_END()
