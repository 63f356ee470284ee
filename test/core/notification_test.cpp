// Kernel notifications: each one produced by the kernel and decoded, the request calls and the
// rights they hand back, and forged notifications refused (xnu-ipc-semantics.md §3).
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <machport/notification.hpp>

#include <mach/notify.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <variant>
#include <vector>

using namespace machport;
using namespace core_test;

namespace {

struct hello {
  static constexpr mach_msg_id_t id = 4242;
  std::uint32_t value;
};

// What a task can send that looks like a kernel notification (same id, same layout).
template <mach_msg_id_t Id>
struct forged_ndr {
  static constexpr mach_msg_id_t id = Id;
  std::array<std::uint8_t, 8> ndr{0, 0, 0, 0, 1, 0, 0, 0};
  std::uint32_t value;
  reply_port reply{};
};

// Receives the next message on `port`, which must be a notification from the kernel, and
// returns it decoded.
notification receive_notification(const receive_right& port) {
  auto m = receive_now(port);
  BOOST_TEST(sent_by_kernel(m));
  auto n = require(decode_notification(m));
  BOOST_TEST(m.empty());
  return n;
}

template <class N>
N receive_one(const receive_right& port) {
  auto n = receive_notification(port);
  BOOST_TEST_REQUIRE(std::holds_alternative<N>(n), "notification index " << n.index());
  return std::get<N>(std::move(n));
}

void expect_send_once(const receive_right& port) {
  (void)receive_one<send_once_notification>(port);
}

// Bytes of a message as if received: header (no rights), `id`, then a trailer of `trailer`
// bytes whose audit token is `audit` (if the trailer holds one).
std::vector<std::byte> received_bytes(mach_msg_id_t id, std::uint32_t trailer,
                                      const std::array<std::uint32_t, 8>& audit) {
  std::vector<std::byte> b(sizeof(mach_msg_header_t) + sizeof(mach_msg_max_trailer_t));
  mach_msg_header_t h{};
  h.msgh_size = sizeof h;
  h.msgh_id = id;
  std::memcpy(b.data(), &h, sizeof h);
  mach_msg_max_trailer_t t{};
  t.msgh_trailer_type = MACH_MSG_TRAILER_FORMAT_0;
  t.msgh_trailer_size = trailer;
  std::memcpy(&t.msgh_audit, audit.data(), sizeof t.msgh_audit);
  std::memcpy(b.data() + sizeof h, &t, sizeof t);
  return b;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(notifications, machport_test::leak_check)

// ---- each notification from the kernel -------------------------------------------------

BOOST_AUTO_TEST_CASE(no_senders_fires_when_the_last_send_right_goes) {
  auto port = require(receive_right::allocate());
  auto notify = require(receive_right::allocate());
  auto s = require(port.make_send());
  auto previous = require(request_no_senders(port, 0, notify));
  BOOST_TEST(!previous.valid());
  BOOST_TEST(queue_empty(notify));
  s.reset();
  auto n = receive_one<no_senders_notification>(notify);
  BOOST_TEST(n.mscount == 1u);
  BOOST_TEST(queue_empty(notify));
}

BOOST_AUTO_TEST_CASE(no_senders_fires_at_once_without_send_rights) {
  auto port = require(receive_right::allocate());
  auto notify = require(receive_right::allocate());
  auto previous = require(request_no_senders(port, 0, notify));
  BOOST_TEST(!previous.valid());
  BOOST_TEST(receive_one<no_senders_notification>(notify).mscount == 0u);
  BOOST_TEST(!require(port.status()).no_senders_requested);
}

BOOST_AUTO_TEST_CASE(no_senders_request_returns_the_one_it_replaces) {
  auto port = require(receive_right::allocate());
  auto first = require(receive_right::allocate());
  auto second = require(receive_right::allocate());
  auto s = require(port.make_send());
  BOOST_TEST(!require(request_no_senders(port, 0, first)).valid());
  auto previous = require(request_no_senders(port, 0, second));
  BOOST_TEST_REQUIRE(previous.valid());
  BOOST_TEST(require(previous.type()) == MACH_PORT_TYPE_SEND_ONCE);
  previous.reset();  // the replaced request's right: its port learns it will never fire
  expect_send_once(first);
  auto cancelled = require(cancel_no_senders(port));
  BOOST_TEST_REQUIRE(cancelled.valid());
  cancelled.reset();
  expect_send_once(second);
  s.reset();  // no request any more: nothing fires
  BOOST_TEST(queue_empty(first));
  BOOST_TEST(queue_empty(second));
  BOOST_TEST(!require(cancel_no_senders(port)).valid());
}

BOOST_AUTO_TEST_CASE(dead_name_carries_a_uref_that_is_released) {
  auto notify = require(receive_right::allocate());
  auto victim = require(receive_right::allocate());
  auto s = require(victim.make_send());
  BOOST_TEST(!require(request_dead_name(s, notify)).valid());
  victim.reset();
  {
    auto n = receive_one<dead_name_notification>(notify);
    BOOST_TEST(n.name.name() == s.name());
    BOOST_TEST(s.is_dead());
    BOOST_TEST(require(n.name.urefs()) == 2u);  // s's and the notification's
  }
  BOOST_TEST(require(s.urefs()) == 1u);  // the notification's uref went with it
  // s releases the last one: the leak check sees no name left.
}

BOOST_AUTO_TEST_CASE(port_destroyed_hands_the_receive_right_back) {
  auto notify = require(receive_right::allocate());
  auto victim = require(receive_right::allocate());
  auto s = require(victim.make_send());
  BOOST_TEST(!require(request_port_destroyed(victim, notify)).valid());
  BOOST_TEST(require(victim.status()).port_destroyed_requested);
  victim.reset();
  auto n = receive_one<port_destroyed_notification>(notify);
  BOOST_TEST_REQUIRE(n.port.valid());
  // The port lived on: the send right still reaches it.
  require(send(s, encode(hello{7})));
  BOOST_TEST(require(decode<hello>(receive_now(n.port))).value == 7u);
  n.port.reset();  // no request any more: now the port dies
  BOOST_TEST(s.is_dead());
}

BOOST_AUTO_TEST_CASE(port_destroyed_request_cannot_be_replaced) {
  auto notify = require(receive_right::allocate());
  auto victim = require(receive_right::allocate());
  BOOST_TEST(!require(request_port_destroyed(victim, notify)).valid());
  auto again = request_port_destroyed(victim, notify);
  BOOST_TEST_REQUIRE(!again.has_value());
  BOOST_TEST(again.error() == make_kern_error(KERN_FAILURE));
  expect_send_once(notify);  // the kernel destroyed the send-once right it made for the call
  victim.reset();  // the first request is still armed
  auto n = receive_one<port_destroyed_notification>(notify);
  BOOST_TEST(n.port.valid());
}

BOOST_AUTO_TEST_CASE(port_deleted_when_the_name_loses_its_right) {
  auto notify = require(receive_right::allocate());
  auto port = require(receive_right::allocate());
  auto so = require(port.make_send_once());  // a name of its own (a send right would share port's)
  const mach_port_name_t name = so.name();
  BOOST_TEST(!require(request_dead_name(name, notify)).valid());
  so.reset();
  BOOST_TEST(receive_one<port_deleted_notification>(notify).name == name);
  expect_send_once(port);  // the deallocated send-once right's own notification
}

BOOST_AUTO_TEST_CASE(send_possible_fires_at_once_when_the_queue_has_room) {
  auto notify = require(receive_right::allocate());
  auto [port, s] = make_port();
  BOOST_TEST(!require(request_send_possible(s, true, notify)).valid());
  BOOST_TEST(receive_one<send_possible_notification>(notify).name == s.name());
  BOOST_TEST(queue_empty(notify));
}

BOOST_AUTO_TEST_CASE(send_possible_unarmed_waits_and_is_cancelled) {
  auto notify = require(receive_right::allocate());
  auto [port, s] = make_port();
  BOOST_TEST(!require(request_send_possible(s, false, notify)).valid());
  BOOST_TEST(queue_empty(notify));
  auto previous = require(cancel_dead_name(s.name()));
  BOOST_TEST_REQUIRE(previous.valid());
  previous.reset();
  expect_send_once(notify);
  BOOST_TEST(!require(cancel_dead_name(s.name())).valid());
}

BOOST_AUTO_TEST_CASE(send_possible_on_a_dead_name_sends_dead_name) {
  auto notify = require(receive_right::allocate());
  auto victim = require(receive_right::allocate());
  auto s = require(victim.make_send());
  victim.reset();
  BOOST_TEST(!require(request_send_possible(s, true, notify)).valid());
  auto n = receive_one<dead_name_notification>(notify);
  BOOST_TEST(n.name.name() == s.name());
  BOOST_TEST(require(s.urefs()) == 2u);
}

// ---- request calls: targets and rights on failure ----------------------------------------

BOOST_AUTO_TEST_CASE(moved_target_is_taken_and_handed_back_as_previous) {
  auto notify = require(receive_right::allocate());
  auto [port, s] = make_port();
  auto so = require(notify.make_send_once());
  BOOST_TEST(!require(request_dead_name(s, std::move(so))).valid());
  BOOST_TEST(!so.valid());  // the kernel holds it now
  auto replaced = require(request_dead_name(s, notify));  // dead-name replaces dead-name
  BOOST_TEST_REQUIRE(replaced.valid());
  replaced.reset();
  expect_send_once(notify);
  auto previous = require(cancel_dead_name(s.name()));
  BOOST_TEST_REQUIRE(previous.valid());
  previous.reset();
  expect_send_once(notify);
}

BOOST_AUTO_TEST_CASE(failed_request_consumes_a_moved_target) {
  auto notify = require(receive_right::allocate());
  auto victim = require(receive_right::allocate());
  auto s = require(victim.make_send());
  victim.reset();  // s is a dead name: a dead-name request is refused
  auto so = require(notify.make_send_once());
  auto r = request_dead_name(s, std::move(so));
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error() == make_kern_error(KERN_INVALID_ARGUMENT));
  BOOST_TEST(!so.valid());
  expect_send_once(notify);  // the kernel destroyed it
}

BOOST_AUTO_TEST_CASE(empty_rights_are_refused_before_the_kernel) {
  auto notify = require(receive_right::allocate());
  auto port = require(receive_right::allocate());
  const auto invalid_name = make_kern_error(KERN_INVALID_NAME);
  auto so = require(notify.make_send_once());
  BOOST_TEST(request_no_senders(receive_right{}, 0, std::move(so)).error() == invalid_name);
  BOOST_TEST(so.valid());  // refused before the call: still ours
  BOOST_TEST(request_no_senders(port, 0, receive_right{}).error() == invalid_name);
  BOOST_TEST(request_no_senders(port, 0, send_once_right{}).error() == invalid_name);
  BOOST_TEST(request_port_destroyed(receive_right{}, notify).error() == invalid_name);
  BOOST_TEST(request_dead_name(send_right{}, notify).error() == invalid_name);
  BOOST_TEST(request_send_possible(MACH_PORT_DEAD, true, notify).error() == invalid_name);
  BOOST_TEST(cancel_no_senders(receive_right{}).error() == invalid_name);
  BOOST_TEST(cancel_dead_name(MACH_PORT_NULL).error() == invalid_name);
  BOOST_TEST(!require(port.status()).no_senders_requested);
  BOOST_TEST(queue_empty(notify));
  so.reset();
  expect_send_once(notify);
}

// ---- trust ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(forged_no_senders_is_refused_and_released) {
  auto [port, s] = make_port();
  auto witness = require(receive_right::allocate());
  // Unchecked decode trusts the sender: a task can make up the count.
  require(send(s, encode(forged_ndr<MACH_NOTIFY_NO_SENDERS>{.value = 7})));
  auto m = receive_now(port);
  BOOST_TEST(!sent_by_kernel(m));
  BOOST_TEST(require(decode<no_senders_notification>(m)).mscount == 7u);
  // The checked decode refuses it, and releases what it carried (here a reply right).
  require(send(s, encode(forged_ndr<MACH_NOTIFY_NO_SENDERS>{
                      .value = 7, .reply = reply_port::make_send_once(witness)})));
  require(receive(port, m, {.timeout = guard}));
  BOOST_TEST(m.header().msgh_remote_port != MACH_PORT_NULL);
  auto n = decode_notification(m);
  BOOST_TEST_REQUIRE(!n.has_value());
  BOOST_TEST(n.error() == make_error_code(message_errc::not_from_kernel));
  BOOST_TEST(m.empty());
  expect_send_once(witness);
}

BOOST_AUTO_TEST_CASE(forged_port_destroyed_is_refused_and_its_right_destroyed) {
  auto [port, s] = make_port();
  auto carried = require(receive_right::allocate());
  auto carried_send = require(carried.make_send());
  require(send(s, encode(port_destroyed_notification{std::move(carried)})));
  auto m = receive_now(port);
  BOOST_TEST(m.id() == MACH_NOTIFY_PORT_DESTROYED);
  auto n = decode_from_kernel<port_destroyed_notification>(m);
  BOOST_TEST_REQUIRE(!n.has_value());
  BOOST_TEST(n.error() == make_error_code(message_errc::not_from_kernel));
  BOOST_TEST(carried_send.is_dead());  // the receive right it carried was destroyed
}

BOOST_AUTO_TEST_CASE(forged_dead_name_never_adopts_the_name) {
  auto [port, s] = make_port();
  auto target = require(receive_right::allocate());
  auto victim = require(target.make_send());
  // A forger names one of our rights: adopting it would release a uref that victim owns.
  require(send(s, encode(forged_ndr<MACH_NOTIFY_DEAD_NAME>{.value = victim.name()})));
  auto m = receive_now(port);
  auto unchecked = decode<dead_name_notification>(m);
  BOOST_TEST_REQUIRE(!unchecked.has_value());
  BOOST_TEST(unchecked.error() == make_error_code(message_errc::not_from_kernel));
  require(send(s, encode(forged_ndr<MACH_NOTIFY_DEAD_NAME>{.value = victim.name()})));
  require(receive(port, m, {.timeout = guard}));
  auto any = decode<notification>(m);  // the unchecked variant decode too
  BOOST_TEST_REQUIRE(!any.has_value());
  BOOST_TEST(any.error() == make_error_code(message_errc::not_from_kernel));
  BOOST_TEST(require(victim.urefs()) == 1u);
}

BOOST_AUTO_TEST_CASE(a_task_message_is_not_a_notification) {
  auto [port, s] = make_port();
  require(send(s, encode(hello{1})));
  auto m = receive_now(port);
  BOOST_TEST(!is_notification_id(m.id()));
  BOOST_TEST(decode_notification(m).error() == make_error_code(message_errc::not_from_kernel));
  BOOST_TEST(m.empty());
}

BOOST_AUTO_TEST_CASE(without_an_audit_trailer_nothing_is_from_the_kernel) {
  auto port = require(receive_right::allocate());
  auto notify = require(receive_right::allocate());
  require(request_no_senders(port, 0, notify));
  receive_options o;
  o.timeout = guard;
  o.trailer = trailer_level::sender;
  auto m = require(receive(notify, o));
  BOOST_TEST(m.id() == MACH_NOTIFY_NO_SENDERS);
  BOOST_TEST(!sent_by_kernel(m));
  BOOST_TEST(decode_notification(m).error() == make_error_code(message_errc::not_from_kernel));
  BOOST_TEST(m.empty());
}

BOOST_AUTO_TEST_CASE(sent_by_kernel_reads_the_audit_token) {
  const std::array<std::uint32_t, 8> kernel{};
  const std::array<std::uint32_t, 8> task{501, 501, 20, 501, 20, 1234, 1234, 1};
  const auto audit = static_cast<std::uint32_t>(trailer_size(trailer_level::audit));
  auto m = message::adopt_received(received_bytes(1234, audit, kernel));
  BOOST_TEST(sent_by_kernel(m));
  // From the kernel, but not one of the six: released, unexpected_id.
  BOOST_TEST(decode_notification(m).error() == make_error_code(message_errc::unexpected_id));
  BOOST_TEST(!sent_by_kernel(m));  // empty now
  m.assign_received(received_bytes(MACH_NOTIFY_SEND_ONCE, audit, kernel));
  BOOST_TEST(require(decode_notification(m)).index() == 4u);
  m.assign_received(received_bytes(MACH_NOTIFY_SEND_ONCE, audit, task));
  BOOST_TEST(!sent_by_kernel(m));
  const auto sender = static_cast<std::uint32_t>(trailer_size(trailer_level::sender));
  m.assign_received(received_bytes(MACH_NOTIFY_SEND_ONCE, sender, kernel));
  BOOST_TEST(!sent_by_kernel(m));
  m.assign_received(received_bytes(MACH_NOTIFY_SEND_ONCE, 1000, kernel));  // past the buffer
  BOOST_TEST(!sent_by_kernel(m));
  auto header_only = received_bytes(MACH_NOTIFY_SEND_ONCE, audit, kernel);
  header_only.resize(sizeof(mach_msg_header_t));  // no trailer at all
  m.assign_received(header_only);
  BOOST_TEST(!sent_by_kernel(m));
}

BOOST_AUTO_TEST_CASE(empty_and_outgoing_messages_are_left_alone) {
  message empty;
  BOOST_TEST(!sent_by_kernel(empty));
  BOOST_TEST(decode_notification(empty).error() == make_error_code(message_errc::empty_message));
  auto witness = require(receive_right::allocate());
  auto out = encode(forged_ndr<MACH_NOTIFY_NO_SENDERS>{
      .value = 1, .reply = require(witness.make_send_once())});
  BOOST_TEST(!sent_by_kernel(out));
  BOOST_TEST(decode_notification(out).error() == make_error_code(message_errc::bad_header_bits));
  BOOST_TEST(decode<dead_name_notification>(out).error() ==
             make_error_code(message_errc::bad_header_bits));
  BOOST_TEST(out.current_state() == message::state::outgoing);
  out.reset();
  expect_send_once(witness);
}

BOOST_AUTO_TEST_SUITE_END()
