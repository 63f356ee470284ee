// Hostile messages built by hand: every malformation is rejected by parse (and typed decode)
// with an error, nothing crashes, and every right and region the message carried is released.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <machport/detail/release.hpp>

#include <cstring>
#include <vector>

using namespace machport;
using namespace core_test;

namespace {

// A message as the kernel would have written it into our buffer, assembled byte by byte.
struct raw_message {
  std::vector<std::byte> b;

  raw_message(std::uint32_t bits, mach_port_name_t remote, mach_msg_id_t id = 1) {
    put32(bits);
    put32(0);  // size, patched by finish()
    put32(remote);
    put32(0x103);  // local: not owned by a received message
    put32(0);
    put32(static_cast<std::uint32_t>(id));
  }
  void put32(std::uint32_t v) {
    auto* p = reinterpret_cast<const std::byte*>(&v);
    b.insert(b.end(), p, p + 4);
  }
  void put64(std::uint64_t v) {
    auto* p = reinterpret_cast<const std::byte*>(&v);
    b.insert(b.end(), p, p + 8);
  }
  raw_message& count(std::uint32_t n) {
    put32(n);
    return *this;
  }
  raw_message& port(mach_port_name_t name, std::uint8_t disp, std::uint8_t type = 0) {
    put32(name);
    put32(0);
    b.push_back(std::byte{0});
    b.push_back(std::byte{0});
    b.push_back(std::byte{disp});
    b.push_back(std::byte{type});
    return *this;
  }
  raw_message& ool(std::uint64_t address, std::uint32_t size, std::uint8_t type = 1,
                   std::uint8_t disp = 0) {
    put64(address);
    b.push_back(std::byte{1});
    b.push_back(std::byte{1});
    b.push_back(std::byte{disp});
    b.push_back(std::byte{type});
    put32(size);
    return *this;
  }
  raw_message& data(std::size_t n) {
    b.insert(b.end(), n, std::byte{0});
    return *this;
  }
  // Sets msgh_size to the bytes so far (or `size`), then appends a trailer of `trailer` bytes
  // that claims `claimed` bytes.
  message finish(std::optional<std::uint32_t> size = {}, std::uint32_t trailer = 8,
                 std::optional<std::uint32_t> claimed = {}) {
    std::uint32_t sz = size.value_or(static_cast<std::uint32_t>(b.size()));
    std::memcpy(b.data() + 4, &sz, 4);
    std::vector<std::byte> t(trailer, std::byte{0});
    std::uint32_t c = claimed.value_or(trailer);
    if (trailer >= 8) std::memcpy(t.data() + 4, &c, 4);
    b.insert(b.end(), t.begin(), t.end());
    return message::adopt_received(b);
  }
};

constexpr std::uint32_t complex_bits(std::uint8_t remote) {
  return MACH_MSGH_BITS_COMPLEX | remote;
}

// Records every release instead of making it.
struct recording_hook final : detail::release_hook {
  std::vector<mach_port_name_t> deallocated, receive_destroyed;
  std::vector<std::pair<std::uintptr_t, std::size_t>> unmapped;
  detail::release_hook* previous;
  recording_hook() : previous(detail::set_release_hook(this)) {}
  ~recording_hook() override { detail::set_release_hook(previous); }
  void deallocate(mach_port_name_t n) override { deallocated.push_back(n); }
  void mod_refs(mach_port_name_t n, mach_port_right_t right, mach_port_delta_t) override {
    if (right == MACH_PORT_RIGHT_RECEIVE) receive_destroyed.push_back(n);
  }
  void destruct(mach_port_name_t n, mach_port_context_t) override { receive_destroyed.push_back(n); }
  void vm_deallocate(std::uintptr_t a, std::size_t s) override { unmapped.emplace_back(a, s); }
};

// The real rights a hostile message carries in these tests: a send uref on `p`, a send-once
// right to `p` (its release is seen as a notification), and a VM region.
struct payload {
  constructed_port p = make_port();
  mach_port_name_t send = require(send_right::copy_from(p.send.name())).release();
  mach_port_name_t send_once = require(p.receive.make_send_once()).release();
  ool_buffer::region region = require(ool_buffer::allocate(4096)).release();

  void expect_released() {
    BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
    expect_send_once_notification(p.receive);
    BOOST_TEST(queue_empty(p.receive));
  }
};

void expect_error(message&& m, message_errc e) {
  auto r = parse(std::move(m));
  BOOST_TEST_REQUIRE(r.has_error());
  BOOST_TEST(r.error() == make_error_code(e));
  BOOST_TEST(m.empty());
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(hostile, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(well_formed_hand_built_message_parses) {
  payload pl;
  raw_message r(complex_bits(MACH_MSG_TYPE_PORT_SEND), pl.send);
  r.count(2).port(pl.send_once, MACH_MSG_TYPE_PORT_SEND_ONCE).ool(pl.region.address, 100);
  auto parsed = require(parse(r.finish()));
  BOOST_TEST(std::get<send_right>(parsed.reply()).name() == pl.send);
  BOOST_TEST(std::get<send_once_right>(parsed.descriptors()[0]).name() == pl.send_once);
  BOOST_TEST(std::get<ool_buffer>(parsed.descriptors()[1]).size() == 100u);
  parsed = {};
  pl.expect_released();
}

BOOST_AUTO_TEST_CASE(header_too_small) {
  payload pl;
  raw_message r(complex_bits(MACH_MSG_TYPE_PORT_SEND), pl.send);
  r.count(2).port(pl.send_once, MACH_MSG_TYPE_PORT_SEND_ONCE).ool(pl.region.address, 4096);
  expect_error(r.finish(20), message_errc::bad_header_size);
  // The header is still readable: its reply right is released. The descriptors cannot be
  // located in a message with a bad size, so release them by hand here.
  BOOST_TEST(refs(pl.p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  send_once_right::adopt(pl.send_once).reset();
  ool_buffer::adopt(pl.region.address, pl.region.size).reset();
  expect_send_once_notification(pl.p.receive);
}

BOOST_AUTO_TEST_CASE(buffer_shorter_than_header) {
  std::vector<std::byte> few(10, std::byte{0xff});
  expect_error(message::adopt_received(few), message_errc::bad_header_size);
  expect_error(message::adopt_received({}), message_errc::bad_header_size);
}

BOOST_AUTO_TEST_CASE(size_past_buffer_and_unaligned) {
  {
    payload pl;
    raw_message r(MACH_MSG_TYPE_PORT_SEND, pl.send);
    expect_error(r.finish(4096), message_errc::bad_header_size);
    BOOST_TEST(refs(pl.p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
    send_once_right::adopt(pl.send_once).reset();
    ool_buffer::adopt(pl.region.address, pl.region.size).reset();
    expect_send_once_notification(pl.p.receive);
  }
  {
    raw_message r(0, 0);
    r.data(3);
    expect_error(r.finish(27), message_errc::bad_header_size);
  }
}

BOOST_AUTO_TEST_CASE(descriptor_count_past_the_end) {
  payload pl;
  raw_message r(complex_bits(MACH_MSG_TYPE_PORT_SEND_ONCE), pl.send_once);
  r.count(1000).port(pl.send, MACH_MSG_TYPE_PORT_SEND).ool(pl.region.address, 10);
  expect_error(r.finish(), message_errc::bad_descriptor_count);
  // Header released (send-once notification); descriptors unreachable: release by hand.
  expect_send_once_notification(pl.p.receive);
  send_right::adopt(pl.send).reset();
  ool_buffer::adopt(pl.region.address, pl.region.size).reset();
  BOOST_TEST(refs(pl.p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
}

BOOST_AUTO_TEST_CASE(complex_without_body) {
  raw_message r(MACH_MSGH_BITS_COMPLEX, 0);
  expect_error(r.finish(), message_errc::bad_descriptor_count);
}

BOOST_AUTO_TEST_CASE(descriptor_runs_past_end) {
  payload pl;
  raw_message r(complex_bits(MACH_MSG_TYPE_PORT_SEND), pl.send);
  r.count(2).port(pl.send_once, MACH_MSG_TYPE_PORT_SEND_ONCE).ool(pl.region.address, 10);
  // Cut the message 4 bytes into the 16-byte OOL descriptor.
  expect_error(r.finish(24 + 4 + 12 + 12), message_errc::descriptor_past_end);
  BOOST_TEST(refs(pl.p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  expect_send_once_notification(pl.p.receive);  // the descriptor before it was released
  ool_buffer::adopt(pl.region.address, pl.region.size).reset();
}

BOOST_AUTO_TEST_CASE(unknown_descriptor_type) {
  payload pl;
  raw_message r(complex_bits(MACH_MSG_TYPE_PORT_SEND), pl.send);
  r.count(3).ool(pl.region.address, 4096).port(pl.send_once, MACH_MSG_TYPE_PORT_SEND_ONCE).port(5, 17, 9);
  expect_error(r.finish(), message_errc::unknown_descriptor_type);
  pl.expect_released();
}

BOOST_AUTO_TEST_CASE(wrong_dispositions) {
  for (std::uint8_t disp : {std::uint8_t{0}, std::uint8_t{19}, std::uint8_t{20}, std::uint8_t{21},
                            std::uint8_t{22}, std::uint8_t{255}}) {
    payload pl;
    raw_message r(complex_bits(MACH_MSG_TYPE_PORT_SEND), pl.send);
    // The right with a bogus disposition is not ours to release; the others are.
    r.count(3).port(pl.send_once, MACH_MSG_TYPE_PORT_SEND_ONCE).port(0x12345603, disp).ool(pl.region.address, 1);
    expect_error(r.finish(), message_errc::bad_disposition);
    pl.expect_released();
  }
  {
    payload pl;
    raw_message r(complex_bits(0), 0);
    r.count(2).ool(pl.region.address, 8, 2, 19).port(pl.send_once, MACH_MSG_TYPE_PORT_SEND_ONCE);
    expect_error(r.finish(), message_errc::bad_disposition);
    send_right::adopt(pl.send).reset();
    pl.expect_released();
  }
  {
    payload pl;
    raw_message r(complex_bits(0), 0);
    r.count(1).ool(pl.send, 17, 4, 17);  // guarded port descriptor must be MOVE_RECEIVE
    expect_error(r.finish(), message_errc::bad_disposition);
    send_right::adopt(pl.send).reset();
    send_once_right::adopt(pl.send_once).reset();
    ool_buffer::adopt(pl.region.address, pl.region.size).reset();
    pl.expect_released();
  }
}

BOOST_AUTO_TEST_CASE(bad_reply_bits) {
  payload pl;
  raw_message r(MACH_MSG_TYPE_MOVE_RECEIVE, pl.send);
  expect_error(r.finish(), message_errc::bad_header_bits);
  send_right::adopt(pl.send).reset();  // not released: a receiver never gets a reply receive right
  send_once_right::adopt(pl.send_once).reset();
  ool_buffer::adopt(pl.region.address, pl.region.size).reset();
  pl.expect_released();
}

BOOST_AUTO_TEST_CASE(ool_sizes_beyond_what_exists) {
  {
    payload pl;
    raw_message r(complex_bits(MACH_MSG_TYPE_PORT_SEND_ONCE), pl.send_once);
    r.count(2).ool(0, 4096).port(pl.send, MACH_MSG_TYPE_PORT_SEND);  // size without memory
    expect_error(r.finish(), message_errc::bad_ool_descriptor);
    ool_buffer::adopt(pl.region.address, pl.region.size).reset();
    pl.expect_released();
  }
  {
    payload pl;
    raw_message r(complex_bits(MACH_MSG_TYPE_PORT_SEND_ONCE), pl.send_once);
    r.count(2).ool(pl.region.address, 16384 * 4, 2, 17).port(pl.send, MACH_MSG_TYPE_PORT_SEND);
    expect_error(r.finish(), message_errc::bad_ool_descriptor);  // port array beyond 16383 names
    // An array no kernel could have written is not touched (names nor memory).
    ool_buffer::adopt(pl.region.address, pl.region.size).reset();
    pl.expect_released();
  }
}

BOOST_AUTO_TEST_CASE(trailer_past_buffer) {
  payload pl;
  raw_message r(complex_bits(MACH_MSG_TYPE_PORT_SEND), pl.send);
  r.count(2).port(pl.send_once, MACH_MSG_TYPE_PORT_SEND_ONCE).ool(pl.region.address, 4096);
  expect_error(r.finish({}, 8, 0x10000), message_errc::bad_trailer);
  pl.expect_released();
}

BOOST_AUTO_TEST_CASE(missing_trailer_is_empty) {
  raw_message r(0, 0, 7);
  auto parsed = require(parse(r.finish({}, 0)));
  BOOST_TEST(parsed.trailer().size() == 0u);
  BOOST_TEST(!parsed.trailer().seqno());
  BOOST_TEST(!parsed.trailer().audit());
}

BOOST_AUTO_TEST_CASE(exact_release_calls_are_recorded) {
  recording_hook hook;
  raw_message r(complex_bits(MACH_MSG_TYPE_PORT_SEND), 0x1103);
  r.count(5)
      .port(0x2203, MACH_MSG_TYPE_PORT_SEND)
      .port(0x3303, MACH_MSG_TYPE_PORT_RECEIVE)
      .ool(0x10000, 300)
      .ool(0x20000, 8, 4, 16)  // guarded receive right 8 with context 0x20000
      .port(0x4403, 19);        // bogus disposition: left alone
  expect_error(r.finish(), message_errc::bad_disposition);
  BOOST_TEST(hook.deallocated == (std::vector<mach_port_name_t>{0x1103, 0x2203}));
  BOOST_TEST(hook.receive_destroyed == (std::vector<mach_port_name_t>{0x3303, 8}));
  BOOST_TEST_REQUIRE(hook.unmapped.size() == 1u);
  BOOST_TEST(hook.unmapped[0].first == 0x10000u);
  BOOST_TEST(hook.unmapped[0].second == 300u);
}

BOOST_AUTO_TEST_CASE(port_array_release_is_recorded) {
  recording_hook hook;
  raw_message r(complex_bits(0), 0);
  r.count(1).ool(0x30000, 3, 2, MACH_MSG_TYPE_PORT_SEND);
  message m = r.finish();
  m.reset();
  BOOST_TEST(hook.deallocated.size() == 3u);  // placeholder names under the hook
  BOOST_TEST_REQUIRE(hook.unmapped.size() == 1u);
  BOOST_TEST(hook.unmapped[0].second == 12u);
}

BOOST_AUTO_TEST_SUITE_END()
