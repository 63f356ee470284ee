// reply_port: a reply right carried in the header, typed (encode/decode) and as a destination.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <array>

using namespace machport;
using namespace core_test;

namespace {

struct request {
  static constexpr mach_msg_id_t id = 600;
  std::uint64_t seq;
  reply_port reply;
  send_right extra;
};

struct inline_request {
  static constexpr mach_msg_id_t id = 601;
  reply_port reply;
  std::array<char, 8> text;
};

struct answer {
  static constexpr mach_msg_id_t id = 602;
  std::uint64_t seq;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(reply_port_tests, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(kinds_and_ownership) {
  auto p = make_port();
  reply_port empty;
  BOOST_TEST(!empty.valid());
  BOOST_TEST(empty.disposition() == 0u);

  reply_port made = reply_port::make_send_once(p.receive);
  BOOST_TEST(made.valid());
  BOOST_TEST(made.disposition() == MACH_MSG_TYPE_MAKE_SEND_ONCE);
  BOOST_TEST(!made.is_send_once());  // borrowed: nothing to take
  BOOST_TEST(!made.take_send_once().valid());
  made.reset();  // borrowed: releases nothing
  BOOST_TEST((type_of(p.receive.name()) & MACH_PORT_TYPE_RECEIVE) != 0u);

  reply_port once = require(p.receive.make_send_once());
  BOOST_TEST(once.is_send_once());
  BOOST_TEST(once.disposition() == MACH_MSG_TYPE_MOVE_SEND_ONCE);
  reply_port moved = std::move(once);
  BOOST_TEST(!once.valid());
  moved.reset();  // deallocated: the port learns the reply will never come
  expect_send_once_notification(p.receive);

  reply_port as_send = send_right(p.send);
  BOOST_TEST(as_send.is_send());
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  send_right back = as_send.take_send();
  BOOST_TEST(!as_send.valid());
  BOOST_TEST(back.name() == p.send.name());
}

// The header carries the reply: MAKE_SEND_ONCE on send, PORT_SEND_ONCE on receipt; the
// message is not complex when nothing else is a right, and the layout has no room for it.
BOOST_AUTO_TEST_CASE(typed_reply_in_header) {
  static_assert(encoded_size<inline_request>() == 24 + 8);
  auto server = make_port();
  auto client = require(receive_right::allocate());
  message m = encode(inline_request{reply_port::make_send_once(client), {'h', 'i'}});
  BOOST_TEST(!m.complex());
  BOOST_TEST(MACH_MSGH_BITS_LOCAL(m.header().msgh_bits) == MACH_MSG_TYPE_MAKE_SEND_ONCE);
  BOOST_TEST(m.header().msgh_local_port == client.name());
  require(send(server.send, std::move(m)));

  auto got = require(decode<inline_request>(receive_now(server.receive)));
  BOOST_TEST(got.reply.is_send_once());
  BOOST_TEST(got.text[0] == 'h');
  require(send(std::move(got.reply), encode(answer{7})));
  BOOST_TEST(!got.reply.valid());
  BOOST_TEST(require(decode<answer>(receive_now(client))).seq == 7u);
}

BOOST_AUTO_TEST_CASE(typed_reply_with_descriptors) {
  auto server = make_port();
  auto other = make_port();
  request r{1, require(other.receive.make_send_once()), send_right(other.send)};
  require(send(server.send, encode(std::move(r))));
  auto got = require(decode<request>(receive_now(server.receive)));
  BOOST_TEST(got.seq == 1u);
  BOOST_TEST(got.reply.is_send_once());
  BOOST_TEST(got.extra.valid());
  got.reply.reset();
  expect_send_once_notification(other.receive);
}

// A message without a reply decodes to an empty reply_port; a type without a reply_port
// releases the one the message carried.
BOOST_AUTO_TEST_CASE(missing_and_unwanted_reply) {
  auto server = make_port();
  require(send(server.send, encode(inline_request{})));
  auto got = require(decode<inline_request>(receive_now(server.receive)));
  BOOST_TEST(!got.reply.valid());

  auto client = require(receive_right::allocate());
  require(send(server.send, message_builder(answer::id).reply_make_send_once(client).add(std::uint64_t{3}).build()));
  BOOST_TEST(require(decode<answer>(receive_now(server.receive))).seq == 3u);
  expect_send_once_notification(client);
}

// Sending to a reply_port: an error that keeps the message gives the right back.
BOOST_AUTO_TEST_CASE(send_to_reply_port_errors) {
  auto p = make_port();
  reply_port none;
  BOOST_TEST(send(std::move(none), encode(answer{1})).error() ==
             make_msg_error(MACH_SEND_INVALID_DEST));

  reply_port once = require(p.receive.make_send_once());
  const mach_port_name_t name = once.name();
  auto dn = send_right::adopt(require(dead_name::allocate()).release());
  message m = message_builder(1).reply_copy_send(dn).build();
  BOOST_TEST(send(std::move(once), std::move(m)).error() == make_msg_error(MACH_SEND_INVALID_REPLY));
  BOOST_TEST(once.name() == name);
  BOOST_TEST(once.is_send_once());
  once.reset();
  expect_send_once_notification(p.receive);

  // A send right as reply destination is moved (MOVE_SEND).
  reply_port as_send = send_right(p.send);
  require(send(std::move(as_send), encode(answer{2})));
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(require(decode<answer>(receive_now(p.receive))).seq == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
