// mach_port_construct / destruct, guards and context (§2.8, §7 immovable_rights.c and
// mach_service_port.c option checks). Only cases that raise no fatal EXC_GUARD live here, so
// they also run on macOS; the guard-violation cases are in emu_only_guard_test.cpp.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

using namespace machport_test;

namespace {
constexpr mach_port_name_t unknown_name = (0x3456u << 8) | 0x03u;

kern_return_t construct(uint32_t flags, mach_port_context_t ctx, mach_port_name_t* name,
                        mach_port_msgcount_t qlimit = 0) {
  mach_port_options_t opts{};
  opts.flags = flags;
  opts.mpl.mpl_qlimit = qlimit;
  return mach_port_construct(self(), &opts, ctx, name);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(construct_and_guards)

BOOST_FIXTURE_TEST_CASE(construct_plain_stores_context, leak_check) {
  mach_port_name_t p = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(construct(0, 0x1234, &p) == KERN_SUCCESS);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  mach_port_context_t ctx = 0;
  BOOST_TEST(mach_port_get_context(self(), p, &ctx) == KERN_SUCCESS);
  BOOST_TEST(ctx == 0x1234u);
  mach_port_status_t st = status_of(p);
  BOOST_TEST(st.mps_qlimit == 5u);
  BOOST_TEST((st.mps_flags & (MACH_PORT_STATUS_FLAG_GUARDED | MACH_PORT_STATUS_FLAG_STRICT_GUARD |
                              MACH_PORT_STATUS_FLAG_GUARD_IMMOVABLE_RECEIVE)) == 0u);
  BOOST_TEST(mach_port_set_context(self(), p, 0x5678) == KERN_SUCCESS);
  BOOST_TEST(mach_port_get_context(self(), p, &ctx) == KERN_SUCCESS);
  BOOST_TEST(ctx == 0x5678u);
  // Unguarded: the guard argument of destruct is ignored.
  BOOST_TEST(mach_port_destruct(self(), p, 0, 0x9999) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));
}

BOOST_FIXTURE_TEST_CASE(construct_insert_send_right, leak_check) {
  mach_port_name_t p = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(construct(MPO_INSERT_SEND_RIGHT, 0, &p) == KERN_SUCCESS);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_SEND_RECEIVE);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  mach_port_status_t st = status_of(p);
  BOOST_TEST(st.mps_mscount == 1u);
  BOOST_TEST(st.mps_srights != 0);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));
}

BOOST_FIXTURE_TEST_CASE(construct_qlimit, leak_check) {
  mach_port_name_t p = MACH_PORT_NULL;
  BOOST_TEST(construct(MPO_QLIMIT, 0, &p, 1025) == KERN_INVALID_VALUE);
  BOOST_TEST_REQUIRE(construct(MPO_QLIMIT, 0, &p, 1024) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_qlimit == 1024u);
  mach_port_limits_t lim{};
  mach_msg_type_number_t count = MACH_PORT_LIMITS_INFO_COUNT;
  BOOST_TEST(mach_port_get_attributes(self(), p, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&lim), &count) ==
             KERN_SUCCESS);
  BOOST_TEST(count == 1u);
  BOOST_TEST(lim.mpl_qlimit == 1024u);
  destroy_port(p);
  // Without MPO_QLIMIT the field is ignored.
  BOOST_TEST_REQUIRE(construct(0, 0, &p, 3000) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_qlimit == 5u);
  destroy_port(p);
  BOOST_TEST_REQUIRE(construct(MPO_QLIMIT, 0, &p, 0) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_qlimit == 0u);
  destroy_port(p);
}

BOOST_FIXTURE_TEST_CASE(construct_exclusive_options, leak_check) {
  mach_port_name_t p = MACH_PORT_NULL;
  BOOST_TEST(construct(MPO_SERVICE_PORT | MPO_CONNECTION_PORT, 0, &p) == KERN_INVALID_ARGUMENT);
  BOOST_TEST(construct(MPO_SERVICE_PORT | MPO_TG_BLOCK_TRACKING, 0, &p) ==
             KERN_INVALID_ARGUMENT);
  BOOST_TEST(construct(MPO_CONNECTION_PORT | MPO_TG_BLOCK_TRACKING, 0, &p) ==
             KERN_INVALID_ARGUMENT);
  BOOST_TEST(construct(MPO_REPLY_PORT | MPO_PROVISIONAL_REPLY_PORT, 0, &p) ==
             KERN_INVALID_ARGUMENT);
  BOOST_TEST(construct(MPO_REPLY_PORT | MPO_ENFORCE_REPLY_PORT_SEMANTICS, 0, &p) ==
             KERN_INVALID_ARGUMENT);
  // tests/mach_service_port.c: a service port needs its info.
  BOOST_TEST(construct(MPO_SERVICE_PORT, 0, &p) == KERN_INVALID_ARGUMENT);
}

// tests/mach_service_port.c: a connection port must derive from a service port.
BOOST_FIXTURE_TEST_CASE(connection_port_needs_service_port, leak_check) {
  mach_port_name_t plain = make_receive();
  mach_port_options_t opts{};
  opts.flags = MPO_CONNECTION_PORT;
  opts.service_port_name = plain;
  mach_port_name_t p = MACH_PORT_NULL;
  BOOST_TEST(mach_port_construct(self(), &opts, 0, &p) == KERN_INVALID_CAPABILITY);
  destroy_port(plain);
}

BOOST_FIXTURE_TEST_CASE(construct_guarded, leak_check) {
  mach_port_name_t p = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(construct(MPO_CONTEXT_AS_GUARD, 0x42424242, &p) == KERN_SUCCESS);
  mach_port_status_t st = status_of(p);
  BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_GUARDED) != 0u);
  BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_STRICT_GUARD) == 0u);
  mach_port_context_t ctx = 0;
  BOOST_TEST(mach_port_get_context(self(), p, &ctx) == KERN_SUCCESS);
  BOOST_TEST(ctx == 0x42424242u);
  BOOST_TEST(mach_port_destruct(self(), p, 0, 0x42424242) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));

  // Strict: the context reads as 0.
  BOOST_TEST_REQUIRE(construct(MPO_CONTEXT_AS_GUARD | MPO_STRICT | MPO_INSERT_SEND_RIGHT, 0x77,
                               &p) == KERN_SUCCESS);
  st = status_of(p);
  BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_GUARDED) != 0u);
  BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_STRICT_GUARD) != 0u);
  ctx = 1;
  BOOST_TEST(mach_port_get_context(self(), p, &ctx) == KERN_SUCCESS);
  BOOST_TEST(ctx == 0u);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0x77) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));
}

// tests/ipc/immovable_rights.c
BOOST_FIXTURE_TEST_CASE(immovable_rights, leak_check) {
  mach_port_name_t p = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(construct(MPO_CONTEXT_AS_GUARD | MPO_IMMOVABLE_RECEIVE, 0x10, &p) ==
                     KERN_SUCCESS);
  BOOST_TEST((status_of(p).mps_flags & MACH_PORT_STATUS_FLAG_GUARD_IMMOVABLE_RECEIVE) != 0u);
  BOOST_TEST(mach_port_destruct(self(), p, 0, 0x10) == KERN_SUCCESS);

  p = make_receive();
  BOOST_TEST(mach_port_guard_with_flags(self(), p, 0x11, MPG_IMMOVABLE_RECEIVE) == KERN_SUCCESS);
  mach_port_status_t st = status_of(p);
  BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_GUARD_IMMOVABLE_RECEIVE) != 0u);
  BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_GUARDED) != 0u);
  BOOST_TEST(mach_port_swap_guard(self(), p, 0x11, 0xde18) == KERN_SUCCESS);
  mach_port_context_t ctx = 0;
  BOOST_TEST(mach_port_get_context(self(), p, &ctx) == KERN_SUCCESS);
  BOOST_TEST(ctx == 0xde18u);
  BOOST_TEST(mach_port_unguard(self(), p, 0xde18) == KERN_SUCCESS);
  st = status_of(p);
  BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_GUARDED) == 0u);
  // The immovable bit is sticky (§2.8).
  BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_GUARD_IMMOVABLE_RECEIVE) != 0u);
  destroy_port(p);
}

BOOST_FIXTURE_TEST_CASE(guard_and_unguard, leak_check) {
  mach_port_name_t p = make_receive();
  BOOST_TEST(mach_port_guard(self(), p, 0xabc, FALSE) == KERN_SUCCESS);
  mach_port_status_t st = status_of(p);
  BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_GUARDED) != 0u);
  BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_STRICT_GUARD) == 0u);
  mach_port_context_t ctx = 0;
  BOOST_TEST(mach_port_get_context(self(), p, &ctx) == KERN_SUCCESS);
  BOOST_TEST(ctx == 0xabcu);
  // Already guarded: context is not 0.
  BOOST_TEST(mach_port_guard(self(), p, 0xdef, FALSE) == KERN_INVALID_ARGUMENT);
  BOOST_TEST(mach_port_unguard(self(), p, 0xabc) == KERN_SUCCESS);
  BOOST_TEST((status_of(p).mps_flags & MACH_PORT_STATUS_FLAG_GUARDED) == 0u);
  // A port with a context cannot be guarded.
  BOOST_TEST(mach_port_set_context(self(), p, 5) == KERN_SUCCESS);
  BOOST_TEST(mach_port_guard(self(), p, 0x123, FALSE) == KERN_INVALID_ARGUMENT);
  BOOST_TEST(mach_port_set_context(self(), p, 0) == KERN_SUCCESS);
  // Strict guard via mach_port_guard and via guard_with_flags.
  BOOST_TEST(mach_port_guard(self(), p, 0x55, TRUE) == KERN_SUCCESS);
  BOOST_TEST((status_of(p).mps_flags & MACH_PORT_STATUS_FLAG_STRICT_GUARD) != 0u);
  BOOST_TEST(mach_port_unguard(self(), p, 0x55) == KERN_SUCCESS);
  BOOST_TEST((status_of(p).mps_flags &
              (MACH_PORT_STATUS_FLAG_GUARDED | MACH_PORT_STATUS_FLAG_STRICT_GUARD)) == 0u);
  BOOST_TEST(mach_port_guard_with_flags(self(), p, 0x66, MPG_STRICT) == KERN_SUCCESS);
  BOOST_TEST((status_of(p).mps_flags & MACH_PORT_STATUS_FLAG_STRICT_GUARD) != 0u);
  BOOST_TEST((status_of(p).mps_flags & MACH_PORT_STATUS_FLAG_GUARD_IMMOVABLE_RECEIVE) == 0u);
  BOOST_TEST(mach_port_destruct(self(), p, 0, 0x66) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));
}

// Checks that come before the guard check (§2.8 destruct), and the send-uref bookkeeping.
BOOST_FIXTURE_TEST_CASE(destruct_errors_and_order, leak_check) {
  BOOST_TEST(mach_port_destruct(self(), MACH_PORT_NULL, 0, 0) == KERN_INVALID_NAME);
  BOOST_TEST(mach_port_destruct(self(), MACH_PORT_DEAD, 0, 0) == KERN_INVALID_NAME);
  BOOST_TEST(mach_port_destruct(self(), unknown_name, 0, 0) == KERN_INVALID_NAME);
  mach_port_name_t s = make_pset();
  BOOST_TEST(mach_port_destruct(self(), s, 0, 0) == KERN_INVALID_RIGHT);
  mach_port_name_t d = make_dead_name();
  BOOST_TEST(mach_port_destruct(self(), d, 0, 0) == KERN_INVALID_RIGHT);
  // Receive only: any srdelta is a missing SEND, checked before the sign.
  mach_port_name_t r = make_receive();
  BOOST_TEST(mach_port_destruct(self(), r, -1, 0) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_destruct(self(), r, 1, 0) == KERN_INVALID_RIGHT);
  mach_port_name_t so = make_send_once(r);
  BOOST_TEST(mach_port_destruct(self(), so, 0, 0) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_deallocate(self(), so) == KERN_SUCCESS);
  receive_and_destroy(r);
  // With SEND: positive delta, then too large a delta.
  mach_port_name_t p = make_port_with_send();
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, 1) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), p, 1, 0) == KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_destruct(self(), p, -3, 0) == KERN_INVALID_VALUE);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_SEND_RECEIVE);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 2u);
  // Remaining send urefs become a dead name.
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_DEAD_NAME) == 1u);
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));

  BOOST_TEST(mach_port_destruct(self(), r, 0, 0) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), d) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(context_calls_on_non_receive_names, leak_check) {
  mach_port_context_t ctx = 0;
  BOOST_TEST(mach_port_get_context(self(), unknown_name, &ctx) == KERN_INVALID_NAME);
  mach_port_name_t s = make_pset();
  BOOST_TEST(mach_port_get_context(self(), s, &ctx) == KERN_INVALID_RIGHT);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
}

// XNU's mach_port_set_context refuses only a strict guard (kGUARD_EXC_SET_CONTEXT, in
// emu_only_guard_test.cpp). On a plain guarded port it succeeds and, since the guard is the
// context, replaces the guard: only the new value destroys or unguards the port afterwards.
BOOST_FIXTURE_TEST_CASE(set_context_on_plain_guarded_port_replaces_the_guard, leak_check) {
  mach_port_name_t p = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(construct(MPO_CONTEXT_AS_GUARD, 0x10, &p) == KERN_SUCCESS);
  BOOST_TEST(mach_port_set_context(self(), p, 0x20) == KERN_SUCCESS);
  mach_port_context_t ctx = 0;
  BOOST_TEST(mach_port_get_context(self(), p, &ctx) == KERN_SUCCESS);
  BOOST_TEST(ctx == 0x20u);
  BOOST_TEST((status_of(p).mps_flags & MACH_PORT_STATUS_FLAG_GUARDED) != 0u);
  BOOST_TEST(mach_port_unguard(self(), p, 0x20) == KERN_SUCCESS);
  BOOST_TEST(mach_port_guard(self(), p, 0x30, FALSE) == KERN_SUCCESS);
  BOOST_TEST(mach_port_set_context(self(), p, 0x40) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), p, 0, 0x40) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));
}

BOOST_AUTO_TEST_SUITE_END()
