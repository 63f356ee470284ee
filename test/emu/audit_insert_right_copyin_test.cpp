// Audit regression: mach_port_insert_right copies `poly` in first (spec §2.4 general path step 1;
// XNU _kernelrpc_mach_port_insert_right_trap → ipc_object_copyin → ipc_right_copyin), so a bad
// poly name or disposition reports the copy-in error, and a dead name copied in with MOVE_SEND
// loses its uref before the insert fails with KERN_INVALID_CAPABILITY (the right is dead).
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

using namespace machport_test;

BOOST_FIXTURE_TEST_CASE(insert_right_poly_copyin_errors, leak_check) {
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

BOOST_FIXTURE_TEST_CASE(insert_right_move_send_of_dead_name_consumes_uref, leak_check) {
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
