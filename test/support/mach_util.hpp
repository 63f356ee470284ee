// Small helpers shared by the Mach conformance tests: port creation, queries, plain sends and
// receives into raw buffers, and offsets of the 64-bit notification layouts (§3.3).
// Mach API only, so every helper also builds for macOS.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#pragma once

#include <machport/detail/platform.hpp>

#include <mach/mach.h>
#include <mach/notify.h>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

#if MACHPORT_EMULATED
#include <machport_emu/task.hpp>
#endif

namespace machport_test {

// Failure guard for receives that must find a message: never reached when the test passes.
inline constexpr mach_msg_timeout_t guard_ms = 10000;

inline mach_port_t self() { return mach_task_self(); }

// A copy of a (possibly misaligned, packed) message field: BOOST_TEST binds its operands by
// reference, which UBSan rejects for the 64-bit fields of 4-byte-packed descriptors/trailers.
template <class T>
T copy_of(T value) {
  return value;
}

// A fresh receive right (no send rights).
inline mach_port_name_t make_receive() {
  mach_port_name_t name = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(mach_port_allocate(self(), MACH_PORT_RIGHT_RECEIVE, &name) == KERN_SUCCESS);
  return name;
}

// A receive right with one send uref under the same name (mscount 1).
inline mach_port_name_t make_port_with_send(mach_port_msgcount_t qlimit = 0,
                                            mach_port_context_t context = 0) {
  mach_port_options_t opts{};
  opts.flags = MPO_INSERT_SEND_RIGHT;
  if (qlimit != 0) {
    opts.flags |= MPO_QLIMIT;
    opts.mpl.mpl_qlimit = qlimit;
  }
  mach_port_name_t name = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(mach_port_construct(self(), &opts, context, &name) == KERN_SUCCESS);
  return name;
}

inline mach_port_name_t make_pset() {
  mach_port_name_t name = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(mach_port_allocate(self(), MACH_PORT_RIGHT_PORT_SET, &name) ==
                     KERN_SUCCESS);
  return name;
}

inline mach_port_name_t make_dead_name() {
  mach_port_name_t name = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(mach_port_allocate(self(), MACH_PORT_RIGHT_DEAD_NAME, &name) ==
                     KERN_SUCCESS);
  return name;
}

// A new send-once right to `port` (which must be a receive right) under a fresh name.
inline mach_port_name_t make_send_once(mach_port_name_t port) {
  mach_port_t so = MACH_PORT_NULL;
  mach_msg_type_name_t disp = 0;
  BOOST_TEST_REQUIRE(mach_port_extract_right(self(), port, MACH_MSG_TYPE_MAKE_SEND_ONCE, &so,
                                             &disp) == KERN_SUCCESS);
  BOOST_TEST_REQUIRE(disp == static_cast<mach_msg_type_name_t>(MACH_MSG_TYPE_PORT_SEND_ONCE));
  return so;
}

inline mach_port_type_t type_of(mach_port_name_t name) {
  mach_port_type_t type = 0;
  BOOST_TEST_REQUIRE(mach_port_type(self(), name, &type) == KERN_SUCCESS);
  return type;
}

inline mach_port_urefs_t refs(mach_port_name_t name, mach_port_right_t right) {
  mach_port_urefs_t urefs = 0;
  BOOST_TEST_REQUIRE(mach_port_get_refs(self(), name, right, &urefs) == KERN_SUCCESS);
  return urefs;
}

inline mach_port_status_t status_of(mach_port_name_t port) {
  mach_port_status_t status{};
  mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
  BOOST_TEST_REQUIRE(mach_port_get_attributes(self(), port, MACH_PORT_RECEIVE_STATUS,
                                              reinterpret_cast<mach_port_info_t>(&status),
                                              &count) == KERN_SUCCESS);
  return status;
}

inline bool name_exists(mach_port_name_t name) {
  mach_port_type_t type = 0;
  return mach_port_type(self(), name, &type) == KERN_SUCCESS;
}

// A valid user name whose table index is free right now (probed with allocate_name, which
// fails with KERN_NAME_EXISTS for an index in use under any generation). The index goes back
// on the free list, so claim the name before any other allocation in the same task.
inline mach_port_name_t unused_name(mach_port_name_t first_index = 0x1234) {
  for (mach_port_name_t index = first_index; index < first_index + 4096; ++index) {
    mach_port_name_t candidate = (index << 8) | 0x03u;
    kern_return_t kr = mach_port_allocate_name(self(), MACH_PORT_RIGHT_DEAD_NAME, candidate);
    if (kr == KERN_SUCCESS) {
      BOOST_TEST_REQUIRE(mach_port_deallocate(self(), candidate) == KERN_SUCCESS);
      return candidate;
    }
    BOOST_TEST_REQUIRE(kr == KERN_NAME_EXISTS);
  }
  BOOST_FAIL("no free name index");
  return MACH_PORT_NULL;
}

// mach_port_destroy is deprecated in the macOS SDK but its semantics are under test.
#if defined(__clang__) || defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
inline kern_return_t port_destroy(mach_port_name_t name) {
  return mach_port_destroy(self(), name);
}
#if defined(__clang__) || defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// Removes a plain (unguarded) receive right and the send urefs under its name.
inline void destroy_port(mach_port_name_t port) { BOOST_TEST(port_destroy(port) == KERN_SUCCESS); }

inline constexpr mach_port_name_t null_and_dead[] = {MACH_PORT_NULL, MACH_PORT_DEAD};

// The calling task's tokens, as a receiver sees them in a trailer.
inline security_token_t self_security_token() {
#if MACHPORT_EMULATED
  return machport_emu::task_security_token(machport_emu::current_task());
#else
  security_token_t token{};
  mach_msg_type_number_t count = TASK_SECURITY_TOKEN_COUNT;
  BOOST_TEST_REQUIRE(task_info(mach_task_self(), TASK_SECURITY_TOKEN,
                               reinterpret_cast<task_info_t>(&token), &count) == KERN_SUCCESS);
  return token;
#endif
}

inline audit_token_t self_audit_token() {
#if MACHPORT_EMULATED
  return machport_emu::task_audit_token(machport_emu::current_task());
#else
  audit_token_t token{};
  mach_msg_type_number_t count = TASK_AUDIT_TOKEN_COUNT;
  BOOST_TEST_REQUIRE(task_info(mach_task_self(), TASK_AUDIT_TOKEN,
                               reinterpret_cast<task_info_t>(&token), &count) == KERN_SUCCESS);
  return token;
#endif
}

// A message buffer with room for any trailer; 8-byte aligned like a real receive buffer.
template <std::size_t N = 512>
struct alignas(8) raw_msg {
  unsigned char bytes[N];
  raw_msg() { std::memset(bytes, 0, N); }
  mach_msg_header_t* header() { return reinterpret_cast<mach_msg_header_t*>(bytes); }
  static constexpr mach_msg_size_t size = N;
  template <class T>
  T at(std::size_t offset) const {
    T v;
    std::memcpy(&v, bytes + offset, sizeof v);
    return v;
  }
};

// Sends a header-only message (24 bytes).
inline mach_msg_return_t send_header(mach_port_name_t dest, mach_msg_type_name_t dest_disp,
                                     mach_port_name_t reply = MACH_PORT_NULL,
                                     mach_msg_type_name_t reply_disp = 0, mach_msg_id_t id = 0,
                                     mach_msg_option_t options = 0,
                                     mach_msg_timeout_t timeout = MACH_MSG_TIMEOUT_NONE) {
  mach_msg_header_t h{};
  h.msgh_bits = MACH_MSGH_BITS(dest_disp, reply_disp);
  h.msgh_size = sizeof h;
  h.msgh_remote_port = dest;
  h.msgh_local_port = reply;
  h.msgh_id = id;
  return mach_msg(&h, MACH_SEND_MSG | options, sizeof h, 0, MACH_PORT_NULL, timeout,
                  MACH_PORT_NULL);
}

// Receives one message into `buf`; with timeout 0 and MACH_RCV_TIMEOUT it never blocks.
template <std::size_t N>
mach_msg_return_t receive(mach_port_name_t port, raw_msg<N>& buf, mach_msg_option_t options = 0,
                          mach_msg_timeout_t timeout = guard_ms,
                          mach_msg_size_t size = raw_msg<N>::size) {
  return mach_msg(buf.header(), MACH_RCV_MSG | MACH_RCV_TIMEOUT | options, 0, size, port,
                  timeout, MACH_PORT_NULL);
}

// True if a receive with timeout 0 finds nothing queued on `port`.
inline bool queue_empty(mach_port_name_t port) {
  raw_msg<256> buf;
  mach_msg_return_t mr = mach_msg(buf.header(), MACH_RCV_MSG | MACH_RCV_TIMEOUT | MACH_RCV_LARGE,
                                  0, 8, port, 0, MACH_PORT_NULL);
  return mr == MACH_RCV_TIMED_OUT;
}

// Receives one message that must be there and discards it (mach_msg_destroy).
inline void receive_and_destroy(mach_port_name_t port) {
  raw_msg<4096> buf;
  mach_msg_return_t mr = receive(port, buf);
  BOOST_TEST_REQUIRE(mr == MACH_MSG_SUCCESS);
  mach_msg_destroy(buf.header());
}

// Byte offsets of the 64-bit notification bodies (§3.3).
namespace notify_layout {
inline constexpr std::size_t ndr = 24;
inline constexpr std::size_t not_port = 32;   // port-deleted, send-possible, dead-name
inline constexpr std::size_t not_count = 32;  // no-senders
inline constexpr std::size_t desc_count = 24; // port-destroyed: body
inline constexpr std::size_t desc_name = 28;  // port-destroyed: descriptor name
inline constexpr std::size_t desc_disposition = 38;
inline constexpr std::size_t desc_type = 39;
}  // namespace notify_layout

// Registers a notification whose notify right is MAKE_SEND_ONCE from `notify_port`.
inline kern_return_t request_notification(mach_port_name_t name, mach_msg_id_t id,
                                          mach_port_mscount_t sync, mach_port_name_t notify_port,
                                          mach_port_t* previous) {
  return mach_port_request_notification(self(), name, id, sync, notify_port,
                                        MACH_MSG_TYPE_MAKE_SEND_ONCE, previous);
}

}  // namespace machport_test
