// parse: reply rights, inline body, trailer; what is refused.
#include "core_util.hpp"

#include "support/leak_check.hpp"

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

BOOST_AUTO_TEST_CASE(trailer_levels) {
  auto p = make_port();
  for (auto level : {trailer_level::none, trailer_level::seqno, trailer_level::sender,
                     trailer_level::audit, trailer_level::context, trailer_level::all}) {
    require(send(p.send, message_builder(1).build()));
    receive_options o;
    o.trailer = level;
    auto parsed = require(parse(receive_now(p.receive, o)));
    auto t = parsed.trailer();
    BOOST_TEST(t.size() == trailer_size(level));
    BOOST_TEST(t.seqno().has_value() == (level >= trailer_level::seqno));
    BOOST_TEST(t.sender().has_value() == (level >= trailer_level::sender));
    BOOST_TEST(t.audit().has_value() == (level >= trailer_level::audit));
    BOOST_TEST(t.context().has_value() == (level >= trailer_level::context));
  }
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
