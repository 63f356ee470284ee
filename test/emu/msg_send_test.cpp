// mach_msg send: header validation, right checks, qlimit, timeouts (§4.1-§4.6, §8; §7
// voucher_entry_18826844.c adapted). Blocked senders woken by another thread:
// emu_only_blocked_wakeup_test.cpp.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <chrono>

using namespace machport_test;

namespace {
constexpr mach_port_name_t unknown_name = (0x789Au << 8) | 0x03u;

mach_msg_return_t send_raw(mach_msg_header_t* h, mach_msg_size_t size,
                           mach_msg_option_t options = 0, mach_msg_timeout_t timeout = 0) {
  return mach_msg(h, MACH_SEND_MSG | options, size, 0, MACH_PORT_NULL, timeout, MACH_PORT_NULL);
}

mach_msg_header_t header(mach_msg_bits_t bits, mach_port_name_t remote, mach_port_name_t local,
                         mach_port_name_t voucher = MACH_PORT_NULL) {
  mach_msg_header_t h{};
  h.msgh_bits = bits;
  h.msgh_size = sizeof h;
  h.msgh_remote_port = remote;
  h.msgh_local_port = local;
  h.msgh_voucher_port = voucher;
  return h;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(msg_send)

BOOST_FIXTURE_TEST_CASE(send_size_checks, leak_check) {
  mach_port_name_t p = make_port_with_send();
  struct {
    mach_msg_header_t h;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t d;
  } m{};
  m.h = header(MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0), p, MACH_PORT_NULL);
  BOOST_TEST(send_raw(&m.h, 20) == MACH_SEND_MSG_TOO_SMALL);
  BOOST_TEST(send_raw(&m.h, 26) == MACH_SEND_MSG_TOO_SMALL);
  BOOST_TEST(send_raw(&m.h, 50331584) == MACH_SEND_TOO_LARGE);
  m.h.msgh_bits |= MACH_MSGH_BITS_COMPLEX;
  BOOST_TEST(send_raw(&m.h, 24) == MACH_SEND_MSG_TOO_SMALL);
  m.body.msgh_descriptor_count = 2;  // room for one descriptor only
  BOOST_TEST(send_raw(&m.h, sizeof m) == MACH_SEND_MSG_TOO_SMALL);
  m.body.msgh_descriptor_count = 1;
  m.d.type = 7;  // beyond MACH_MSG_GUARDED_PORT_DESCRIPTOR
  m.d.name = MACH_PORT_NULL;
  BOOST_TEST(send_raw(&m.h, sizeof m) == MACH_SEND_INVALID_TYPE);
  // Nothing was touched.
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(queue_empty(p));
  // msgh_size in the buffer is ignored: send_size wins.
  mach_msg_header_t h = header(MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0), p, MACH_PORT_NULL);
  h.msgh_size = 1000;
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_MSG_SUCCESS);
  raw_msg<> r;
  BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
  BOOST_TEST(r.header()->msgh_size == 24u);
  destroy_port(p);
}

// §4.2-6, in order.
BOOST_FIXTURE_TEST_CASE(header_disposition_checks, leak_check) {
  mach_port_name_t p = make_port_with_send();
  mach_port_name_t q = make_receive();
  // Reply disposition 0 with a non-zero local name.
  auto h = header(MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0), p, q);
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_INVALID_HEADER);
  h = header(MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MOVE_RECEIVE), p, q);
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_INVALID_HEADER);
  h = header(MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 22), p, q);
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_INVALID_HEADER);
  // Voucher disposition / name.
  h = header(MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, MACH_MSG_TYPE_MAKE_SEND, 0), p,
             MACH_PORT_NULL, q);
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_INVALID_VOUCHER);
  h = header(MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, MACH_MSG_TYPE_COPY_SEND, 0), p,
             MACH_PORT_NULL, MACH_PORT_DEAD);
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_INVALID_VOUCHER);
  // Destination disposition.
  for (mach_msg_type_name_t d : {0u, 16u, 22u, 15u}) {
    h = header(MACH_MSGH_BITS(d, 0), p, MACH_PORT_NULL);
    BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_INVALID_HEADER, "dest disposition " << d);
  }
  // Destination name.
  h = header(MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0), MACH_PORT_NULL, MACH_PORT_NULL);
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_INVALID_DEST);
  h = header(MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0), MACH_PORT_DEAD, MACH_PORT_NULL);
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_INVALID_DEST);
  // dest == voucher name with a MAKE_SEND destination.
  h = header(MACH_MSGH_BITS_SET(MACH_MSG_TYPE_MAKE_SEND, 0, MACH_MSG_TYPE_COPY_SEND, 0), p,
             MACH_PORT_NULL, p);
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_INVALID_DEST);
  // dest == reply with a send-once disposition.
  h = header(MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND_ONCE, MACH_MSG_TYPE_MOVE_SEND_ONCE), p, p);
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_INVALID_DEST);
  // reply == voucher.
  h = header(MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND,
                                MACH_MSG_TYPE_COPY_SEND, 0),
             p, q, q);
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_INVALID_REPLY);
  // No voucher support: any real voucher name is refused.
  h = header(MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, MACH_MSG_TYPE_COPY_SEND, 0), p,
             MACH_PORT_NULL, q);
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_INVALID_VOUCHER);

  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(status_of(p).mps_mscount == 1u);
  BOOST_TEST(status_of(q).mps_mscount == 0u);
  BOOST_TEST(status_of(q).mps_sorights == 0u);
  BOOST_TEST(queue_empty(p));
  destroy_port(p);
  destroy_port(q);
}

// Header bits outside MACH_MSGH_BITS_USER are dropped silently (§4.2-5).
BOOST_FIXTURE_TEST_CASE(non_user_header_bits_dropped, leak_check) {
  mach_port_name_t p = make_port_with_send();
  auto h = header(MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | 0x40000000u | 0x00e0e0e0u, p,
                  MACH_PORT_NULL);
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_MSG_SUCCESS);
  raw_msg<> r;
  BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
  BOOST_TEST((r.header()->msgh_bits & ~MACH_MSGH_BITS_RAISEIMP) ==
             MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND));
  destroy_port(p);
}

// §4.2-7/8: entry lookups for dest and reply. The space is untouched on error.
BOOST_FIXTURE_TEST_CASE(invalid_dest_and_reply, leak_check) {
  mach_port_name_t p = make_port_with_send();
  mach_port_name_t r = make_receive();
  mach_port_name_t s = make_pset();
  mach_port_name_t d = make_dead_name();
  mach_port_name_t so = make_send_once(r);
  // Destinations.
  BOOST_TEST(send_header(unknown_name, MACH_MSG_TYPE_COPY_SEND) == MACH_SEND_INVALID_DEST);
  BOOST_TEST(send_header(s, MACH_MSG_TYPE_COPY_SEND) == MACH_SEND_INVALID_DEST);
  BOOST_TEST(send_header(s, MACH_MSG_TYPE_MAKE_SEND) == MACH_SEND_INVALID_DEST);
  BOOST_TEST(send_header(d, MACH_MSG_TYPE_COPY_SEND) == MACH_SEND_INVALID_DEST);
  BOOST_TEST(send_header(d, MACH_MSG_TYPE_MOVE_SEND) == MACH_SEND_INVALID_DEST);
  BOOST_TEST(send_header(r, MACH_MSG_TYPE_COPY_SEND) == MACH_SEND_INVALID_DEST);
  BOOST_TEST(send_header(r, MACH_MSG_TYPE_MOVE_SEND) == MACH_SEND_INVALID_DEST);
  BOOST_TEST(send_header(so, MACH_MSG_TYPE_COPY_SEND) == MACH_SEND_INVALID_DEST);
  BOOST_TEST(send_header(so, MACH_MSG_TYPE_MAKE_SEND) == MACH_SEND_INVALID_DEST);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_MOVE_SEND_ONCE) == MACH_SEND_INVALID_DEST);
  // Replies.
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, unknown_name, MACH_MSG_TYPE_MAKE_SEND) ==
             MACH_SEND_INVALID_REPLY);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, d, MACH_MSG_TYPE_COPY_SEND) ==
             MACH_SEND_INVALID_REPLY);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, d, MACH_MSG_TYPE_MOVE_SEND) ==
             MACH_SEND_INVALID_REPLY);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, s, MACH_MSG_TYPE_MAKE_SEND) ==
             MACH_SEND_INVALID_REPLY);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, r, MACH_MSG_TYPE_COPY_SEND) ==
             MACH_SEND_INVALID_REPLY);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, so, MACH_MSG_TYPE_MAKE_SEND_ONCE) ==
             MACH_SEND_INVALID_REPLY);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, r, MACH_MSG_TYPE_MOVE_SEND_ONCE) ==
             MACH_SEND_INVALID_REPLY);
  // Untouched.
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(refs(d, MACH_PORT_RIGHT_DEAD_NAME) == 1u);
  BOOST_TEST(type_of(so) == MACH_PORT_TYPE_SEND_ONCE);
  BOOST_TEST(status_of(r).mps_mscount == 0u);
  BOOST_TEST(status_of(r).mps_sorights == 1u);
  BOOST_TEST(queue_empty(p));
  BOOST_TEST(queue_empty(r));

  BOOST_TEST(mach_port_deallocate(self(), so) == KERN_SUCCESS);
  receive_and_destroy(r);
  BOOST_TEST(mach_port_deallocate(self(), d) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  destroy_port(r);
  destroy_port(p);
}

// voucher_entry_18826844.c adapted: dest and reply are the same send name.
BOOST_FIXTURE_TEST_CASE(same_name_move_send_urefs_rule, leak_check) {
  mach_port_name_t p = make_port_with_send();
  // MOVE_SEND + MOVE_SEND needs two urefs.
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_MOVE_SEND, p, MACH_MSG_TYPE_MOVE_SEND) ==
             MACH_SEND_INVALID_DEST);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(queue_empty(p));
  // MOVE_SEND + COPY_SEND needs one, and consumes it.
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_MOVE_SEND, p, MACH_MSG_TYPE_COPY_SEND) ==
             MACH_MSG_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 0u);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  raw_msg<> r;
  BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
  BOOST_TEST(r.header()->msgh_remote_port == p);
  BOOST_TEST(r.header()->msgh_local_port == p);
  BOOST_TEST(r.header()->msgh_bits ==
             MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND, MACH_MSG_TYPE_PORT_SEND));
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);  // the reply right
  // With two urefs MOVE_SEND + MOVE_SEND works and takes both.
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, 1) == KERN_SUCCESS);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_MOVE_SEND, p, MACH_MSG_TYPE_MOVE_SEND) ==
             MACH_MSG_SUCCESS);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  // COPY_SEND + COPY_SEND needs one and leaves it.
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, p, MACH_MSG_TYPE_COPY_SEND) ==
             MACH_MSG_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 2u);
  BOOST_TEST(mach_port_destruct(self(), p, -2, 0) == KERN_SUCCESS);
}

// §8 / §4.5: default qlimit 5; send-once destinations are exempt; the timed-out message is
// pseudo-received back into the sender (§4.6).
BOOST_FIXTURE_TEST_CASE(qlimit_default_and_send_once_exemption, leak_check) {
  mach_port_name_t p = make_port_with_send();
  for (int i = 0; i < 5; ++i) {
    BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, i, MACH_SEND_TIMEOUT,
                           0) == MACH_MSG_SUCCESS);
  }
  BOOST_TEST(status_of(p).mps_msgcount == 5u);
  mach_msg_header_t h{};
  h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
  h.msgh_remote_port = p;
  h.msgh_id = 99;
  BOOST_TEST(send_raw(&h, sizeof h, MACH_SEND_TIMEOUT, 0) == MACH_SEND_TIMED_OUT);
  // Pseudo-receive: ports not swapped, translated bits, and the sender owns the copied right.
  BOOST_TEST(h.msgh_remote_port == p);
  BOOST_TEST(h.msgh_local_port == MACH_PORT_NULL);
  BOOST_TEST(MACH_MSGH_BITS_REMOTE(h.msgh_bits) == MACH_MSG_TYPE_PORT_SEND);
  BOOST_TEST(h.msgh_id == 99);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 2u);
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);
  // Send-once destinations go past the limit.
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_MAKE_SEND_ONCE, MACH_PORT_NULL, 0, 100,
                         MACH_SEND_TIMEOUT, 0) == MACH_MSG_SUCCESS);
  mach_port_name_t so = make_send_once(p);
  BOOST_TEST(send_header(so, MACH_MSG_TYPE_MOVE_SEND_ONCE, MACH_PORT_NULL, 0, 101,
                         MACH_SEND_TIMEOUT, 0) == MACH_MSG_SUCCESS);
  BOOST_TEST(!name_exists(so));
  BOOST_TEST(status_of(p).mps_msgcount == 7u);
  // FIFO.
  for (int i = 0; i < 5; ++i) {
    raw_msg<> r;
    BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
    BOOST_TEST(r.header()->msgh_id == i);
  }
  for (int id : {100, 101}) {
    raw_msg<> r;
    BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
    BOOST_TEST(r.header()->msgh_id == id);
    BOOST_TEST(MACH_MSGH_BITS_LOCAL(r.header()->msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE);
  }
  BOOST_TEST(status_of(p).mps_sorights == 0u);
  destroy_port(p);
}

// §2.11 / §8: LIMITS_INFO get/set.
BOOST_FIXTURE_TEST_CASE(limits_attributes, leak_check) {
  mach_port_name_t p = make_receive();
  mach_port_limits_t lim{};
  mach_msg_type_number_t count = MACH_PORT_LIMITS_INFO_COUNT;
  lim.mpl_qlimit = 1025;
  BOOST_TEST(mach_port_set_attributes(self(), p, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&lim), count) ==
             KERN_INVALID_VALUE);
  BOOST_TEST(mach_port_set_attributes(self(), MACH_PORT_NULL, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&lim), count) ==
             KERN_INVALID_VALUE);  // the value is checked before the name
  BOOST_TEST(mach_port_set_attributes(self(), p, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&lim), 0) ==
             KERN_FAILURE);
  lim.mpl_qlimit = 2;
  BOOST_TEST(mach_port_set_attributes(self(), MACH_PORT_NULL, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&lim), count) ==
             KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_set_attributes(self(), MACH_PORT_DEAD, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&lim), count) ==
             KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_set_attributes(self(), p, 1000, reinterpret_cast<mach_port_info_t>(&lim),
                                      count) == KERN_INVALID_ARGUMENT);
  // get reports the old limit.
  mach_port_limits_t out{};
  count = MACH_PORT_LIMITS_INFO_COUNT;
  BOOST_TEST(mach_port_get_attributes(self(), p, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&out), &count) ==
             KERN_SUCCESS);
  BOOST_TEST(out.mpl_qlimit == 5u);
  BOOST_TEST(mach_port_set_attributes(self(), p, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&lim), 1) ==
             KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_qlimit == 2u);
  // get errors.
  count = 0;
  BOOST_TEST(mach_port_get_attributes(self(), p, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&out), &count) ==
             KERN_FAILURE);
  count = MACH_PORT_LIMITS_INFO_COUNT;
  BOOST_TEST(mach_port_get_attributes(self(), MACH_PORT_NULL, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&out), &count) ==
             KERN_SUCCESS);
  BOOST_TEST(count == 0u);
  count = MACH_PORT_LIMITS_INFO_COUNT;
  BOOST_TEST(mach_port_get_attributes(self(), unknown_name, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&out), &count) ==
             KERN_INVALID_NAME);
  mach_port_name_t s = make_pset();
  count = MACH_PORT_LIMITS_INFO_COUNT;
  BOOST_TEST(mach_port_get_attributes(self(), s, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&out), &count) ==
             KERN_INVALID_RIGHT);
  count = MACH_PORT_LIMITS_INFO_COUNT;
  BOOST_TEST(mach_port_get_attributes(self(), p, 1000, reinterpret_cast<mach_port_info_t>(&out),
                                      &count) == KERN_INVALID_ARGUMENT);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  destroy_port(p);
}

// qlimit 0: every ordinary send times out (§2.11).
BOOST_FIXTURE_TEST_CASE(qlimit_zero, leak_check) {
  mach_port_name_t p = make_port_with_send();
  mach_port_limits_t lim{};
  lim.mpl_qlimit = 0;
  BOOST_TEST(mach_port_set_attributes(self(), p, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&lim), 1) ==
             KERN_SUCCESS);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 0, MACH_SEND_TIMEOUT,
                         0) == MACH_SEND_TIMED_OUT);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 2u);  // the copied right came back (§4.6)
  BOOST_TEST(mach_port_destruct(self(), p, -2, 0) == KERN_SUCCESS);
}

// Timeouts are in milliseconds: a send to a full queue with a 50 ms timeout waits at least
// that long (§1.4).
BOOST_FIXTURE_TEST_CASE(send_timeout_in_milliseconds, leak_check) {
  mach_port_name_t p = make_port_with_send(1);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND) == MACH_MSG_SUCCESS);
  auto start = std::chrono::steady_clock::now();
  mach_msg_header_t h{};
  h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
  h.msgh_remote_port = p;
  BOOST_TEST(send_raw(&h, sizeof h, MACH_SEND_TIMEOUT, 50) == MACH_SEND_TIMED_OUT);
  auto elapsed_ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - start)
        .count();
  };
  auto elapsed = elapsed_ms();
  BOOST_TEST(elapsed >= 50);
  BOOST_TEST(elapsed < 5000);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 2u);  // pseudo-received copy
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);
  // Receive timeout too.
  receive_and_destroy(p);
  raw_msg<> r;
  start = std::chrono::steady_clock::now();
  BOOST_TEST(receive(p, r, 0, 50) == MACH_RCV_TIMED_OUT);
  elapsed = elapsed_ms();
  BOOST_TEST(elapsed >= 50);
  destroy_port(p);
}

// §4.5: a queue holding MACH_PORT_QLIMIT_KERNEL messages refuses with MACH_SEND_NO_BUFFER,
// even for send-once destinations.
BOOST_FIXTURE_TEST_CASE(send_no_buffer, leak_check) {
  mach_port_name_t p = make_port_with_send(1);
  for (int i = 0; i < MACH_PORT_QLIMIT_KERNEL; ++i) {
    mach_msg_return_t mr = send_header(p, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    if (mr != MACH_MSG_SUCCESS) {
      BOOST_TEST_REQUIRE(mr == MACH_MSG_SUCCESS, "send " << i);
    }
  }
  BOOST_TEST(status_of(p).mps_msgcount == static_cast<unsigned>(MACH_PORT_QLIMIT_KERNEL));
  mach_msg_header_t so{};
  so.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND_ONCE, 0);
  so.msgh_remote_port = p;
  BOOST_TEST(send_raw(&so, sizeof so) == MACH_SEND_NO_BUFFER);
  // Pseudo-received: the made send-once right now has a name in the sender's space.
  BOOST_TEST(MACH_MSGH_BITS_REMOTE(so.msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE);
  BOOST_TEST_REQUIRE(MACH_PORT_VALID(so.msgh_remote_port));
  BOOST_TEST(type_of(so.msgh_remote_port) == MACH_PORT_TYPE_SEND_ONCE);
  BOOST_TEST(status_of(p).mps_sorights == MACH_PORT_QLIMIT_KERNEL + 1u);
  // Its send-once notification is dropped: the queue is at the kernel limit (§3.2).
  BOOST_TEST(mach_port_deallocate(self(), so.msgh_remote_port) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_sorights == static_cast<unsigned>(MACH_PORT_QLIMIT_KERNEL));
  BOOST_TEST(status_of(p).mps_msgcount == static_cast<unsigned>(MACH_PORT_QLIMIT_KERNEL));
  mach_msg_header_t h{};
  h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
  h.msgh_remote_port = p;
  BOOST_TEST(send_raw(&h, sizeof h) == MACH_SEND_NO_BUFFER);
  BOOST_TEST(h.msgh_remote_port == p);  // pseudo-received
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 2u);
  BOOST_TEST(mach_port_destruct(self(), p, -2, 0) == KERN_SUCCESS);
}

// mach_msg_destroy releases every right and region of a received message.
BOOST_FIXTURE_TEST_CASE(mach_msg_destroy_releases_rights, leak_check) {
  mach_port_name_t p = make_port_with_send();
  mach_port_name_t carried = make_receive();
  struct {
    mach_msg_header_t h;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port;
    mach_msg_ool_descriptor_t ool;
  } m{};
  static char data[100] = "payload";
  m.h.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE, 0,
                                     MACH_MSGH_BITS_COMPLEX);
  m.h.msgh_remote_port = p;
  m.h.msgh_local_port = carried;
  m.body.msgh_descriptor_count = 2;
  m.port.name = carried;
  m.port.disposition = MACH_MSG_TYPE_MAKE_SEND;
  m.port.type = MACH_MSG_PORT_DESCRIPTOR;
  m.ool.address = data;
  m.ool.size = sizeof data;
  m.ool.copy = MACH_MSG_VIRTUAL_COPY;
  m.ool.deallocate = false;
  m.ool.type = MACH_MSG_OOL_DESCRIPTOR;
  BOOST_TEST(send_raw(&m.h, sizeof m) == MACH_MSG_SUCCESS);
  raw_msg<> r;
  BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
  BOOST_TEST(type_of(carried) == MACH_PORT_TYPE_SEND_RECEIVE);
  BOOST_TEST(status_of(carried).mps_sorights == 1u);
  mach_msg_destroy(r.header());
  BOOST_TEST(type_of(carried) == MACH_PORT_TYPE_RECEIVE);
  BOOST_TEST(status_of(carried).mps_srights == 0);
  {
    raw_msg<> n;
    BOOST_TEST_REQUIRE(receive(carried, n) == MACH_MSG_SUCCESS);
    BOOST_TEST(n.header()->msgh_id == MACH_NOTIFY_SEND_ONCE);
  }
  destroy_port(carried);
  destroy_port(p);
}

BOOST_AUTO_TEST_SUITE_END()
