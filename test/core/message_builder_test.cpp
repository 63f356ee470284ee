// message_builder: layout, bits, and what each way of adding a right or region sends.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <mach/notify.h>

#include <algorithm>
#include <cstring>
#include <vector>

using namespace machport;
using namespace core_test;

BOOST_FIXTURE_TEST_SUITE(builder, machport_test::leak_check)

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

// Regression: add_port and add_ports took a guarded receive right as a plain one and forgot
// its guard; dropping the builder then released it with mach_port_mod_refs, which the kernel
// refuses for a guarded port (the port leaked; on macOS, a fatal guard exception).
BOOST_AUTO_TEST_CASE(guarded_right_in_add_port_is_refused_and_kept) {
  auto p = make_port();
  port_options go;
  go.guard = true;
  go.context = 0x4242;
  auto g = require(receive_right::construct(go)).receive;
  message_builder b(1);
  b.add_port(send_right(p.send));
  const std::size_t size = b.size();
  BOOST_CHECK_THROW(b.add_port(std::move(g)), std::invalid_argument);
  BOOST_TEST(g.valid());
  BOOST_TEST(g.guard() == 0x4242u);
  std::vector<receive_right> rs;
  rs.push_back(require(receive_right::allocate()));
  rs.push_back(std::move(g));
  BOOST_CHECK_THROW(b.add_ports(std::move(rs)), std::invalid_argument);
  BOOST_TEST_REQUIRE(rs.size() == 2u);
  BOOST_TEST(rs[0].valid());
  BOOST_TEST(rs[1].guard() == 0x4242u);
  BOOST_TEST((type_of(rs[1].name()) & MACH_PORT_TYPE_RECEIVE) != 0u);
  BOOST_TEST(b.size() == size);  // unchanged
  // the guarded right still goes through the guarded port descriptor
  b.add_guarded_port(std::move(rs[1]));
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
