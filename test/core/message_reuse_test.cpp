// One message reused for every message of a loop (build / encode into it, send, receive into
// it, decode / parse it): its buffer stays, and nothing it held leaks after any error.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <array>
#include <vector>

using namespace machport;
using namespace core_test;

namespace {

struct carrier {
  static constexpr mach_msg_id_t id = 700;
  std::uint32_t n;
  send_right s;
  send_once_right so;
  ool_buffer mem;
};

struct small {
  static constexpr mach_msg_id_t id = 701;
  std::uint64_t n;
};

struct big {
  static constexpr mach_msg_id_t id = 702;
  std::array<std::byte, 8192> data;
};

const std::byte* buffer_of(const message& m) { return m.buffer().data(); }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(message_reuse, machport_test::leak_check)

// The buffer survives send, receive and decode; a second round allocates no new one.
BOOST_AUTO_TEST_CASE(loop_keeps_one_buffer) {
  auto p = make_port();
  message m;
  encode(small{1}, m);
  const std::byte* first = buffer_of(m);
  require(send(p.send, std::move(m)));
  BOOST_TEST(m.empty());
  BOOST_TEST(buffer_of(m) == first);
  BOOST_TEST(m.bytes().empty());
  require(receive(p.receive, m));  // grows once to the default receive size
  const std::byte* grown = buffer_of(m);
  BOOST_TEST(require(decode<small>(m)).n == 1u);
  BOOST_TEST(m.empty());
  for (std::uint64_t n = 2; n < 5; ++n) {
    encode(small{n}, m);
    require(send(p.send, std::move(m)));
    require(receive(p.receive, m));
    BOOST_TEST(require(decode<small>(m)).n == n);
    BOOST_TEST(buffer_of(m) == grown);
  }
  message_builder b(9);
  b.add(std::uint32_t{5});
  b.build(m);
  BOOST_TEST(buffer_of(m) == grown);
  require(send(p.send, std::move(m)));
  require(receive(p.receive, m));
  BOOST_TEST(m.id() == 9);
  m.release_buffer();
  BOOST_TEST(m.buffer().empty());
}

// Rights and memory a message holds are released when something else is written into it.
BOOST_AUTO_TEST_CASE(overwriting_releases_contents) {
  auto p = make_port();
  auto other = make_port();
  message m;
  encode(carrier{1, send_right(other.send), require(other.receive.make_send_once()),
                 require(ool_buffer::copy_of(as_bytes("pages")))},
         m);
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  encode(small{2}, m);  // the carrier's rights go
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  expect_send_once_notification(other.receive);

  // A received message with rights, overwritten by a receive and by a builder.
  require(send(p.send, encode(carrier{2, send_right(other.send), require(other.receive.make_send_once()), {}})));
  require(send(p.send, encode(small{3})));
  require(receive(p.receive, m));
  BOOST_TEST(m.id() == carrier::id);
  require(receive(p.receive, m));
  BOOST_TEST(m.id() == small::id);
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  expect_send_once_notification(other.receive);
  message_builder(1).add_port(send_right(other.send)).build(m);
  message_builder(2).build(m);
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
}

// A send that fails hands the message back; it is reused after.
BOOST_AUTO_TEST_CASE(reuse_after_send_errors) {
  auto p = make_port(1);
  auto other = make_port();
  message m;
  encode(carrier{1, send_right(other.send), require(other.receive.make_send_once()), {}}, m);
  BOOST_TEST(send(send_right{}, std::move(m)).error() == make_msg_error(MACH_SEND_INVALID_DEST));
  BOOST_TEST(!m.empty());  // untouched: still owns its rights
  encode(small{1}, m);     // ... released here
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  expect_send_once_notification(other.receive);

  require(send(p.send, std::move(m)));  // fills the queue
  encode(carrier{2, send_right(other.send), require(other.receive.make_send_once()), {}}, m);
  BOOST_TEST(send(p.send, std::move(m), 0ms).error() == make_msg_error(MACH_SEND_TIMED_OUT));
  BOOST_TEST(!m.empty());  // pseudo-received: owns everything again
  require(receive(p.receive, m));  // overwritten: releases the pseudo-received rights
  BOOST_TEST(require(decode<small>(m)).n == 1u);
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  expect_send_once_notification(other.receive);
}

BOOST_AUTO_TEST_CASE(reuse_after_receive_timeout) {
  auto p = make_port();
  auto other = make_port();
  message m;
  require(send(p.send, encode(carrier{1, send_right(other.send), {}, {}})));
  require(receive(p.receive, m));
  const std::byte* buffer = buffer_of(m);
  receive_options poll;
  poll.timeout = 0ms;
  BOOST_TEST(receive(p.receive, m, poll).error() == make_msg_error(MACH_RCV_TIMED_OUT));
  BOOST_TEST(m.empty());  // the received message it held was released
  BOOST_TEST(buffer_of(m) == buffer);
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  require(send(p.send, encode(small{4})));
  require(receive(p.receive, m, poll));
  BOOST_TEST(require(decode<small>(m)).n == 4u);
}

BOOST_AUTO_TEST_CASE(reuse_after_decode_error) {
  auto p = make_port();
  auto other = make_port();
  message m;
  require(send(p.send, encode(carrier{1, send_right(other.send), require(other.receive.make_send_once()),
                                      require(ool_buffer::copy_of(as_bytes("x")))})));
  require(receive(p.receive, m));
  const std::byte* buffer = buffer_of(m);
  BOOST_TEST(decode<small>(m).error() == make_error_code(message_errc::unexpected_id));
  BOOST_TEST(m.empty());
  BOOST_TEST(buffer_of(m) == buffer);
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  expect_send_once_notification(other.receive);
  // Decoding an empty message again is refused; reuse works.
  BOOST_TEST(decode<small>(m).error() == make_error_code(message_errc::empty_message));
  require(send(p.send, encode(small{5})));
  require(receive(p.receive, m));
  BOOST_TEST(require(decode<small>(m)).n == 5u);
}

BOOST_AUTO_TEST_CASE(reuse_after_parse) {
  auto p = make_port();
  auto other = make_port();
  // Malformed: msgh_size past the buffer. parse releases it; the message keeps its buffer.
  std::vector<std::byte> raw(32);
  mach_msg_header_t h{};
  h.msgh_size = 64;
  std::memcpy(raw.data(), &h, sizeof h);
  message m = message::adopt_received(raw);
  BOOST_TEST(parse(std::move(m)).error() == make_error_code(message_errc::bad_header_size));
  BOOST_TEST(m.empty());
  BOOST_TEST(m.buffer().size() == raw.size());

  require(send(p.send, encode(carrier{1, send_right(other.send), {}, {}})));
  require(receive(p.receive, m));
  auto parsed = require(parse(std::move(m)));
  BOOST_TEST(m.buffer().empty());  // the parsed message holds the bytes ...
  parsed.recycle_buffer(m);         // ... until it hands them back
  BOOST_TEST(!m.buffer().empty());
  BOOST_TEST(m.empty());
  BOOST_TEST(parsed.body().empty());
  BOOST_TEST(parsed.descriptors().size() == 3u);  // the rights stay with the parsed message
  require(send(p.send, encode(small{6})));
  require(receive(p.receive, m));
  BOOST_TEST(require(decode<small>(m)).n == 6u);
}

// Sizes growing and shrinking through one message: the buffer grows to the largest and stays.
BOOST_AUTO_TEST_CASE(sizes_grow_and_shrink) {
  auto p = make_port();
  message m;
  big large{};
  large.data[8191] = std::byte{0x7f};
  for (int round = 0; round < 2; ++round) {
    encode(small{1}, m);
    require(send(p.send, std::move(m)));
    require(receive(p.receive, m));
    BOOST_TEST(require(decode<small>(m)).n == 1u);
    encode(big(large), m);
    BOOST_TEST(m.buffer().size() >= sizeof(big));
    require(send(p.send, std::move(m)));
    require(receive(p.receive, m));
    BOOST_TEST((require(decode<big>(m)).data[8191] == std::byte{0x7f}));
  }
}

BOOST_AUTO_TEST_SUITE_END()
