// send and receive within one task: timeouts, errors and what each leaves owned.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <mach/notify.h>

#include <algorithm>
#include <cstring>
#include <vector>

using namespace machport;
using namespace core_test;

BOOST_FIXTURE_TEST_SUITE(sync_calls, machport_test::leak_check)

// ---- send errors and pseudo-receive -----------------------------------------------------

BOOST_AUTO_TEST_CASE(send_timeout_hands_message_back) {
  auto p = make_port(1);
  auto other = make_port();
  require(send(p.send, message_builder(1).build()));  // fills the queue
  message m = message_builder(2)
                  .reply_make_send_once(other.receive)
                  .add_copy_send(other.send)
                  .add_make_send(other.receive)
                  .add_ool(as_bytes("again"))
                  .add<std::uint32_t>(77)
                  .build();
  auto r = send(p.send, std::move(m), 0ms);
  BOOST_TEST_REQUIRE(r.has_error());
  BOOST_TEST(r.error() == make_msg_error(MACH_SEND_TIMED_OUT));
  BOOST_TEST(r.error() == boost::system::errc::timed_out);
  BOOST_TEST_REQUIRE(!m.empty());
  BOOST_TEST(m.current_state() == message::state::outgoing);
  // the message now owns the reply right and both send rights (copy and make)
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 3u);
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);  // the copied dest was released
  // retry after draining
  BOOST_TEST(receive_now(p.receive).id() == 1);
  require(send(p.send, std::move(m), 0ms));
  BOOST_TEST(m.empty());
  auto parsed = require(parse(receive_now(p.receive)));
  BOOST_TEST(parsed.id() == 2);
  BOOST_TEST(std::holds_alternative<send_once_right>(parsed.reply()));
  BOOST_TEST_REQUIRE(parsed.descriptors().size() == 3u);
  BOOST_TEST(std::get<send_right>(parsed.descriptors()[0]).name() == other.receive.name());
  auto& ool = std::get<ool_buffer>(parsed.descriptors()[2]);
  BOOST_TEST(std::memcmp(ool.data(), "again", 5) == 0);
  BOOST_TEST(require(parsed.reader().read<std::uint32_t>()) == 77u);
  BOOST_TEST(require(other.receive.make_send_count()) == 2u);
}

BOOST_AUTO_TEST_CASE(send_timeout_then_drop_releases) {
  auto p = make_port(1);
  auto other = make_port();
  require(send(p.send, message_builder(1).build()));
  {
    message m = message_builder(2).reply_make_send_once(other.receive).add_copy_send(other.send).build();
    BOOST_TEST(send(p.send, std::move(m), 0ms).error() == make_msg_error(MACH_SEND_TIMED_OUT));
  }
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  expect_send_once_notification(other.receive);
  BOOST_TEST(receive_now(p.receive).id() == 1);
}

BOOST_AUTO_TEST_CASE(send_to_dead_port_keeps_message) {
  auto p = make_port();
  auto other = make_port();
  send_right dead = std::move(p.send);
  p.receive.reset();
  message m = message_builder(1).add_port(send_right(other.send)).build();
  auto r = send(dead, std::move(m));
  BOOST_TEST(r.error() == make_msg_error(MACH_SEND_INVALID_DEST));
  BOOST_TEST(!m.empty());
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  m.reset();
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(send(send_right{}, message_builder(1).build()).error() == make_msg_error(MACH_SEND_INVALID_DEST));
}

// A right that fails in the middle of the body would make the kernel destroy the header
// rights and the descriptors before it, and leave those after it: the library refuses such a
// message before the kernel sees it, so the message keeps everything and drop releases it.
BOOST_AUTO_TEST_CASE(send_bad_descriptor_in_middle_keeps_everything) {
  auto p = make_port();
  auto other = make_port();
  auto gone = require(receive_right::allocate());
  message_builder b(1);
  b.reply_make_send_once(other.receive)
      .add_port(send_right(other.send))          // owned (MOVE_SEND)
      .add_make_send(gone)                       // borrowed ...
      .add_port(require(other.receive.make_send_once()))  // owned, after the bad one
      .add_ool(require(ool_buffer::copy_of(as_bytes("owned pages"))));
  message m = std::move(b).build();
  gone.reset();  // ... and destroyed before the send: MAKE_SEND on a name we no longer hold
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  auto so = require(p.receive.make_send_once());
  const auto err = send(std::move(so), std::move(m)).error();
  BOOST_TEST(err == make_msg_error(MACH_SEND_INVALID_RIGHT));
  BOOST_TEST(err.message().find("MACH_SEND_INVALID_RIGHT") != std::string::npos);
  BOOST_TEST(so.valid());  // the destination was not consumed either
  BOOST_TEST_REQUIRE(!m.empty());
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 2u);  // nothing was destroyed
  m.reset();
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  // the moved send-once right was released (the MAKE_SEND_ONCE reply was never made)
  expect_send_once_notification(other.receive);
  BOOST_TEST(require(other.receive.status()).message_count == 0u);
  so.reset();
  expect_send_once_notification(p.receive);
}

// The destination send-once right is copied in first: the same right moved again in the
// body would fail after the header; refused before, and the right is still the caller's.
BOOST_AUTO_TEST_CASE(send_once_dest_also_in_body_is_refused) {
  auto p = make_port();
  auto so = require(p.receive.make_send_once());
  const mach_port_name_t n = so.name();
  message m = message_builder(1).add_port(send_once_right::adopt(n)).build();
  BOOST_TEST(send(std::move(so), std::move(m)).error() == make_msg_error(MACH_SEND_INVALID_RIGHT));
  BOOST_TEST(so.name() == n);
  BOOST_TEST(type_of(n) == MACH_PORT_TYPE_SEND_ONCE);
  (void)so.release();  // `m` owns the same right: it releases it
  m.reset();
  expect_send_once_notification(p.receive);
}

// The check follows the kernel's order: copying the only uref and then moving it is valid.
BOOST_AUTO_TEST_CASE(send_copy_then_move_last_uref) {
  auto p = make_port();
  auto other = make_port();
  send_right only = require(other.receive.make_send());
  const mach_port_name_t n = only.name();
  BOOST_TEST(refs(n, MACH_PORT_RIGHT_SEND) == 2u);  // `other.send` and `only` share the name
  other.send.reset();
  message_builder b(1);
  b.add_copy_send(only);
  b.add_port(std::move(only));
  require(send(p.send, std::move(b).build()));
  BOOST_TEST((type_of(n) & MACH_PORT_TYPE_SEND) == 0u);  // the only uref went in the message
  auto parsed = require(parse(receive_now(p.receive)));
  BOOST_TEST(parsed.descriptors().size() == 2u);
}

BOOST_AUTO_TEST_CASE(send_invalid_reply_keeps_message) {
  auto p = make_port();
  auto dn = send_right::adopt(require(dead_name::allocate()).release());
  message m = message_builder(1).reply_copy_send(dn).build();
  BOOST_TEST(send(p.send, std::move(m)).error() == make_msg_error(MACH_SEND_INVALID_REPLY));
  BOOST_TEST(!m.empty());
}

BOOST_AUTO_TEST_CASE(send_once_destination) {
  auto p = make_port(1);
  require(send(p.send, message_builder(1).build()));  // full queue: send-once ignores it
  auto so = require(p.receive.make_send_once());
  require(send(std::move(so), message_builder(2).build(), 0ms));
  BOOST_TEST(!so.valid());
  BOOST_TEST(receive_now(p.receive).id() == 1);
  auto m = receive_now(p.receive);
  BOOST_TEST(m.id() == 2);
  BOOST_TEST(MACH_MSGH_BITS_LOCAL(m.header().msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE);
}

BOOST_AUTO_TEST_CASE(send_once_destination_error_gives_right_back) {
  auto p = make_port();
  auto so = require(p.receive.make_send_once());
  const mach_port_name_t so_name = so.name();
  auto dn = send_right::adopt(require(dead_name::allocate()).release());
  message m = message_builder(1).reply_copy_send(dn).build();
  BOOST_TEST(send(std::move(so), std::move(m)).error() == make_msg_error(MACH_SEND_INVALID_REPLY));
  BOOST_TEST(so.name() == so_name);  // untouched: still ours
  BOOST_TEST(!m.empty());
  so.reset();
  expect_send_once_notification(p.receive);
}

BOOST_AUTO_TEST_CASE(send_received_message_is_rejected) {
  auto p = make_port();
  require(send(p.send, message_builder(1).build()));
  auto m = receive_now(p.receive);
  BOOST_TEST(send(p.send, std::move(m)).error() == make_error_code(message_errc::bad_header_bits));
  BOOST_TEST(!m.empty());
}

// ---- receive ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(receive_timeout_and_invalid_name) {
  auto r = require(receive_right::allocate());
  receive_options o;
  o.timeout = 0ms;
  BOOST_TEST(receive(r, o).error() == make_msg_error(MACH_RCV_TIMED_OUT));
  BOOST_TEST(receive(receive_right{}, o).error() == make_msg_error(MACH_RCV_INVALID_NAME));
  auto d = require(dead_name::allocate());
  BOOST_TEST(receive(d.name(), o).error() == make_msg_error(MACH_RCV_INVALID_NAME));
}

BOOST_AUTO_TEST_CASE(receive_timeout_message_names_constant) {
  auto r = require(receive_right::allocate());
  receive_options o;
  o.timeout = 0ms;
  auto got = receive(r, o);
  BOOST_TEST_REQUIRE(got.has_error());
  BOOST_TEST(got.error().message().find("MACH_RCV_TIMED_OUT") != std::string::npos);
  BOOST_TEST(require(r.status()).message_count == 0u);
}

BOOST_AUTO_TEST_CASE(receive_large_grows_and_never_drops) {
  auto p = make_port();
  std::vector<std::byte> big(10000, std::byte{0x5a});
  auto other = make_port();
  require(send(p.send, message_builder(1).add_copy_send(other.send).add_data(big).build()));
  receive_options o;
  o.timeout = guard;
  o.buffer_size = 64;  // far too small
  auto parsed = require(parse(require(receive(p.receive, o))));
  BOOST_TEST(parsed.body().size() >= big.size());
  BOOST_TEST(std::all_of(parsed.body().begin(), parsed.body().begin() + 10000,
                         [](std::byte b) { return b == std::byte{0x5a}; }));
  BOOST_TEST(std::get<send_right>(parsed.descriptors()[0]).valid());
}

BOOST_AUTO_TEST_CASE(receive_port_changed_when_destroyed) {
  auto r = require(receive_right::allocate());
  auto st = require(r.status());
  BOOST_TEST(st.message_count == 0u);
  // A receive on a port that dies while waiting is covered by the cross-task tests.
}

// Regression: a timeout near milliseconds::max() overflowed the deadline (clock::now() + t),
// which then lay in the past: the receive timed out at once instead of waiting. The deadline
// itself (the blocking receive is in emu_only_sync_blocked_test.cpp).
BOOST_AUTO_TEST_CASE(receive_deadline_near_max_is_clamped) {
  using std::chrono::milliseconds;
  const auto now = std::chrono::steady_clock::now();
  BOOST_TEST((detail::receive_deadline(now, milliseconds::max() - 1ms) ==
              now + detail::max_mach_timeout));
  BOOST_TEST((detail::receive_deadline(now, no_timeout) == std::chrono::steady_clock::time_point::max()));
  BOOST_TEST((detail::receive_deadline(now, milliseconds::min() + 1ms) == now));
  BOOST_TEST((detail::receive_deadline(now, 5ms) == now + 5ms));
  static_assert(detail::clamp_timeout(milliseconds::max() - 1ms) == detail::max_mach_timeout);
  static_assert(detail::clamp_timeout(-1ms) == milliseconds::zero());
}

BOOST_AUTO_TEST_CASE(receive_negative_timeout_polls) {
  auto p = make_port();
  receive_options o;
  o.timeout = std::chrono::milliseconds::min() + std::chrono::milliseconds(1);
  BOOST_TEST(receive(p.receive, o).error() == make_msg_error(MACH_RCV_TIMED_OUT));
}

BOOST_AUTO_TEST_SUITE_END()
