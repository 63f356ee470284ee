// Guard violations (§2.6-§2.8, §4.3). On macOS each of these calls also raises a fatal
// EXC_GUARD that kills the process, so they run on the emulator only; the return codes are
// what XNU returns before the exception is delivered.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

using namespace machport_test;

namespace {
constexpr mach_port_name_t unknown_name = (0x4567u << 8) | 0x03u;

mach_port_name_t make_guarded(mach_port_context_t guard, uint32_t extra_flags = 0) {
  mach_port_options_t opts{};
  opts.flags = MPO_CONTEXT_AS_GUARD | extra_flags;
  mach_port_name_t p = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(mach_port_construct(self(), &opts, guard, &p) == KERN_SUCCESS);
  return p;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(emu_only_guards)

BOOST_FIXTURE_TEST_CASE(destruct_with_wrong_guard, leak_check) {
  mach_port_name_t p = make_guarded(0x42, MPO_INSERT_SEND_RIGHT);
  BOOST_TEST(mach_port_destruct(self(), p, 0, 0x43) == KERN_INVALID_ARGUMENT);
  // The guard is checked before the send-uref count.
  BOOST_TEST(mach_port_destruct(self(), p, -5, 0x43) == KERN_INVALID_ARGUMENT);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_SEND_RECEIVE);
  BOOST_TEST(mach_port_destruct(self(), p, -5, 0x42) == KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0x42) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));
}

BOOST_FIXTURE_TEST_CASE(guarded_receive_cannot_be_dropped, leak_check) {
  mach_port_name_t p = make_guarded(0x42);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_INVALID_RIGHT);
  BOOST_TEST(port_destroy(p) == KERN_INVALID_RIGHT);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  BOOST_TEST(mach_port_destruct(self(), p, 0, 0x42) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(unguard_and_swap_errors, leak_check) {
  mach_port_name_t p = make_receive();
  BOOST_TEST(mach_port_unguard(self(), p, 0) == KERN_INVALID_ARGUMENT);
  BOOST_TEST(mach_port_swap_guard(self(), p, 0, 1) == KERN_INVALID_ARGUMENT);
  BOOST_TEST(mach_port_guard(self(), p, 0x10, FALSE) == KERN_SUCCESS);
  BOOST_TEST(mach_port_unguard(self(), p, 0x11) == KERN_INVALID_ARGUMENT);
  BOOST_TEST(mach_port_swap_guard(self(), p, 0x11, 0x12) == KERN_INVALID_ARGUMENT);
  mach_port_context_t ctx = 0;
  BOOST_TEST(mach_port_get_context(self(), p, &ctx) == KERN_SUCCESS);
  BOOST_TEST(ctx == 0x10u);
  BOOST_TEST(mach_port_unguard(self(), p, 0x10) == KERN_SUCCESS);
  // A strict guard cannot be swapped.
  BOOST_TEST(mach_port_guard(self(), p, 0x20, TRUE) == KERN_SUCCESS);
  BOOST_TEST(mach_port_swap_guard(self(), p, 0x20, 0x21) == KERN_INVALID_ARGUMENT);
  BOOST_TEST(mach_port_set_context(self(), p, 0x99) == KERN_INVALID_ARGUMENT);
  BOOST_TEST(mach_port_destruct(self(), p, 0, 0x20) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(guard_calls_on_non_receive_names, leak_check) {
  BOOST_TEST(mach_port_guard(self(), unknown_name, 1, FALSE) == KERN_INVALID_NAME);
  BOOST_TEST(mach_port_unguard(self(), unknown_name, 1) == KERN_INVALID_NAME);
  BOOST_TEST(mach_port_swap_guard(self(), unknown_name, 1, 2) == KERN_INVALID_NAME);
  mach_port_name_t s = make_pset();
  BOOST_TEST(mach_port_guard(self(), s, 1, FALSE) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_unguard(self(), s, 1) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_guard_with_flags(self(), s, 1, 0) == KERN_INVALID_RIGHT);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
}

// An immovable receive right cannot be moved: KERN_INVALID_CAPABILITY from the port API,
// MACH_SEND_INVALID_RIGHT in a message (§2.8, §4.3).
BOOST_FIXTURE_TEST_CASE(immovable_receive_cannot_move, leak_check) {
  mach_port_name_t p = make_guarded(0x10, MPO_IMMOVABLE_RECEIVE);
  constexpr mach_port_name_t other = (0x4568u << 8) | 0x03u;
  BOOST_TEST(mach_port_insert_right(self(), other, p, MACH_MSG_TYPE_MOVE_RECEIVE) ==
             KERN_INVALID_CAPABILITY);
  mach_port_t out = MACH_PORT_NULL;
  mach_msg_type_name_t disp = 0;
  BOOST_TEST(mach_port_extract_right(self(), p, MACH_MSG_TYPE_MOVE_RECEIVE, &out, &disp) ==
             KERN_INVALID_CAPABILITY);

  mach_port_name_t q = make_port_with_send();
  struct {
    mach_msg_header_t header;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port;
  } msg{};
  msg.header.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, MACH_MSGH_BITS_COMPLEX);
  msg.header.msgh_remote_port = q;
  msg.header.msgh_size = sizeof msg;
  msg.body.msgh_descriptor_count = 1;
  msg.port.name = p;
  msg.port.disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
  msg.port.type = MACH_MSG_PORT_DESCRIPTOR;
  BOOST_TEST(mach_msg(&msg.header, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL, 0,
                      MACH_PORT_NULL) == MACH_SEND_INVALID_RIGHT);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  BOOST_TEST(refs(q, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(queue_empty(q));
  BOOST_TEST(mach_port_destruct(self(), p, 0, 0x10) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), q, -1, 0) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_SUITE_END()
