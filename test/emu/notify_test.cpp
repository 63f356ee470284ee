// Notifications: requests, when they fire, and their exact 64-bit layouts (§3, §8;
// §7 mach_service_port.c port-destroyed part and port_notification_99449706.c).
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <cstring>

using namespace machport_test;

namespace {
constexpr mach_port_name_t unknown_name = (0x6789u << 8) | 0x03u;
constexpr mach_msg_option_t audit_trailer =
    MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
    MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT);

// Receives a kernel notification from `notify` and checks everything common to all of them
// (§3.3): bits, header ports, kernel security token {0,1}, all-zero audit token.
raw_msg<> expect_notification(mach_port_name_t notify, mach_msg_id_t id, mach_msg_size_t size,
                              mach_msg_bits_t bits = 0x00001200) {
  raw_msg<> m;
  std::memset(m.bytes, 0xee, sizeof m.bytes);
  mach_msg_return_t mr = receive(notify, m, audit_trailer);
  BOOST_TEST_REQUIRE(mr == MACH_MSG_SUCCESS, "no notification 0x" << std::hex << id);
  const mach_msg_header_t* h = m.header();
  BOOST_TEST(h->msgh_id == id);
  BOOST_TEST(h->msgh_size == size);
  BOOST_TEST(h->msgh_bits == bits);
  BOOST_TEST(h->msgh_remote_port == MACH_PORT_NULL);
  BOOST_TEST(h->msgh_local_port == notify);
  BOOST_TEST(h->msgh_voucher_port == MACH_PORT_NULL);
  // Trailer right after the message.
  BOOST_TEST(m.at<uint32_t>(size) == 0u);   // type
  BOOST_TEST(m.at<uint32_t>(size + 4) == 52u);  // AUDIT trailer size
  BOOST_TEST(m.at<uint32_t>(size + 12) == 0u);  // security token: uid 0
  BOOST_TEST(m.at<uint32_t>(size + 16) == 1u);  // gid 1
  for (int i = 0; i < 8; ++i) BOOST_TEST(m.at<uint32_t>(size + 20 + 4 * i) == 0u);
  BOOST_TEST(m.at<uint8_t>(size + 52) == 0xee);  // nothing past the trailer
  if (size == 36) {
    static constexpr unsigned char ndr[8] = {0, 0, 0, 0, 1, 0, 0, 0};
    BOOST_TEST(std::memcmp(m.bytes + notify_layout::ndr, ndr, 8) == 0);
  }
  return m;
}

void expect_send_once_notification(mach_port_name_t port) {
  expect_notification(port, MACH_NOTIFY_SEND_ONCE, 24);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(notifications)

// §8: armed with sync = mscount, the last send right deallocated → 0x46 with not_count.
BOOST_FIXTURE_TEST_CASE(no_senders_on_last_deallocate, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_name_t p = make_port_with_send();
  BOOST_TEST(mach_port_insert_right(self(), p, p, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_mscount == 2u);
  mach_port_t prev = 1;
  BOOST_TEST(request_notification(p, MACH_NOTIFY_NO_SENDERS, 2, notify, &prev) == KERN_SUCCESS);
  BOOST_TEST(prev == MACH_PORT_NULL);
  BOOST_TEST(status_of(p).mps_nsrequest != 0);
  BOOST_TEST(status_of(notify).mps_sorights == 1u);
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);
  BOOST_TEST(queue_empty(notify));
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);
  raw_msg<> m = expect_notification(notify, MACH_NOTIFY_NO_SENDERS, 36);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_count) == 2u);
  BOOST_TEST(status_of(p).mps_nsrequest == 0);  // one-shot
  BOOST_TEST(status_of(notify).mps_sorights == 0u);
  BOOST_TEST(queue_empty(notify));
  destroy_port(p);
  destroy_port(notify);
}

// §3.1: srights == 0 and sync <= mscount → fires at once.
BOOST_FIXTURE_TEST_CASE(no_senders_fires_immediately, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_name_t p = make_receive();
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(p, MACH_NOTIFY_NO_SENDERS, 0, notify, &prev) == KERN_SUCCESS);
  raw_msg<> m = expect_notification(notify, MACH_NOTIFY_NO_SENDERS, 36);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_count) == 0u);

  BOOST_TEST(mach_port_insert_right(self(), p, p, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);  // mscount 1, no senders
  BOOST_TEST(request_notification(p, MACH_NOTIFY_NO_SENDERS, 1, notify, &prev) == KERN_SUCCESS);
  m = expect_notification(notify, MACH_NOTIFY_NO_SENDERS, 36);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_count) == 1u);

  // sync > mscount: armed, fires when the next send right goes away.
  BOOST_TEST(request_notification(p, MACH_NOTIFY_NO_SENDERS, 2, notify, &prev) == KERN_SUCCESS);
  BOOST_TEST(queue_empty(notify));
  BOOST_TEST(mach_port_insert_right(self(), p, p, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);
  m = expect_notification(notify, MACH_NOTIFY_NO_SENDERS, 36);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_count) == 2u);
  BOOST_TEST(queue_empty(notify));
  destroy_port(p);
  destroy_port(notify);
}

// Replacing a no-senders request hands back the previous send-once right.
BOOST_FIXTURE_TEST_CASE(no_senders_replace_returns_previous, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_name_t p = make_port_with_send();
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(p, MACH_NOTIFY_NO_SENDERS, 1, notify, &prev) == KERN_SUCCESS);
  BOOST_TEST(prev == MACH_PORT_NULL);
  BOOST_TEST(request_notification(p, MACH_NOTIFY_NO_SENDERS, 1, notify, &prev) == KERN_SUCCESS);
  BOOST_TEST_REQUIRE(prev != MACH_PORT_NULL);
  BOOST_TEST(type_of(prev) == MACH_PORT_TYPE_SEND_ONCE);
  BOOST_TEST(mach_port_deallocate(self(), prev) == KERN_SUCCESS);
  expect_send_once_notification(notify);
  // Cancel with a null notify port: the armed right comes back again.
  BOOST_TEST(mach_port_request_notification(self(), p, MACH_NOTIFY_NO_SENDERS, 0, MACH_PORT_NULL,
                                            MACH_MSG_TYPE_MAKE_SEND_ONCE, &prev) ==
             KERN_SUCCESS);
  BOOST_TEST_REQUIRE(prev != MACH_PORT_NULL);
  BOOST_TEST(mach_port_deallocate(self(), prev) == KERN_SUCCESS);
  expect_send_once_notification(notify);
  BOOST_TEST(mach_port_deallocate(self(), p) == KERN_SUCCESS);
  BOOST_TEST(queue_empty(notify));
  destroy_port(p);
  destroy_port(notify);
}

// §8: a MOVE_SEND destination consumed at receive time fires no-senders then.
BOOST_FIXTURE_TEST_CASE(no_senders_at_receive_time, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_name_t p = make_port_with_send();
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(p, MACH_NOTIFY_NO_SENDERS, 1, notify, &prev) == KERN_SUCCESS);
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_MOVE_SEND) == MACH_MSG_SUCCESS);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);
  BOOST_TEST(queue_empty(notify));  // the message still holds the send right
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(p, m) == MACH_MSG_SUCCESS);
  raw_msg<> n = expect_notification(notify, MACH_NOTIFY_NO_SENDERS, 36);
  BOOST_TEST(n.at<uint32_t>(notify_layout::not_count) == 1u);
  destroy_port(p);
  destroy_port(notify);
}

BOOST_FIXTURE_TEST_CASE(no_senders_request_errors, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(MACH_PORT_NULL, MACH_NOTIFY_NO_SENDERS, 0, notify, &prev) ==
             KERN_INVALID_RIGHT);
  expect_send_once_notification(notify);  // the failed call destroys the notify right
  BOOST_TEST(request_notification(MACH_PORT_DEAD, MACH_NOTIFY_NO_SENDERS, 0, notify, &prev) ==
             KERN_INVALID_RIGHT);
  expect_send_once_notification(notify);
  mach_port_name_t s = make_pset();
  BOOST_TEST(request_notification(s, MACH_NOTIFY_NO_SENDERS, 0, notify, &prev) ==
             KERN_INVALID_RIGHT);
  expect_send_once_notification(notify);
  // Ids that are not requestable.
  mach_port_name_t p = make_port_with_send();
  for (mach_msg_id_t id : {0x49, 0x4a, MACH_NOTIFY_SEND_ONCE, MACH_NOTIFY_PORT_DELETED}) {
    BOOST_TEST(request_notification(p, id, 0, notify, &prev) == KERN_INVALID_VALUE,
               "id 0x" << std::hex << id);
    expect_send_once_notification(notify);
  }
  BOOST_TEST(queue_empty(notify));
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
  destroy_port(notify);
}

// §8: a dead-name request on a name with 2 send urefs, then the receive right dies:
// 0x48 arrives and the name is a dead name with 3 urefs.
BOOST_FIXTURE_TEST_CASE(dead_name_notification_adds_uref, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_name_t p = make_port_with_send();
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, 1) == KERN_SUCCESS);
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(p, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) == KERN_SUCCESS);
  BOOST_TEST(prev == MACH_PORT_NULL);
  BOOST_TEST((type_of(p) & MACH_PORT_TYPE_DNREQUEST) != 0u);
  BOOST_TEST((type_of(p) & ~MACH_PORT_TYPE_DNREQUEST) == MACH_PORT_TYPE_SEND_RECEIVE);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS);
  raw_msg<> m = expect_notification(notify, MACH_NOTIFY_DEAD_NAME, 36);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_port) == p);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_DEAD_NAME) == 3u);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 0u);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_SEND, -1) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_DEAD_NAME, -3) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));
  BOOST_TEST(queue_empty(notify));
  destroy_port(notify);
}

BOOST_FIXTURE_TEST_CASE(dead_name_request_errors_and_replace, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(MACH_PORT_NULL, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) ==
             KERN_INVALID_ARGUMENT);
  expect_send_once_notification(notify);
  BOOST_TEST(request_notification(MACH_PORT_DEAD, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) ==
             KERN_INVALID_ARGUMENT);
  expect_send_once_notification(notify);
  BOOST_TEST(request_notification(unknown_name, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) ==
             KERN_INVALID_NAME);
  expect_send_once_notification(notify);
  mach_port_name_t s = make_pset();
  BOOST_TEST(request_notification(s, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) ==
             KERN_INVALID_RIGHT);
  expect_send_once_notification(notify);
  mach_port_name_t d = make_dead_name();
  BOOST_TEST(request_notification(d, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) ==
             KERN_INVALID_ARGUMENT);
  expect_send_once_notification(notify);
  BOOST_TEST(refs(d, MACH_PORT_RIGHT_DEAD_NAME) == 1u);  // no immediate notification

  // Replace: the previous send-once right comes back under a new name.
  mach_port_name_t p = make_receive();
  BOOST_TEST(request_notification(p, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) == KERN_SUCCESS);
  BOOST_TEST(prev == MACH_PORT_NULL);
  BOOST_TEST(request_notification(p, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) == KERN_SUCCESS);
  BOOST_TEST_REQUIRE(prev != MACH_PORT_NULL);
  BOOST_TEST(type_of(prev) == MACH_PORT_TYPE_SEND_ONCE);
  BOOST_TEST(mach_port_deallocate(self(), prev) == KERN_SUCCESS);
  expect_send_once_notification(notify);
  // Cancel.
  BOOST_TEST(mach_port_request_notification(self(), p, MACH_NOTIFY_DEAD_NAME, 0, MACH_PORT_NULL,
                                            MACH_MSG_TYPE_MAKE_SEND_ONCE, &prev) ==
             KERN_SUCCESS);
  BOOST_TEST_REQUIRE(prev != MACH_PORT_NULL);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_RECEIVE);  // no DNREQUEST bit any more
  BOOST_TEST(mach_port_deallocate(self(), prev) == KERN_SUCCESS);
  expect_send_once_notification(notify);
  BOOST_TEST(queue_empty(notify));
  destroy_port(p);
  BOOST_TEST(mach_port_deallocate(self(), d) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  destroy_port(notify);
}

// Port-deleted (0x41): a send-once name with a dead-name request is deallocated.
BOOST_FIXTURE_TEST_CASE(port_deleted_notification, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_name_t p = make_receive();
  mach_port_name_t so = make_send_once(p);
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(so, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) == KERN_SUCCESS);
  BOOST_TEST((type_of(so) & MACH_PORT_TYPE_DNREQUEST) != 0u);
  BOOST_TEST(mach_port_deallocate(self(), so) == KERN_SUCCESS);
  expect_send_once_notification(p);
  raw_msg<> m = expect_notification(notify, MACH_NOTIFY_PORT_DELETED, 36);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_port) == so);
  BOOST_TEST(queue_empty(notify));
  // Using the send-once right as a destination deletes the name too.
  mach_port_name_t so2 = make_send_once(p);
  BOOST_TEST(request_notification(so2, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) ==
             KERN_SUCCESS);
  BOOST_TEST(send_header(so2, MACH_MSG_TYPE_MOVE_SEND_ONCE, MACH_PORT_NULL, 0, 9) ==
             MACH_MSG_SUCCESS);
  BOOST_TEST(!name_exists(so2));
  m = expect_notification(notify, MACH_NOTIFY_PORT_DELETED, 36);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_port) == so2);
  raw_msg<> r;
  BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
  BOOST_TEST(r.header()->msgh_id == 9);
  BOOST_TEST(queue_empty(notify));
  destroy_port(p);
  destroy_port(notify);
}

// Send-possible (0x42): fires at once when the queue has room, else at the next dequeue; on
// an already-dead name it fires a dead-name notification and adds a uref (§3.1).
BOOST_FIXTURE_TEST_CASE(send_possible_notification, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_name_t p = make_port_with_send(1);
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(p, MACH_NOTIFY_SEND_POSSIBLE, 1, notify, &prev) ==
             KERN_SUCCESS);
  raw_msg<> m = expect_notification(notify, MACH_NOTIFY_SEND_POSSIBLE, 36);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_port) == p);

  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND) == MACH_MSG_SUCCESS);  // queue full
  BOOST_TEST(request_notification(p, MACH_NOTIFY_SEND_POSSIBLE, 1, notify, &prev) ==
             KERN_SUCCESS);
  BOOST_TEST(queue_empty(notify));
  raw_msg<> r;
  BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
  m = expect_notification(notify, MACH_NOTIFY_SEND_POSSIBLE, 36);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_port) == p);

  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(queue_empty(notify));

  // A fresh name that dies with no request on it: a dead name with 1 uref.
  mach_port_name_t q = make_port_with_send();
  BOOST_TEST(mach_port_mod_refs(self(), q, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS);
  BOOST_TEST(type_of(q) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(refs(q, MACH_PORT_RIGHT_DEAD_NAME) == 1u);
  BOOST_TEST(request_notification(q, MACH_NOTIFY_SEND_POSSIBLE, 1, notify, &prev) ==
             KERN_SUCCESS);
  m = expect_notification(notify, MACH_NOTIFY_DEAD_NAME, 36);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_port) == q);
  BOOST_TEST(refs(q, MACH_PORT_RIGHT_DEAD_NAME) == 2u);
  BOOST_TEST(mach_port_mod_refs(self(), q, MACH_PORT_RIGHT_DEAD_NAME, -2) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(q));
  BOOST_TEST(queue_empty(notify));
  destroy_port(notify);
}

// tests/mach_service_port.c (port-destroyed part) and §3.4.
BOOST_FIXTURE_TEST_CASE(port_destroyed_notification, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_options_t opts{};
  opts.flags = MPO_CONTEXT_AS_GUARD;
  mach_port_name_t p = MACH_PORT_NULL;
  const mach_port_context_t guard = 0x1234abcd;
  BOOST_TEST_REQUIRE(mach_port_construct(self(), &opts, guard, &p) == KERN_SUCCESS);
  mach_port_t prev = 1;
  BOOST_TEST(request_notification(p, MACH_NOTIFY_PORT_DESTROYED, 0, notify, &prev) ==
             KERN_SUCCESS);
  BOOST_TEST(prev == MACH_PORT_NULL);
  BOOST_TEST(status_of(p).mps_pdrequest != 0);
  // Errors: already registered, sync != 0, not a receive right.
  BOOST_TEST(request_notification(p, MACH_NOTIFY_PORT_DESTROYED, 0, notify, &prev) ==
             KERN_FAILURE);
  expect_send_once_notification(notify);
  BOOST_TEST(request_notification(p, MACH_NOTIFY_PORT_DESTROYED, 1, notify, &prev) ==
             KERN_INVALID_VALUE);
  expect_send_once_notification(notify);
  BOOST_TEST(request_notification(MACH_PORT_NULL, MACH_NOTIFY_PORT_DESTROYED, 0, notify,
                                  &prev) == KERN_INVALID_RIGHT);
  expect_send_once_notification(notify);

  BOOST_TEST(mach_port_destruct(self(), p, 0, guard) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(p));
  raw_msg<> m = expect_notification(notify, MACH_NOTIFY_PORT_DESTROYED, 40, 0x80001200);
  BOOST_TEST(m.at<uint32_t>(notify_layout::desc_count) == 1u);
  mach_port_name_t back = m.at<uint32_t>(notify_layout::desc_name);
  BOOST_TEST(m.at<uint8_t>(notify_layout::desc_disposition) == MACH_MSG_TYPE_PORT_RECEIVE);
  BOOST_TEST(m.at<uint8_t>(notify_layout::desc_type) == MACH_MSG_PORT_DESCRIPTOR);
  BOOST_TEST_REQUIRE(MACH_PORT_VALID(back));
  BOOST_TEST(type_of(back) == MACH_PORT_TYPE_RECEIVE);
  // The right comes back reset: unguarded, no context, request consumed.
  mach_port_status_t st = status_of(back);
  BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_GUARDED) == 0u);
  BOOST_TEST(st.mps_pdrequest == 0);
  mach_port_context_t ctx = 1;
  BOOST_TEST(mach_port_get_context(self(), back, &ctx) == KERN_SUCCESS);
  BOOST_TEST(ctx == 0u);
  BOOST_TEST(queue_empty(notify));
  destroy_port(back);
  destroy_port(notify);
}

// §3.4: with a port-destroyed request, queued messages survive and a SEND under the old name
// stays a live send right (so the receive right comes back merged onto that name).
BOOST_FIXTURE_TEST_CASE(port_destroyed_keeps_queue_and_send, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_name_t p = make_port_with_send();
  BOOST_TEST(send_header(p, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 77) == MACH_MSG_SUCCESS);
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(p, MACH_NOTIFY_PORT_DESTROYED, 0, notify, &prev) ==
             KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_SEND);
  raw_msg<> m = expect_notification(notify, MACH_NOTIFY_PORT_DESTROYED, 40, 0x80001200);
  BOOST_TEST(m.at<uint32_t>(notify_layout::desc_name) == p);
  BOOST_TEST(type_of(p) == MACH_PORT_TYPE_SEND_RECEIVE);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  raw_msg<> q;
  BOOST_TEST_REQUIRE(receive(p, q) == MACH_MSG_SUCCESS);
  BOOST_TEST(q.header()->msgh_id == 77);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
  destroy_port(notify);
}

// tests/ipc/port_notification_99449706.c adapted: the notify right is a dead name.
BOOST_FIXTURE_TEST_CASE(port_notification_99449706, leak_check) {
  mach_port_name_t p = make_receive();
  mach_port_name_t d = make_dead_name();
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(mach_port_request_notification(self(), p, MACH_NOTIFY_PORT_DESTROYED, 0, d,
                                            MACH_MSG_TYPE_MOVE_SEND_ONCE, &prev) ==
             KERN_INVALID_CAPABILITY);
  BOOST_TEST(!name_exists(d));  // its uref was consumed by the copy-in
  BOOST_TEST(status_of(p).mps_pdrequest == 0);
  d = make_dead_name();
  BOOST_TEST(mach_port_request_notification(self(), p, MACH_NOTIFY_NO_SENDERS, 0, d,
                                            MACH_MSG_TYPE_MOVE_SEND_ONCE, &prev) ==
             KERN_INVALID_CAPABILITY);
  BOOST_TEST(!name_exists(d));
  destroy_port(p);
}

// §8: destroying a send-once right through deallocate sends a 24-byte 0x47 to its port.
BOOST_FIXTURE_TEST_CASE(send_once_notification_layout, leak_check) {
  mach_port_name_t p = make_receive();
  mach_port_name_t so = make_send_once(p);
  BOOST_TEST(status_of(p).mps_sorights == 1u);
  BOOST_TEST(mach_port_deallocate(self(), so) == KERN_SUCCESS);
  expect_send_once_notification(p);
  BOOST_TEST(status_of(p).mps_sorights == 0u);
  destroy_port(p);
}

// §2.9-6: the armed no-senders request of a dying port is destroyed unfired, which sends a
// send-once notification to the notify port.
BOOST_FIXTURE_TEST_CASE(dying_port_destroys_no_senders_request, leak_check) {
  mach_port_name_t notify = make_receive();
  mach_port_name_t p = make_receive();
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(p, MACH_NOTIFY_NO_SENDERS, 5, notify, &prev) == KERN_SUCCESS);
  BOOST_TEST(queue_empty(notify));
  destroy_port(p);
  expect_send_once_notification(notify);
  BOOST_TEST(queue_empty(notify));
  destroy_port(notify);
}

BOOST_AUTO_TEST_SUITE_END()
