// mach_msg receive: size checks, MACH_RCV_LARGE / LARGE_IDENTITY, timeouts (§4.1, §5.1,
// §5.2, §5.6, §8; §7 host_notifications.c, kevent_qos.c special_reply_port analogue). Blocked
// receives woken by another thread: emu_only_blocked_wakeup_test.cpp.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <chrono>
#include <cstring>

using namespace machport_test;

BOOST_AUTO_TEST_SUITE(msg_receive)

// §5.2 with MACH_RCV_LARGE: the message stays queued; only msgh_size is written.
BOOST_FIXTURE_TEST_CASE(rcv_large_keeps_message, leak_check) {
  mach_port_name_t p = make_port_with_send();
  struct {
    mach_msg_header_t h;
    char body[100];
  } msg{};
  msg.h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
  msg.h.msgh_remote_port = p;
  msg.h.msgh_id = 7;
  BOOST_TEST_REQUIRE(mach_msg(&msg.h, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL, 0,
                              MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  raw_msg<64> small;
  std::memset(small.bytes, 0xab, sizeof small.bytes);
  BOOST_TEST(receive(p, small, MACH_RCV_LARGE, 0) == MACH_RCV_TOO_LARGE);
  BOOST_TEST(small.header()->msgh_size == sizeof msg);  // without the trailer
  BOOST_TEST(small.header()->msgh_remote_port == 0xababababu);
  BOOST_TEST(small.header()->msgh_local_port == 0xababababu);
  BOOST_TEST(small.header()->msgh_id == static_cast<mach_msg_id_t>(0xababababu));
  BOOST_TEST(small.at<uint32_t>(24) == 0xababababu);
  BOOST_TEST(status_of(p).mps_msgcount == 1u);
  // Exactly size + 8 bytes is enough for the default trailer; 4 less is not.
  raw_msg<256> big;
  BOOST_TEST(receive(p, big, MACH_RCV_LARGE, 0, sizeof msg + 4) == MACH_RCV_TOO_LARGE);
  BOOST_TEST(receive(p, big, MACH_RCV_LARGE, 0, sizeof msg + 8) == MACH_MSG_SUCCESS);
  BOOST_TEST(big.header()->msgh_id == 7);
  BOOST_TEST(big.header()->msgh_size == sizeof msg);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
}

// §8: MACH_RCV_LARGE_IDENTITY on a set writes the member's name into msgh_local_port.
BOOST_FIXTURE_TEST_CASE(rcv_large_identity_on_set, leak_check) {
  mach_port_name_t s = make_pset();
  mach_port_name_t a = make_port_with_send();
  mach_port_name_t b = make_port_with_send();
  BOOST_TEST(mach_port_move_member(self(), a, s) == KERN_SUCCESS);
  BOOST_TEST(mach_port_move_member(self(), b, s) == KERN_SUCCESS);
  struct {
    mach_msg_header_t h;
    char body[40];
  } msg{};
  msg.h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
  msg.h.msgh_remote_port = b;
  BOOST_TEST_REQUIRE(mach_msg(&msg.h, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL, 0,
                              MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  raw_msg<32> small;
  BOOST_TEST(receive(s, small, MACH_RCV_LARGE | MACH_RCV_LARGE_IDENTITY, 0) ==
             MACH_RCV_TOO_LARGE);
  BOOST_TEST(small.header()->msgh_size == sizeof msg);
  BOOST_TEST(small.header()->msgh_local_port == b);
  // Without LARGE_IDENTITY the local port is not written.
  raw_msg<32> plain;
  plain.header()->msgh_local_port = 0x1234;
  BOOST_TEST(receive(s, plain, MACH_RCV_LARGE, 0) == MACH_RCV_TOO_LARGE);
  BOOST_TEST(plain.header()->msgh_local_port == 0x1234u);
  receive_and_destroy(b);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), b, -1, 0) == KERN_SUCCESS);
}

// §5.2 without MACH_RCV_LARGE: the message is destroyed with its rights and a minimal header
// is written.
BOOST_FIXTURE_TEST_CASE(rcv_too_large_destroys_message, leak_check) {
  mach_port_name_t p = make_port_with_send();
  mach_port_name_t reply = make_receive();
  mach_port_name_t carried = make_receive();
  mach_port_name_t notify = make_receive();
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(carried, MACH_NOTIFY_NO_SENDERS, 1, notify, &prev) ==
             KERN_SUCCESS);
  struct {
    mach_msg_header_t h;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t d;
    char pad[64];
  } msg{};
  msg.h.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE, 0,
                                       MACH_MSGH_BITS_COMPLEX);
  msg.h.msgh_remote_port = p;
  msg.h.msgh_local_port = reply;
  msg.h.msgh_id = 1234;
  msg.body.msgh_descriptor_count = 1;
  msg.d.type = MACH_MSG_PORT_DESCRIPTOR;
  msg.d.disposition = MACH_MSG_TYPE_MAKE_SEND;
  msg.d.name = carried;
  BOOST_TEST_REQUIRE(mach_msg(&msg.h, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL, 0,
                              MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  raw_msg<64> small;
  BOOST_TEST(receive(p, small, 0, 0) == MACH_RCV_TOO_LARGE);
  const mach_msg_header_t* h = small.header();
  BOOST_TEST(h->msgh_size == 24u);
  BOOST_TEST(h->msgh_remote_port == MACH_PORT_NULL);
  BOOST_TEST(h->msgh_local_port == p);
  BOOST_TEST(h->msgh_voucher_port == MACH_PORT_NULL);
  BOOST_TEST(h->msgh_id == 1234);
  BOOST_TEST((h->msgh_bits & ~MACH_MSGH_BITS_RAISEIMP) ==
             (MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND_ONCE, MACH_MSG_TYPE_PORT_SEND) |
              MACH_MSGH_BITS_COMPLEX));
  BOOST_TEST(queue_empty(p));
  // The reply right was destroyed: send-once notification on the reply port.
  raw_msg<> n;
  BOOST_TEST_REQUIRE(receive(reply, n) == MACH_MSG_SUCCESS);
  BOOST_TEST(n.header()->msgh_id == MACH_NOTIFY_SEND_ONCE);
  // The carried send right was destroyed: no-senders for `carried`.
  BOOST_TEST_REQUIRE(receive(notify, n) == MACH_MSG_SUCCESS);
  BOOST_TEST(n.header()->msgh_id == MACH_NOTIFY_NO_SENDERS);
  BOOST_TEST(type_of(carried) == MACH_PORT_TYPE_RECEIVE);
  destroy_port(carried);
  destroy_port(notify);
  destroy_port(reply);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
}

// tests/host_notifications.c: a kernel notification into a 24-byte buffer → TOO_LARGE.
BOOST_FIXTURE_TEST_CASE(host_notifications_too_large, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_name_t p = make_receive();
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(p, MACH_NOTIFY_NO_SENDERS, 0, notify, &prev) == KERN_SUCCESS);
  BOOST_TEST(status_of(notify).mps_msgcount == 1u);
  mach_msg_header_t h{};
  BOOST_TEST(mach_msg(&h, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof h, notify, guard_ms,
                      MACH_PORT_NULL) == MACH_RCV_TOO_LARGE);
  BOOST_TEST(h.msgh_id == MACH_NOTIFY_NO_SENDERS);
  BOOST_TEST(queue_empty(notify));  // destroyed
  destroy_port(p);
  destroy_port(notify);
}

// tests/kevent_qos.c special_reply_port analogue on a plain port.
BOOST_FIXTURE_TEST_CASE(rcv_timeout_on_empty_port, leak_check) {
  mach_port_name_t p = make_receive();
  raw_msg<> m;
  auto start = std::chrono::steady_clock::now();
  BOOST_TEST(receive(p, m, 0, 100) == MACH_RCV_TIMED_OUT);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  BOOST_TEST(ms >= 100);
  BOOST_TEST(receive(p, m, 0, 0) == MACH_RCV_TIMED_OUT);
  destroy_port(p);
}

// §4.1: a combined send+receive whose send fails returns the send error and does not receive.
BOOST_FIXTURE_TEST_CASE(combined_send_failure_skips_receive, leak_check) {
  mach_port_name_t p = make_port_with_send();
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 9) == MACH_MSG_SUCCESS);
  raw_msg<> m;
  m.header()->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
  m.header()->msgh_remote_port = MACH_PORT_DEAD;
  BOOST_TEST(mach_msg(m.header(), MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_TIMEOUT, 24, m.size, p,
                      0, MACH_PORT_NULL) == MACH_SEND_INVALID_DEST);
  BOOST_TEST(status_of(p).mps_msgcount == 1u);
  // A combined call that works: send to p and receive the oldest message.
  m.header()->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
  m.header()->msgh_remote_port = p;
  m.header()->msgh_local_port = MACH_PORT_NULL;
  m.header()->msgh_id = 10;
  BOOST_TEST(mach_msg(m.header(), MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_TIMEOUT, 24, m.size, p,
                      guard_ms, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 9);
  BOOST_TEST_REQUIRE(receive(p, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 10);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
}

// §5.3: reply rights: send rights merge with an existing entry, send-once get a new name.
BOOST_FIXTURE_TEST_CASE(reply_right_names_on_receive, leak_check) {
  mach_port_name_t p = make_port_with_send();
  mach_port_name_t r = make_receive();
  raw_msg<> m;
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, r, MACH_MSG_TYPE_MAKE_SEND) ==
             MACH_MSG_SUCCESS);
  BOOST_TEST_REQUIRE(receive(p, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_remote_port == r);
  BOOST_TEST(MACH_MSGH_BITS_REMOTE(m.header()->msgh_bits) == MACH_MSG_TYPE_PORT_SEND);
  BOOST_TEST(refs(r, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, r, MACH_MSG_TYPE_MAKE_SEND_ONCE) ==
             MACH_MSG_SUCCESS);
  BOOST_TEST_REQUIRE(receive(p, m) == MACH_MSG_SUCCESS);
  mach_port_name_t so = m.header()->msgh_remote_port;
  BOOST_TEST(so != r);
  BOOST_TEST(MACH_MSGH_BITS_REMOTE(m.header()->msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE);
  BOOST_TEST(type_of(so) == MACH_PORT_TYPE_SEND_ONCE);
  // Reply through the send-once right: it is consumed.
  BOOST_TEST(send_header(so, MACH_MSG_TYPE_MOVE_SEND_ONCE, MACH_PORT_NULL, 0, 77) ==
             MACH_MSG_SUCCESS);
  BOOST_TEST(!name_exists(so));
  BOOST_TEST_REQUIRE(receive(r, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 77);
  BOOST_TEST(MACH_MSGH_BITS_LOCAL(m.header()->msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE);
  BOOST_TEST(mach_port_destruct(self(), r, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
}

// §4.2/§2.10: a message carrying the receive right of its own destination is destroyed and the
// send still succeeds.
BOOST_FIXTURE_TEST_CASE(circular_message_destroyed, leak_check) {
  mach_port_name_t p = make_port_with_send();
  struct {
    mach_msg_header_t h;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t d;
  } msg{};
  msg.h.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_MOVE_SEND, 0, 0, MACH_MSGH_BITS_COMPLEX);
  msg.h.msgh_remote_port = p;
  msg.body.msgh_descriptor_count = 1;
  msg.d.type = MACH_MSG_PORT_DESCRIPTOR;
  msg.d.disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
  msg.d.name = p;
  BOOST_TEST(mach_msg(&msg.h, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL) ==
             MACH_MSG_SUCCESS);
  BOOST_TEST(!name_exists(p));
}

BOOST_AUTO_TEST_SUITE_END()
