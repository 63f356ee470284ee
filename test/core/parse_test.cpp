// parse: reply rights, inline body, trailer; what is refused, including hostile messages.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <machport/detail/release.hpp>
#include <machport/detail/wire.hpp>

#include <array>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <vector>

using namespace machport;
using namespace core_test;

namespace {
// The number of operator new calls on this thread that succeed before one throws
// std::bad_alloc; -1: none throws. Only parse_allocation_failure_loses_no_right sets it.
thread_local long allocations_before_failure = -1;
}  // namespace

// Replaced for this test binary: plain malloc/free, plus the failure injection above.
void* operator new(std::size_t size) {
  if (allocations_before_failure == 0) {
    allocations_before_failure = -1;
    throw std::bad_alloc();
  }
  if (allocations_before_failure > 0) --allocations_before_failure;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

BOOST_FIXTURE_TEST_SUITE(parsing, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(round_trip_body_and_trailer) {
  auto p = make_port();
  require(p.receive.set_seqno(7));
  require(p.receive.set_context(0x42424242));
  require(send(p.send, message_builder(1000).add<std::uint32_t>(0xdeadbeef).add_data(as_bytes("hi")).build()));
  auto m = receive_now(p.receive);
  BOOST_TEST(m.current_state() == message::state::received);
  BOOST_TEST(m.id() == 1000);
  auto parsed = require(parse(std::move(m)));
  BOOST_TEST(m.empty());
  BOOST_TEST(parsed.id() == 1000);
  BOOST_TEST(parsed.local_port() == p.receive.name());
  BOOST_TEST(std::holds_alternative<std::monostate>(parsed.reply()));
  BOOST_TEST(parsed.descriptors().empty());
  auto rd = parsed.reader();
  BOOST_TEST(require(rd.read<std::uint32_t>()) == 0xdeadbeefu);
  auto hi = require(rd.read_bytes(2));
  BOOST_TEST(std::memcmp(hi.data(), "hi", 2) == 0);
  BOOST_TEST(!rd.read<std::uint64_t>());
  auto t = parsed.trailer();
  BOOST_TEST(t.size() == trailer_size(trailer_level::context));
  BOOST_TEST(*t.seqno() == 7u);
  BOOST_TEST(*t.context() == 0x42424242u);
  auto audit = *t.audit();
  BOOST_TEST(audit.pid() == static_cast<pid_t>(audit.val[5]));
  BOOST_TEST(audit.euid() == static_cast<uid_t>(audit.val[1]));
  BOOST_TEST(audit.egid() == static_cast<gid_t>(audit.val[2]));
  BOOST_TEST(!audit.is_kernel());
  BOOST_TEST(t.sender().has_value());
}

// Seed scenario: the reply port as a send right.
BOOST_AUTO_TEST_CASE(reply_as_send_right) {
  auto server = make_port();
  auto client = require(receive_right::allocate());
  require(send(server.send, message_builder(1).reply_make_send(client).build()));
  auto req = require(parse(receive_now(server.receive)));
  auto* reply = std::get_if<send_right>(&req.reply());
  BOOST_TEST_REQUIRE(reply != nullptr);
  BOOST_TEST(reply->name() == client.name());  // merged onto the receive name
  require(send(*reply, message_builder(2).build()));
  BOOST_TEST(receive_now(client).id() == 2);
}

// Seed scenario: the reply port as a send-once right.
BOOST_AUTO_TEST_CASE(reply_as_send_once_right) {
  auto server = make_port();
  auto client = require(receive_right::allocate());
  require(send(server.send, message_builder(1).reply_make_send_once(client).build()));
  auto req = require(parse(receive_now(server.receive)));
  auto* reply = std::get_if<send_once_right>(&req.reply());
  BOOST_TEST_REQUIRE(reply != nullptr);
  require(send(std::move(*reply), message_builder(3).build()));
  BOOST_TEST(!reply->valid());
  BOOST_TEST(receive_now(client).id() == 3);
}

BOOST_AUTO_TEST_CASE(parse_rejects_outgoing) {
  auto m = message_builder(1).build();
  BOOST_TEST(parse(std::move(m)).error() == make_error_code(message_errc::bad_header_bits));
  BOOST_TEST(!m.empty());
}

BOOST_AUTO_TEST_CASE(descriptor_kinds_are_recorded) {
  auto p = make_port();
  auto g = require(receive_right::allocate());
  auto moved = require(receive_right::allocate());
  std::vector<send_right> array;
  array.push_back(send_right(p.send));
  std::array<std::byte, 3> bytes{};
  require(send(p.send, message_builder(5)
                           .add_port(send_right(p.send))
                           .add_guarded_port(std::move(g), guarded_arrival::movable)
                           .add_port(std::move(moved))
                           .add_ool(std::span<const std::byte>(bytes))
                           .add_ports(std::move(array))
                           .build()));
  receive_options o;
  o.guarded_descriptors = true;
  auto parsed = require(parse(receive_now(p.receive, o)));
  const auto& k = parsed.descriptor_kinds();
  BOOST_TEST_REQUIRE(k.size() == 5u);
  BOOST_TEST((k[0].kind == descriptor_kind::port));
  BOOST_TEST(k[0].disposition == MACH_MSG_TYPE_PORT_SEND);
  BOOST_TEST((k[1].kind == descriptor_kind::guarded_port));
  BOOST_TEST(k[1].disposition == MACH_MSG_TYPE_PORT_RECEIVE);
  BOOST_TEST((k[2].kind == descriptor_kind::port));
  BOOST_TEST(k[2].disposition == MACH_MSG_TYPE_PORT_RECEIVE);
  BOOST_TEST((k[3].kind == descriptor_kind::ool));
  BOOST_TEST((k[4].kind == descriptor_kind::ool_ports));
  BOOST_TEST(k[4].disposition == MACH_MSG_TYPE_PORT_SEND);
  // kinds stay when the rights are moved out
  auto taken = std::move(parsed.descriptors()[1]);
  BOOST_TEST((parsed.descriptor_kinds()[1].kind == descriptor_kind::guarded_port));
}

// Regression: an allocation failure while a port array's names were being adopted lost the
// names not yet adopted. Each allocation parse makes is failed in turn.
BOOST_AUTO_TEST_CASE(parse_allocation_failure_loses_no_right) {
  auto p = make_port();
  auto a = make_port();
  long failures = 0;
  for (long n = 0;; ++n) {
    std::vector<send_right> first{a.send, a.send};
    std::vector<send_once_right> second;
    second.push_back(require(a.receive.make_send_once()));
    require(send(p.send, message_builder(5)
                             .add_ports(std::move(first))
                             .add_port(send_right(a.send))
                             .add_ports(std::move(second))
                             .build()));
    auto m = receive_now(p.receive);
    BOOST_TEST(refs(a.send.name(), MACH_PORT_RIGHT_SEND) == 4u);
    std::optional<result<parsed_message>> parsed;
    allocations_before_failure = n;
    try {
      parsed.emplace(parse(std::move(m)));
    } catch (const std::bad_alloc&) {
    }
    allocations_before_failure = -1;
    if (!parsed) {
      ++failures;
      BOOST_TEST(!m.empty());  // unchanged: it still owns every right
      m.reset();
      BOOST_TEST(refs(a.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
      expect_send_once_notification(a.receive);
      continue;
    }
    BOOST_TEST(require(std::move(*parsed)).descriptors().size() == 3u);
    break;
  }
  BOOST_TEST(failures >= 3);  // the vectors of the port arrays and of the descriptors
  BOOST_TEST(refs(a.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  expect_send_once_notification(a.receive);
}

// The bitfield bytes wire.hpp names (offsetof cannot check them) are where the SDK puts them.
BOOST_AUTO_TEST_CASE(wire_bitfield_bytes_match_the_sdk) {
  using namespace machport::detail;
  mach_msg_port_descriptor_t port{};
  port.disposition = MACH_MSG_TYPE_MOVE_SEND;
  port.type = MACH_MSG_PORT_DESCRIPTOR + 0x40;  // a byte no other field holds
  const auto* pb = reinterpret_cast<const std::byte*>(&port);
  BOOST_TEST(load8(pb + descriptor_disposition_offset) == MACH_MSG_TYPE_MOVE_SEND);
  BOOST_TEST(load8(pb + descriptor_type_offset) == 0x40);

  mach_msg_ool_ports_descriptor64_t ool{};
  ool.deallocate = 1;
  ool.copy = MACH_MSG_VIRTUAL_COPY;
  ool.disposition = MACH_MSG_TYPE_COPY_SEND;
  ool.type = MACH_MSG_OOL_PORTS_DESCRIPTOR;
  const auto* ob = reinterpret_cast<const std::byte*>(&ool);
  BOOST_TEST(load8(ob + ool_deallocate_offset) == 1);
  BOOST_TEST(load8(ob + ool_copy_offset) == MACH_MSG_VIRTUAL_COPY);
  BOOST_TEST(load8(ob + descriptor_disposition_offset) == MACH_MSG_TYPE_COPY_SEND);
  BOOST_TEST(load8(ob + descriptor_type_offset) == MACH_MSG_OOL_PORTS_DESCRIPTOR);

  mach_msg_guarded_port_descriptor64_t guarded{};
  guarded.flags = 0x0201;
  guarded.disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
  guarded.type = MACH_MSG_GUARDED_PORT_DESCRIPTOR;
  const auto* gb = reinterpret_cast<const std::byte*>(&guarded);
  BOOST_TEST(load8(gb + guarded_flags_offset) == 0x01);
  BOOST_TEST(load8(gb + guarded_flags_offset + 1) == 0x02);
  BOOST_TEST(load8(gb + descriptor_disposition_offset) == MACH_MSG_TYPE_MOVE_RECEIVE);
  BOOST_TEST(load8(gb + descriptor_type_offset) == MACH_MSG_GUARDED_PORT_DESCRIPTOR);

  // write_descriptor is read_descriptor's inverse.
  raw_descriptor d;
  d.type = type_guarded_port;
  d.disposition = disp_move_receive;
  d.name = 0x1234;
  d.address = 0x55;
  d.flags = 3;
  std::array<std::byte, long_descriptor_size> buf{};
  write_descriptor(buf.data(), d);
  raw_descriptor back;
  BOOST_TEST_REQUIRE((read_descriptor(buf.data(), buf.size(), 0, back) == message_errc::success));
  BOOST_TEST(back.name == d.name);
  BOOST_TEST(back.address == d.address);
  BOOST_TEST(back.flags == d.flags);
  BOOST_TEST(back.disposition == d.disposition);
}

BOOST_AUTO_TEST_CASE(layout_rule) {
  using namespace machport::detail;
  static_assert(place_inline(25, 8) == 32 && place_inline(32, 8) == 32 && place_inline(29, 1) == 29);
  static_assert(round_message_size(29) == 32 && round_message_size(28) == 28);
  static_assert(body_start(0, 0) == 24 && body_start(2, 28) == 56);
  constexpr auto end = [] {
    inline_cursor c(24);
    (void)c.place(1, 1);
    (void)c.place(8, 8);
    return c.message_size();
  }();
  static_assert(end == 40);
  BOOST_TEST(end == 40u);
}

BOOST_AUTO_TEST_SUITE_END()

// Hostile messages built by hand: every malformation is rejected by parse with an error,
// nothing crashes, and every right and region the message carried is released.
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
