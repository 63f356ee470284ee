// message, message_builder, parse, send and receive within one task.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <mach/notify.h>

#include <algorithm>
#include <cstring>
#include <latch>
#include <thread>
#include <vector>

using namespace machport;
using namespace core_test;

namespace {
std::span<const std::byte> as_bytes(const char* s) {
  return {reinterpret_cast<const std::byte*>(s), std::strlen(s)};
}
}  // namespace

BOOST_FIXTURE_TEST_SUITE(messages, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(empty_message) {
  message m;
  BOOST_TEST(m.empty());
  BOOST_TEST(!m);
  BOOST_TEST(m.bytes().empty());
  auto s = require(receive_right::allocate());
  auto sr = require(s.make_send());
  BOOST_TEST(send(sr, message{}).error() == make_error_code(message_errc::empty_message));
  BOOST_TEST(parse(message{}).error() == make_error_code(message_errc::empty_message));
}

BOOST_AUTO_TEST_CASE(builder_layout_and_bits) {
  auto r = require(receive_right::allocate());
  message_builder b(42);
  b.add<std::uint8_t>(1).add<std::uint64_t>(2).add<std::uint32_t>(3);
  BOOST_TEST(b.size() == 24u + 8u + 8u + 4u);  // u8@24, u64@32, u32@40 → 44
  auto m = b.build();
  BOOST_TEST(m.current_state() == message::state::outgoing);
  BOOST_TEST(m.id() == 42);
  BOOST_TEST(m.size() == 44u);
  BOOST_TEST(!m.complex());
  std::uint64_t v = 0;
  std::memcpy(&v, m.bytes().data() + 32, 8);
  BOOST_TEST(v == 2u);

  message_builder c(1);
  c.add_make_send(r).add<std::uint32_t>(7);
  auto mc = c.build();
  BOOST_TEST(mc.complex());
  BOOST_TEST(mc.size() == 24u + 4u + 12u + 4u);
  BOOST_TEST_REQUIRE(mc.bytes().size() == mc.size());
  BOOST_TEST(static_cast<int>(mc.bytes()[24 + 4 + 10]) == MACH_MSG_TYPE_MAKE_SEND);
  BOOST_CHECK_THROW(message_builder().add_data({}, 3), std::invalid_argument);
}

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

BOOST_AUTO_TEST_CASE(reply_dispositions_all) {
  auto server = make_port();
  auto client = make_port();
  // copy-send, move-send, move-send-once (and the two makes above)
  require(send(server.send, message_builder(1).reply_copy_send(client.send).build()));
  require(send(server.send, message_builder(2).reply(send_right(client.send)).build()));
  require(send(server.send, message_builder(3).reply(require(client.receive.make_send_once())).build()));
  for (int id = 1; id <= 3; ++id) {
    auto req = require(parse(receive_now(server.receive)));
    BOOST_TEST(req.id() == id);
    if (id < 3) {
      BOOST_TEST(std::get<send_right>(req.reply()).name() == client.receive.name());
    } else {
      BOOST_TEST(std::get<send_once_right>(req.reply()).valid());
    }
  }
  // the send-once reply was dropped unused → a send-once notification reached the client
  expect_send_once_notification(client.receive);
  BOOST_TEST(refs(client.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
}

BOOST_AUTO_TEST_CASE(replacing_reply_releases_previous) {
  auto client = require(receive_right::allocate());
  {
    message_builder b(1);
    b.reply(require(client.make_send_once()));
    b.reply_make_send(client);  // the send-once right is released now
  }
  expect_send_once_notification(client);
}

// Seed scenario: OOL data from an unaligned offset inside a 3-page buffer.
BOOST_AUTO_TEST_CASE(ool_round_trip_unaligned) {
  auto p = make_port();
  const std::size_t page = detail::page_size();
  auto buf = require(ool_buffer::allocate(3 * page));
  for (std::size_t i = 0; i < buf.size(); ++i) buf.data()[i] = std::byte(i * 7 + 3);
  const std::size_t off = 123, len = 2 * page + 77;
  require(send(p.send, message_builder(9).add_ool(buf.span().subspan(off, len)).build()));
  auto parsed = require(parse(receive_now(p.receive)));
  BOOST_TEST_REQUIRE(parsed.descriptors().size() == 1u);
  auto& got = std::get<ool_buffer>(parsed.descriptors()[0]);
  BOOST_TEST_REQUIRE(got.size() == len);
  BOOST_TEST(std::equal(got.span().begin(), got.span().end(), buf.span().begin() + off));
  BOOST_TEST(got.data() != buf.data() + off);  // a copy, not our memory
}

BOOST_AUTO_TEST_CASE(ool_owned_buffer_moves) {
  auto p = make_port();
  auto buf = require(ool_buffer::copy_of(as_bytes("payload")));
  require(send(p.send, message_builder(9).add_ool(std::move(buf)).add_ool(ool_buffer{}).build()));
  BOOST_TEST(buf.empty());
  auto parsed = require(parse(receive_now(p.receive)));
  BOOST_TEST_REQUIRE(parsed.descriptors().size() == 2u);
  auto& got = std::get<ool_buffer>(parsed.descriptors()[0]);
  BOOST_TEST(got.size() == 7u);
  BOOST_TEST(std::memcmp(got.data(), "payload", 7) == 0);
  BOOST_TEST(std::get<ool_buffer>(parsed.descriptors()[1]).empty());
}

// Seed scenario: a copied send right and a made send-once right arrive in order, before the body.
BOOST_AUTO_TEST_CASE(rights_in_order_before_body) {
  auto p = make_port();
  auto other = make_port();
  require(send(p.send, message_builder(5)
                           .add_copy_send(other.send)
                           .add_make_send_once(other.receive)
                           .add<std::uint64_t>(99)
                           .build()));
  auto parsed = require(parse(receive_now(p.receive)));
  BOOST_TEST_REQUIRE(parsed.descriptors().size() == 2u);
  auto& s = std::get<send_right>(parsed.descriptors()[0]);
  BOOST_TEST(s.name() == other.receive.name());
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  BOOST_TEST(std::get<send_once_right>(parsed.descriptors()[1]).valid());
  BOOST_TEST(parsed.body_offset() == 24u + 4u + 24u);
  BOOST_TEST(require(parsed.reader().read<std::uint64_t>()) == 99u);
  std::get<send_once_right>(parsed.descriptors()[1]).reset();
  expect_send_once_notification(other.receive);
}

// Seed scenario: a port's own receive right moved in a message sent to itself.
BOOST_AUTO_TEST_CASE(receive_right_sent_to_itself) {
  auto p = make_port();
  mach_port_name_t name = p.receive.name();
  // The kernel destroys a circular message and reports success; the port is gone.
  require(send(p.send, message_builder(6).add_port(std::move(p.receive)).build()));
  BOOST_TEST(!p.receive.valid());
  BOOST_TEST(p.send.is_dead());
  BOOST_TEST(require(p.send.type()) == MACH_PORT_TYPE_DEAD_NAME);
  (void)name;
}

BOOST_AUTO_TEST_CASE(receive_right_moved_to_another_port) {
  auto p = make_port();
  auto moving = require(receive_right::allocate());
  auto moving_send = require(moving.make_send());
  require(send(p.send, message_builder(6).add_port(std::move(moving)).build()));
  auto parsed = require(parse(receive_now(p.receive)));
  auto& r = std::get<receive_right>(parsed.descriptors()[0]);
  BOOST_TEST(r.name() == moving_send.name());  // same space: back under the send right's name
  require(send(moving_send, message_builder(8).build()));
  BOOST_TEST(receive_now(r).id() == 8);
}

// Seed scenario: dropping an unsent message releases its rights.
BOOST_AUTO_TEST_CASE(dropping_unsent_message_releases) {
  auto p = make_port();
  {
    auto victim = require(receive_right::allocate());
    auto so = require(p.receive.make_send_once());
    auto m = message_builder(1)
                 .reply(send_right(p.send))
                 .add_port(std::move(so))
                 .add_port(std::move(victim))
                 .add_ool(require(ool_buffer::allocate(100)))
                 .add_ports(std::vector<send_right>{p.send, p.send})
                 .build();
    BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 4u);
  }
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  expect_send_once_notification(p.receive);
}

BOOST_AUTO_TEST_CASE(dropping_builder_releases) {
  auto p = make_port();
  {
    message_builder b(1);
    b.add_port(send_right(p.send)).add_ports(std::vector<send_once_right>{}).add_ool(ool_buffer{});
    b.add_guarded_port(require(receive_right::allocate()));
    b.add_ports(std::vector<receive_right>{});
    BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  }
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
}

BOOST_AUTO_TEST_CASE(ool_port_arrays) {
  auto p = make_port();
  auto a = make_port();
  auto b = make_port();
  std::vector<send_right> copies{a.send, b.send};
  require(send(p.send, message_builder(7)
                           .add_ports(std::move(copies))
                           .add_ports_copy_send(std::vector<send_right>{})
                           .add_ports(std::vector<send_once_right>{})
                           .build()));
  std::vector<send_right> borrowed{a.send};
  require(send(p.send, message_builder(8).add_ports_copy_send(borrowed).build()));
  {
    auto parsed = require(parse(receive_now(p.receive)));
    auto& arr = std::get<std::vector<send_right>>(std::get<port_array>(parsed.descriptors()[0]));
    BOOST_TEST_REQUIRE(arr.size() == 2u);
    BOOST_TEST(arr[0].name() == a.receive.name());
    BOOST_TEST(arr[1].name() == b.receive.name());
  }
  {
    auto parsed = require(parse(receive_now(p.receive)));
    auto& arr = std::get<std::vector<send_right>>(std::get<port_array>(parsed.descriptors()[0]));
    BOOST_TEST(arr.size() == 1u);
  }
  BOOST_TEST(refs(a.send.name(), MACH_PORT_RIGHT_SEND) == 2u);  // `borrowed` still holds one
}

BOOST_AUTO_TEST_CASE(ool_receive_and_send_once_arrays) {
  auto p = make_port();
  auto x = require(receive_right::allocate());
  auto xs = require(x.make_send());
  std::vector<receive_right> rs;
  rs.push_back(std::move(x));
  std::vector<send_once_right> sos;
  sos.push_back(require(p.receive.make_send_once()));
  require(send(p.send, message_builder(7).add_ports(std::move(rs)).add_ports(std::move(sos)).build()));
  auto parsed = require(parse(receive_now(p.receive)));
  auto& ra = std::get<std::vector<receive_right>>(std::get<port_array>(parsed.descriptors()[0]));
  BOOST_TEST(ra.at(0).name() == xs.name());
  auto& sa = std::get<std::vector<send_once_right>>(std::get<port_array>(parsed.descriptors()[1]));
  BOOST_TEST(sa.size() == 1u);
  sa.clear();
  expect_send_once_notification(p.receive);
}

BOOST_AUTO_TEST_CASE(unparsed_received_message_releases_everything) {
  auto p = make_port();
  auto other = make_port();
  require(send(p.send, message_builder(1)
                           .reply_make_send_once(other.receive)
                           .add_copy_send(other.send)
                           .add_ool(as_bytes("xyz"))
                           .add_ports(std::vector<send_right>{other.send})
                           .build()));
  { auto m = receive_now(p.receive); }
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  expect_send_once_notification(other.receive);
}

BOOST_AUTO_TEST_CASE(message_move_and_detach) {
  auto p = make_port();
  message a = message_builder(1).add_port(send_right(p.send)).build();
  message b = std::move(a);
  BOOST_TEST(a.empty());
  message c;
  c = std::move(b);
  BOOST_TEST(c.id() == 1);
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  c.reset();
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  // detach gives the rights away; take them back by hand
  message d = message_builder(1).add_port(send_right(p.send)).build();
  d.detach();
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  BOOST_TEST(mach_port_deallocate(mach_task_self(), p.send.name()) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_CASE(adopt_outgoing_bytes_and_send) {
  auto p = make_port();
  auto built = message_builder(77).add_port(send_right(p.send)).add<std::uint32_t>(5).build();
  std::vector<std::byte> raw(built.bytes().begin(), built.bytes().end());
  built.detach();  // `raw` now carries the uref
  auto m = message::adopt_outgoing(raw);
  BOOST_TEST(m.current_state() == message::state::outgoing);
  BOOST_TEST(m.buffer().size() == raw.size());
  require(send(p.send, std::move(m)));
  auto parsed = require(parse(receive_now(p.receive)));
  BOOST_TEST(parsed.id() == 77);
  BOOST_TEST(parsed.bits() & MACH_MSGH_BITS_COMPLEX);
  BOOST_TEST(parsed.message_bytes().size() == 24u + 4u + 12u + 4u);
  auto rd = parsed.reader();
  BOOST_TEST(rd.remaining() == 4u);
  BOOST_TEST(!rd.read_bytes(5));
  BOOST_TEST(require(rd.read<std::uint32_t>()) == 5u);
  BOOST_TEST(rd.offset() == parsed.message_bytes().size());
}

BOOST_AUTO_TEST_CASE(parse_rejects_outgoing) {
  auto m = message_builder(1).build();
  BOOST_TEST(parse(std::move(m)).error() == make_error_code(message_errc::bad_header_bits));
  BOOST_TEST(!m.empty());
}

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

// A receive in another thread is woken by a send made after it started; whether it had
// already blocked does not change the outcome.
BOOST_AUTO_TEST_CASE(receive_in_thread_woken_by_send) {
  auto p = make_port();
  std::latch started(1);
  result<message> got = make_msg_error(MACH_RCV_INVALID_NAME);
  std::thread t([&] {
    started.count_down();
    receive_options o;
    o.timeout = guard;
    got = receive(p.receive, o);
  });
  started.wait();
  require(send(p.send, message_builder(42).add<std::uint32_t>(7).build()));
  t.join();
  BOOST_TEST_REQUIRE(got.has_value());
  auto parsed = require(parse(std::move(got).value()));
  BOOST_TEST(parsed.id() == 42);
  BOOST_TEST(require(parsed.reader().read<std::uint32_t>()) == 7u);
}

// Destroying a port set while another thread receives on it: MACH_RCV_PORT_CHANGED if the
// receiver was already waiting, MACH_RCV_INVALID_NAME if it had not started yet. Either way
// an error naming the constant, and nothing leaks.
BOOST_AUTO_TEST_CASE(receive_on_destroyed_set) {
  auto set = require(port_set::allocate());
  const mach_port_name_t name = set.name();
  std::latch started(1);
  result<message> got = message{};
  std::thread t([&] {
    started.count_down();
    got = receive(name);  // no timeout: only the destruction can end it
  });
  started.wait();
  set.reset();
  t.join();
  BOOST_TEST_REQUIRE(got.has_error());
  BOOST_TEST((got.error() == make_msg_error(MACH_RCV_PORT_CHANGED) ||
              got.error() == make_msg_error(MACH_RCV_INVALID_NAME)));
  const auto text = got.error().message();
  BOOST_TEST((text.find("MACH_RCV_PORT_CHANGED") != std::string::npos ||
              text.find("MACH_RCV_INVALID_NAME") != std::string::npos));
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

BOOST_AUTO_TEST_CASE(guarded_port_descriptor) {
  auto p = make_port();
  port_options go;
  go.guard = true;
  go.context = 0x4141;
  auto g = require(receive_right::construct(go));
  auto g_send = require(g.receive.make_send());
  auto plain = require(receive_right::allocate());
  auto plain_send = require(plain.make_send());
  require(send(p.send, message_builder(1)
                           .add_guarded_port(std::move(g.receive))
                           .add_guarded_port(std::move(plain))
                           .build()));
  receive_options o;
  o.guarded_descriptors = true;
  auto parsed = require(parse(receive_now(p.receive, o)));
  BOOST_TEST_REQUIRE(parsed.descriptors().size() == 2u);
  auto& r0 = std::get<receive_right>(parsed.descriptors()[0]);
  auto& r1 = std::get<receive_right>(parsed.descriptors()[1]);
  BOOST_TEST(r0.name() == g_send.name());
  BOOST_TEST(r1.name() == plain_send.name());
  BOOST_TEST(r0.guarded());
  BOOST_TEST(r1.guarded());
  // destroyed with mach_port_destruct(guard) by the receive_right destructors
}

BOOST_AUTO_TEST_CASE(guarded_port_descriptor_without_option_is_destroyed) {
  auto p = make_port();
  auto plain = require(receive_right::allocate());
  auto plain_send = require(plain.make_send());
  require(send(p.send, message_builder(1).add_guarded_port(std::move(plain)).build()));
  auto parsed = require(parse(receive_now(p.receive)));
  BOOST_TEST(!std::get<receive_right>(parsed.descriptors()[0]).valid());
  BOOST_TEST(plain_send.is_dead());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(builder_moves, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(moving_a_builder_moves_ownership) {
  auto p = make_port();
  message_builder a(3);
  a.reply(send_right(p.send)).add_port(send_right(p.send)).add<std::uint32_t>(1);
  message_builder b = std::move(a);
  message_builder c;
  c = std::move(b);
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 3u);
  BOOST_TEST(a.size() == 24u);  // emptied
  auto m = c.build();
  BOOST_TEST(m.id() == 3);
  BOOST_TEST(m.size() == 24u + 4u + 12u + 4u);
  m.reset();
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
