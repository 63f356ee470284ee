// message: states, ownership, move, detach and adopt.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <machport/detail/wire.hpp>

#include <cstring>
#include <vector>

using namespace machport;
using namespace core_test;

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

// Regression: detach() used to free the builder's port-name arrays while the detached bytes
// still pointed at them (use after free, MACH_SEND_INVALID_RIGHT, leaked rights).
BOOST_AUTO_TEST_CASE(detach_keeps_port_arrays_for_adopt_outgoing) {
  auto p = make_port();
  auto a = make_port();
  auto b = make_port();
  std::vector<send_right> rights;
  rights.push_back(send_right(a.send));
  rights.push_back(send_right(b.send));
  auto built = message_builder(78).add_ports(std::move(rights)).build();
  std::vector<std::byte> raw(built.bytes().begin(), built.bytes().end());
  built.detach();  // `raw` now owns the urefs and the array
  require(send(p.send, message::adopt_outgoing(raw)));
  auto parsed = require(parse(receive_now(p.receive)));
  BOOST_TEST_REQUIRE(parsed.descriptors().size() == 1u);
  auto& got = std::get<std::vector<send_right>>(std::get<port_array>(parsed.descriptors()[0]));
  BOOST_TEST_REQUIRE(got.size() == 2u);
  BOOST_TEST(got[0].name() == a.send.name());
  BOOST_TEST(got[1].name() == b.send.name());
  BOOST_TEST(refs(a.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
}

// A built message's bytes name only rights and VM regions: dropping it releases the array too.
BOOST_AUTO_TEST_CASE(built_port_array_is_an_owned_region) {
  auto a = make_port();
  std::vector<send_right> rights;
  rights.push_back(send_right(a.send));
  auto m = message_builder(79).add_ports(std::move(rights)).build();
  const auto* d = m.bytes().data() + detail::header_size + detail::body_size;
  BOOST_TEST(detail::load8(d + detail::ool_deallocate_offset) == 1);  // the message owns the array
  BOOST_TEST(refs(a.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  m.reset();
  BOOST_TEST(refs(a.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(message_assign, machport_test::leak_check)

// assign_received reuses the buffer; what the message held before is released.
BOOST_AUTO_TEST_CASE(assign_received_reuses_buffer) {
  auto p = make_port();
  message m = message_builder(1).add_port(send_right(p.send)).add(std::uint64_t{1}).build();
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  const std::byte* before = m.buffer().data();
  const std::size_t capacity = m.buffer().size();
  mach_msg_header_t h{};
  h.msgh_size = sizeof h;
  h.msgh_id = 5;
  m.assign_received(std::as_bytes(std::span(&h, 1)));
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(m.current_state() == message::state::received);
  BOOST_TEST(m.id() == 5);
  BOOST_TEST(m.buffer().data() == before);
  BOOST_TEST(m.buffer().size() == capacity);
  auto parsed = require(parse(std::move(m)));
  BOOST_TEST(parsed.id() == 5);
}

BOOST_AUTO_TEST_SUITE_END()
