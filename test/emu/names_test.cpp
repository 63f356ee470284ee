// Names, allocation, type/get_refs, insert_right and extract_right (§2.1-§2.5, §7
// mach_port_insert_right.c and ipc/port_api.c).
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <map>

using namespace machport_test;

namespace {
constexpr mach_port_name_t name_index(mach_port_name_t n) { return n >> 8; }
constexpr mach_port_name_t name_gen(mach_port_name_t n) { return n & 0xff; }
}  // namespace

BOOST_AUTO_TEST_SUITE(names)

BOOST_FIXTURE_TEST_CASE(name_format_low_bits_and_nonzero_index, leak_check) {
  mach_port_name_t rights[3] = {make_receive(), make_pset(), make_dead_name()};
  for (mach_port_name_t n : rights) {
    BOOST_TEST((n & 3u) == 3u);
    BOOST_TEST(name_index(n) != 0u);
    BOOST_TEST(MACH_PORT_VALID(n));
  }
  BOOST_TEST(rights[0] != rights[1]);
  BOOST_TEST(rights[1] != rights[2]);
  BOOST_TEST(mach_port_mod_refs(self(), rights[0], MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), rights[1], MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), rights[2]) == KERN_SUCCESS);
}

// Each reuse of an entry advances its generation by 4 (§2.1).
BOOST_FIXTURE_TEST_CASE(name_generation_advances_by_4_on_reuse, leak_check) {
  std::map<mach_port_name_t, mach_port_name_t> last_gen;  // index -> gen
  int reuses = 0;
  for (int i = 0; i < 16; ++i) {
    mach_port_name_t n = make_receive();
    BOOST_TEST((n & 3u) == 3u);
    auto it = last_gen.find(name_index(n));
    if (it != last_gen.end()) {
      ++reuses;
      BOOST_TEST(name_gen(n) == ((it->second + 4u) & 0xffu),
                 "index 0x" << std::hex << name_index(n) << " reused with gen 0x" << name_gen(n)
                            << " after 0x" << it->second);
    }
    last_gen[name_index(n)] = name_gen(n);
    BOOST_TEST_REQUIRE(mach_port_mod_refs(self(), n, MACH_PORT_RIGHT_RECEIVE, -1) ==
                       KERN_SUCCESS);
  }
  BOOST_TEST(reuses > 0);  // a freed entry is reused
}

BOOST_FIXTURE_TEST_CASE(allocate_initial_state, leak_check) {
  mach_port_name_t p = make_receive();
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  mach_port_status_t st = status_of(p);
  BOOST_TEST(st.mps_pset == 0u);
  BOOST_TEST(st.mps_seqno == 0u);
  BOOST_TEST(st.mps_mscount == 0u);
  BOOST_TEST(st.mps_qlimit == static_cast<mach_port_msgcount_t>(MACH_PORT_QLIMIT_DEFAULT));
  BOOST_TEST(st.mps_qlimit == 5u);
  BOOST_TEST(st.mps_msgcount == 0u);
  BOOST_TEST(st.mps_sorights == 0u);
  BOOST_TEST(st.mps_srights == 0);
  BOOST_TEST(st.mps_pdrequest == 0);
  BOOST_TEST(st.mps_nsrequest == 0);
  mach_port_context_t ctx = 1;
  BOOST_TEST(mach_port_get_context(self(), p, &ctx) == KERN_SUCCESS);
  BOOST_TEST(ctx == 0u);

  mach_port_name_t s = make_pset();
  BOOST_TEST(type_of(s) == MACH_PORT_TYPE_PORT_SET);
  mach_port_name_t d = make_dead_name();
  BOOST_TEST(type_of(d) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(refs(d, MACH_PORT_RIGHT_DEAD_NAME) == 1u);

  destroy_port(p);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), d) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(d));
}

BOOST_FIXTURE_TEST_CASE(allocate_other_rights_invalid_value, leak_check) {
  for (mach_port_right_t r : {MACH_PORT_RIGHT_SEND, MACH_PORT_RIGHT_SEND_ONCE,
                              MACH_PORT_RIGHT_LABELH, MACH_PORT_RIGHT_NUMBER}) {
    mach_port_name_t n = MACH_PORT_NULL;
    BOOST_TEST(mach_port_allocate(self(), r, &n) == KERN_INVALID_VALUE, "right " << r);
  }
}

// §2.1 errors for a name chosen by the caller.
BOOST_FIXTURE_TEST_CASE(allocate_name_errors, leak_check) {
  BOOST_TEST(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, MACH_PORT_NULL) ==
             KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, MACH_PORT_DEAD) ==
             KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, 122) == KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, 123) == KERN_FAILURE);
  BOOST_TEST(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, 0xFFFFFF03u) ==
             KERN_NO_SPACE);

  mach_port_name_t p = make_receive();
  BOOST_TEST(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, p) == KERN_NAME_EXISTS);
  BOOST_TEST(mach_port_allocate_name(self(), MACH_PORT_RIGHT_PORT_SET, p) == KERN_NAME_EXISTS);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  destroy_port(p);
}

BOOST_FIXTURE_TEST_CASE(allocate_name_success_for_each_right, leak_check) {
  const mach_port_name_t chosen_name = unused_name();
  BOOST_TEST(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, chosen_name) ==
             KERN_SUCCESS);
  BOOST_TEST(type_of(chosen_name) == MACH_PORT_TYPE_RECEIVE);
  BOOST_TEST(status_of(chosen_name).mps_qlimit == 5u);
  destroy_port(chosen_name);

  BOOST_TEST(mach_port_allocate_name(self(), MACH_PORT_RIGHT_PORT_SET, chosen_name) ==
             KERN_SUCCESS);
  BOOST_TEST(type_of(chosen_name) == MACH_PORT_TYPE_PORT_SET);
  BOOST_TEST(port_destroy(chosen_name) == KERN_SUCCESS);

  BOOST_TEST(mach_port_allocate_name(self(), MACH_PORT_RIGHT_DEAD_NAME, chosen_name) ==
             KERN_SUCCESS);
  BOOST_TEST(type_of(chosen_name) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(refs(chosen_name, MACH_PORT_RIGHT_DEAD_NAME) == 1u);
  BOOST_TEST(mach_port_deallocate(self(), chosen_name) == KERN_SUCCESS);

  BOOST_TEST(mach_port_allocate_name(self(), MACH_PORT_RIGHT_SEND, chosen_name) ==
             KERN_INVALID_VALUE);
  BOOST_TEST(!name_exists(chosen_name));
}

BOOST_FIXTURE_TEST_CASE(type_of_null_dead_unknown, leak_check) {
  const mach_port_name_t chosen_name = unused_name();
  mach_port_type_t t = 0;
  BOOST_TEST(mach_port_type(self(), MACH_PORT_NULL, &t) == KERN_INVALID_NAME);
  t = 0;
  BOOST_TEST(mach_port_type(self(), MACH_PORT_DEAD, &t) == KERN_SUCCESS);
  BOOST_TEST(t == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(mach_port_type(self(), chosen_name, &t) == KERN_INVALID_NAME);
}

BOOST_FIXTURE_TEST_CASE(get_refs_rules, leak_check) {
  mach_port_urefs_t u = 77;
  // Invalid right values.
  mach_port_name_t p = make_port_with_send();
  const mach_port_name_t chosen_name = unused_name();
  BOOST_TEST(mach_port_get_refs(self(), p, MACH_PORT_RIGHT_NUMBER, &u) == KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_get_refs(self(), p, 7, &u) == KERN_INVALID_VALUE);
  // NULL and DEAD.
  for (mach_port_name_t n : null_and_dead) {
    u = 77;
    BOOST_TEST(mach_port_get_refs(self(), n, MACH_PORT_RIGHT_SEND, &u) == KERN_SUCCESS);
    BOOST_TEST(u == 1u);
    u = 77;
    BOOST_TEST(mach_port_get_refs(self(), n, MACH_PORT_RIGHT_SEND_ONCE, &u) == KERN_SUCCESS);
    BOOST_TEST(u == 1u);
    for (mach_port_right_t r : {MACH_PORT_RIGHT_RECEIVE, MACH_PORT_RIGHT_PORT_SET,
                                MACH_PORT_RIGHT_DEAD_NAME}) {
      BOOST_TEST(mach_port_get_refs(self(), n, r, &u) == KERN_INVALID_NAME);
    }
  }
  BOOST_TEST(mach_port_get_refs(self(), chosen_name, MACH_PORT_RIGHT_SEND, &u) ==
             KERN_INVALID_NAME);
  // A receive+send name: rights not held report 0 with success.
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_RECEIVE) == 1u);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND_ONCE) == 0u);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_PORT_SET) == 0u);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_DEAD_NAME) == 0u);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_LABELH) == 0u);
  // Send-once and port set count 1.
  mach_port_name_t so = make_send_once(p);
  BOOST_TEST(so != p);
  BOOST_TEST(type_of(so) == MACH_PORT_TYPE_SEND_ONCE);
  BOOST_TEST(refs(so, MACH_PORT_RIGHT_SEND_ONCE) == 1u);
  BOOST_TEST(refs(so, MACH_PORT_RIGHT_SEND) == 0u);
  mach_port_name_t s = make_pset();
  BOOST_TEST(refs(s, MACH_PORT_RIGHT_PORT_SET) == 1u);
  BOOST_TEST(refs(s, MACH_PORT_RIGHT_RECEIVE) == 0u);

  BOOST_TEST(mach_port_deallocate(self(), so) == KERN_SUCCESS);
  receive_and_destroy(p);  // the send-once notification
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  destroy_port(p);
}

// tests/mach_port_insert_right.c
BOOST_FIXTURE_TEST_CASE(mach_port_insert_right_xnu, leak_check) {
  mach_port_name_t p = make_receive();
  BOOST_TEST(type_of(p) == 0x20000u);
  BOOST_TEST(mach_port_insert_right(self(), p, p, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  BOOST_TEST(type_of(p) == 0x30000u);
  BOOST_TEST(mach_port_insert_right(self(), 123, p, MACH_MSG_TYPE_MAKE_SEND) == KERN_FAILURE);
  BOOST_TEST(mach_port_insert_right(self(), 122, p, MACH_MSG_TYPE_MAKE_SEND) ==
             KERN_INVALID_VALUE);
  mach_port_name_t p2 = make_receive();
  BOOST_TEST(mach_port_insert_right(self(), p, p2, MACH_MSG_TYPE_MAKE_SEND) == KERN_RIGHT_EXISTS);
  // Nothing changed on either name.
  BOOST_TEST(type_of(p) == 0x30000u);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(type_of(p2) == 0x20000u);
  destroy_port(p);
  destroy_port(p2);
}

// tests/ipc/port_api.c
BOOST_FIXTURE_TEST_CASE(port_api_insert_right_on_pset, leak_check) {
  mach_port_name_t s = make_pset();
  BOOST_TEST(mach_port_insert_right(self(), s, s, MACH_MSG_TYPE_MAKE_SEND) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_insert_right(self(), s, s, MACH_MSG_TYPE_COPY_SEND) == KERN_INVALID_RIGHT);
  BOOST_TEST(type_of(s) == MACH_PORT_TYPE_PORT_SET);
  BOOST_TEST(mach_port_mod_refs(self(), s, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
}

// Fast path: name == poly, MAKE_SEND / COPY_SEND (§2.4).
BOOST_FIXTURE_TEST_CASE(insert_right_fast_path, leak_check) {
  const mach_port_name_t chosen_name = unused_name();
  BOOST_TEST(mach_port_insert_right(self(), chosen_name, chosen_name, MACH_MSG_TYPE_MAKE_SEND) ==
             KERN_INVALID_NAME);
  mach_port_name_t d = make_dead_name();
  BOOST_TEST(mach_port_insert_right(self(), d, d, MACH_MSG_TYPE_MAKE_SEND) ==
             KERN_INVALID_CAPABILITY);
  BOOST_TEST(mach_port_insert_right(self(), d, d, MACH_MSG_TYPE_COPY_SEND) ==
             KERN_INVALID_CAPABILITY);
  BOOST_TEST(refs(d, MACH_PORT_RIGHT_DEAD_NAME) == 1u);

  mach_port_name_t p = make_receive();
  BOOST_TEST(mach_port_insert_right(self(), p, p, MACH_MSG_TYPE_COPY_SEND) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_insert_right(self(), p, p, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_mscount == 1u);
  BOOST_TEST(mach_port_insert_right(self(), p, p, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_mscount == 2u);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 2u);
  BOOST_TEST(mach_port_insert_right(self(), p, p, MACH_MSG_TYPE_COPY_SEND) == KERN_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 3u);
  BOOST_TEST(status_of(p).mps_mscount == 2u);  // COPY_SEND does not count as a make

  // A send-once name holds neither RECEIVE nor SEND.
  mach_port_name_t so = make_send_once(p);
  BOOST_TEST(mach_port_insert_right(self(), so, so, MACH_MSG_TYPE_MAKE_SEND) ==
             KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_insert_right(self(), so, so, MACH_MSG_TYPE_COPY_SEND) ==
             KERN_INVALID_RIGHT);
  BOOST_TEST(type_of(so) == MACH_PORT_TYPE_SEND_ONCE);
  BOOST_TEST(mach_port_deallocate(self(), so) == KERN_SUCCESS);
  receive_and_destroy(p);  // send-once notification

  BOOST_TEST(mach_port_deallocate(self(), d) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, -3) == KERN_SUCCESS);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  destroy_port(p);
}

// General path (§2.4): a chosen name for send-once and receive rights.
BOOST_FIXTURE_TEST_CASE(insert_right_general_path, leak_check) {
  mach_port_name_t p = make_receive();
  const mach_port_name_t chosen_name = unused_name();
  // A send right always lands on the port's existing name.
  BOOST_TEST(mach_port_insert_right(self(), chosen_name, p, MACH_MSG_TYPE_MAKE_SEND) ==
             KERN_RIGHT_EXISTS);
  BOOST_TEST(!name_exists(chosen_name));
  // A send-once right goes wherever it is asked.
  BOOST_TEST(mach_port_insert_right(self(), chosen_name, p, MACH_MSG_TYPE_MAKE_SEND_ONCE) ==
             KERN_SUCCESS);
  BOOST_TEST(type_of(chosen_name) == MACH_PORT_TYPE_SEND_ONCE);
  BOOST_TEST(status_of(p).mps_sorights == 1u);
  BOOST_TEST(mach_port_deallocate(self(), chosen_name) == KERN_SUCCESS);
  {
    raw_msg<> m;
    BOOST_TEST_REQUIRE(receive(p, m) == MACH_MSG_SUCCESS);
    BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_SEND_ONCE);
  }
  // Receive right moved to a chosen name; the old name is freed.
  BOOST_TEST(mach_port_insert_right(self(), chosen_name, p, MACH_MSG_TYPE_MOVE_RECEIVE) ==
             KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));
  BOOST_TEST(type_of(chosen_name) == MACH_PORT_TYPE_RECEIVE);
  destroy_port(chosen_name);
}

// A failed copy-out destroys the copied-in right (§2.4 step 3).
BOOST_FIXTURE_TEST_CASE(insert_right_failure_destroys_right, leak_check) {
  mach_port_name_t p = make_receive();
  mach_port_name_t q = make_receive();
  mach_port_name_t r = make_port_with_send();
  const mach_port_name_t chosen_name = unused_name();
  // MAKE_SEND_ONCE under a used name: NAME_EXISTS, and the send-once right is destroyed,
  // which sends a send-once notification to p.
  BOOST_TEST(mach_port_insert_right(self(), q, p, MACH_MSG_TYPE_MAKE_SEND_ONCE) ==
             KERN_NAME_EXISTS);
  BOOST_TEST(type_of(q) == MACH_PORT_TYPE_RECEIVE);
  BOOST_TEST(status_of(p).mps_sorights == 1u);  // the notification carries it
  {
    raw_msg<> m;
    BOOST_TEST_REQUIRE(receive(p, m) == MACH_MSG_SUCCESS);
    BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_SEND_ONCE);
    BOOST_TEST(m.header()->msgh_size == 24u);
  }
  BOOST_TEST(status_of(p).mps_sorights == 0u);

  // MOVE_RECEIVE under a new name while the old name keeps SEND: RIGHT_EXISTS, and the
  // receive right is destroyed with the copied-in right, so the send right is now dead.
  BOOST_TEST(mach_port_insert_right(self(), chosen_name, r, MACH_MSG_TYPE_MOVE_RECEIVE) ==
             KERN_RIGHT_EXISTS);
  BOOST_TEST(!name_exists(chosen_name));
  BOOST_TEST(type_of(r) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(refs(r, MACH_PORT_RIGHT_DEAD_NAME) == 1u);
  BOOST_TEST(mach_port_deallocate(self(), r) == KERN_SUCCESS);
  destroy_port(p);
  destroy_port(q);
}

BOOST_FIXTURE_TEST_CASE(insert_right_errors_in_copy_in, leak_check) {
  mach_port_name_t p = make_receive();
  const mach_port_name_t chosen_name = unused_name();
  BOOST_TEST(mach_port_insert_right(self(), chosen_name, chosen_name + 0x100,
                                    MACH_MSG_TYPE_MOVE_SEND) == KERN_INVALID_NAME);
  BOOST_TEST(mach_port_insert_right(self(), chosen_name, p, MACH_MSG_TYPE_MOVE_SEND) ==
             KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_insert_right(self(), chosen_name, p, MACH_MSG_TYPE_COPY_SEND) ==
             KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_insert_right(self(), chosen_name, p, MACH_MSG_TYPE_MOVE_SEND_ONCE) ==
             KERN_INVALID_RIGHT);
  BOOST_TEST(!name_exists(chosen_name));
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  destroy_port(p);
}

// Regression: mach_port_insert_right copies `poly` in before it checks `name` (§2.4, general
// path step 1; XNU _kernelrpc_mach_port_insert_right_trap → ipc_object_copyin →
// ipc_right_copyin), so a bad poly name or disposition reports the copy-in error.
BOOST_FIXTURE_TEST_CASE(regression_insert_right_copyin_error_order, leak_check) {
  const mach_port_name_t port = make_receive();
  const mach_port_name_t target = unused_name();

  // poly names that denote nothing: ipc_entry_lookup fails.
  BOOST_TEST(mach_port_insert_right(self(), target, MACH_PORT_NULL, MACH_MSG_TYPE_MAKE_SEND) ==
             KERN_INVALID_NAME);
  BOOST_TEST(mach_port_insert_right(self(), target, MACH_PORT_DEAD, MACH_MSG_TYPE_COPY_SEND) ==
             KERN_INVALID_NAME);
  // name == poly == NULL with MAKE_SEND takes the fast path, which looks the name up.
  BOOST_TEST(mach_port_insert_right(self(), MACH_PORT_NULL, MACH_PORT_NULL,
                                    MACH_MSG_TYPE_MAKE_SEND) == KERN_INVALID_NAME);

  // A disposition that is not a port right: ipc_right_copyin rejects it.
  BOOST_TEST(mach_port_insert_right(self(), target, port, 0) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_insert_right(self(), target, port, MACH_MSG_TYPE_PORT_NAME) ==
             KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_insert_right(self(), target, port, MACH_MSG_TYPE_COPY_RECEIVE) ==
             KERN_INVALID_RIGHT);

  BOOST_TEST(!name_exists(target));
  BOOST_TEST(type_of(port) == MACH_PORT_TYPE_RECEIVE);
  destroy_port(port);
}

// Regression: a dead name copied in with MOVE_SEND loses its uref before the insert fails with
// KERN_INVALID_CAPABILITY (the right is dead); COPY_SEND consumes nothing (§2.4, §4.3).
BOOST_FIXTURE_TEST_CASE(regression_insert_right_move_send_of_dead_name_consumes_uref, leak_check) {
  const mach_port_name_t dead = make_dead_name();
  BOOST_TEST_REQUIRE(mach_port_mod_refs(self(), dead, MACH_PORT_RIGHT_DEAD_NAME, 1) == KERN_SUCCESS);
  const mach_port_name_t target = unused_name();

  // COPY_SEND of a dead name: copied in as MACH_PORT_DEAD, nothing consumed.
  BOOST_TEST(mach_port_insert_right(self(), target, dead, MACH_MSG_TYPE_COPY_SEND) ==
             KERN_INVALID_CAPABILITY);
  BOOST_TEST(refs(dead, MACH_PORT_RIGHT_DEAD_NAME) == 2u);
  // MOVE_SEND of a dead name: one uref moves out (and is gone).
  BOOST_TEST(mach_port_insert_right(self(), target, dead, MACH_MSG_TYPE_MOVE_SEND) ==
             KERN_INVALID_CAPABILITY);
  BOOST_TEST(refs(dead, MACH_PORT_RIGHT_DEAD_NAME) == 1u);
  BOOST_TEST(!name_exists(target));

  BOOST_TEST(port_destroy(dead) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(extract_right_rules, leak_check) {
  mach_port_name_t p = make_receive();
  const mach_port_name_t chosen_name = unused_name();
  mach_port_t out = MACH_PORT_NULL;
  mach_msg_type_name_t disp = 0;
  BOOST_TEST(mach_port_extract_right(self(), p, MACH_MSG_TYPE_PORT_NAME, &out, &disp) ==
             KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_extract_right(self(), p, MACH_MSG_TYPE_COPY_RECEIVE, &out, &disp) ==
             KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_extract_right(self(), MACH_PORT_NULL, MACH_MSG_TYPE_COPY_SEND, &out,
                                     &disp) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_extract_right(self(), MACH_PORT_DEAD, MACH_MSG_TYPE_COPY_SEND, &out,
                                     &disp) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_extract_right(self(), chosen_name, MACH_MSG_TYPE_COPY_SEND, &out,
                                     &disp) == KERN_INVALID_NAME);
  BOOST_TEST(mach_port_extract_right(self(), p, MACH_MSG_TYPE_COPY_SEND, &out, &disp) ==
             KERN_INVALID_RIGHT);

  // MAKE_SEND comes back merged onto the receive name.
  BOOST_TEST(mach_port_extract_right(self(), p, MACH_MSG_TYPE_MAKE_SEND, &out, &disp) ==
             KERN_SUCCESS);
  BOOST_TEST(out == p);
  BOOST_TEST(disp == static_cast<mach_msg_type_name_t>(MACH_MSG_TYPE_PORT_SEND));
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(status_of(p).mps_mscount == 1u);
  // COPY_SEND adds a uref on the same name.
  BOOST_TEST(mach_port_extract_right(self(), p, MACH_MSG_TYPE_COPY_SEND, &out, &disp) ==
             KERN_SUCCESS);
  BOOST_TEST(out == p);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 2u);
  // MAKE_SEND_ONCE: a fresh name each time.
  mach_port_name_t so1 = make_send_once(p);
  mach_port_name_t so2 = make_send_once(p);
  BOOST_TEST(so1 != p);
  BOOST_TEST(so2 != so1);
  BOOST_TEST(status_of(p).mps_sorights == 2u);
  BOOST_TEST(mach_port_deallocate(self(), so1) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), so2) == KERN_SUCCESS);
  receive_and_destroy(p);
  receive_and_destroy(p);
  destroy_port(p);
}

// §2.10: a moved receive right is reset (seqno, mscount, context) but keeps its queue and
// qlimit.
BOOST_FIXTURE_TEST_CASE(move_receive_resets_port_state, leak_check) {
  mach_port_name_t p = make_receive();
  BOOST_TEST(mach_port_set_context(self(), p, 0x77) == KERN_SUCCESS);
  BOOST_TEST(mach_port_set_seqno(self(), p, 9) == KERN_SUCCESS);
  mach_port_limits_t lim{};
  lim.mpl_qlimit = 3;
  BOOST_TEST(mach_port_set_attributes(self(), p, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&lim), 1) ==
             KERN_SUCCESS);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_NULL, 0, 5) == MACH_MSG_SUCCESS);
  BOOST_TEST(status_of(p).mps_mscount == 1u);
  const mach_port_name_t moved = unused_name();
  BOOST_TEST(mach_port_insert_right(self(), moved, p, MACH_MSG_TYPE_MOVE_RECEIVE) ==
             KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));
  mach_port_status_t st = status_of(moved);
  BOOST_TEST(st.mps_seqno == 0u);
  BOOST_TEST(st.mps_mscount == 0u);
  BOOST_TEST(st.mps_msgcount == 1u);
  BOOST_TEST(st.mps_qlimit == 3u);
  mach_port_context_t ctx = 1;
  BOOST_TEST(mach_port_get_context(self(), moved, &ctx) == KERN_SUCCESS);
  BOOST_TEST(ctx == 0u);
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(moved, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 5);
  BOOST_TEST(m.header()->msgh_local_port == moved);
  destroy_port(moved);
}

BOOST_AUTO_TEST_SUITE_END()
