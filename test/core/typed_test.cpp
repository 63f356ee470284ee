// Typed messages: encode/decode of aggregates, every field kind and every mismatch.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <array>
#include <cstring>
#include <variant>

using namespace machport;
using namespace core_test;

namespace {

enum class color : std::uint16_t { red = 1, green = 2 };
struct point {
  std::int32_t x, y;
};

struct ping {
  static constexpr mach_msg_id_t id = 100;
  std::uint64_t seq;
  send_right reply_to;
  ool_buffer payload;
  std::array<char, 16> tag;
};

struct everything {
  static constexpr mach_msg_id_t id = 101;
  std::uint8_t a;
  send_right s;
  std::uint64_t b;
  send_once_right so;
  bool flag;
  receive_right r;
  color c;
  ool_buffer mem;
  point pt;
  double d;
};

struct plain {
  static constexpr mach_msg_id_t id = 102;
  std::uint32_t value;
};

struct two_sends {
  static constexpr mach_msg_id_t id = 103;
  send_right a;
  send_right b;
};

struct one_send_once {
  static constexpr mach_msg_id_t id = 103;  // same id as two_sends on purpose
  send_once_right a;
};

struct empty_msg {
  static constexpr mach_msg_id_t id = 104;
};

struct one_ool {
  static constexpr mach_msg_id_t id = 105;
  ool_buffer mem;
};

struct one_send {
  static constexpr mach_msg_id_t id = 105;
  send_right s;
};

struct bigger_plain {
  static constexpr mach_msg_id_t id = 102;
  std::uint32_t value;
  std::uint32_t more;
};

struct one_receive {
  static constexpr mach_msg_id_t id = 107;
  receive_right r;
};

struct send_and_receive {
  static constexpr mach_msg_id_t id = 108;
  send_right s;
  receive_right r;
};

struct flag_msg {
  static constexpr mach_msg_id_t id = 106;
  bool flag;
};

// Sends `m` to p and receives it back.
message loop(const constructed_port& p, message&& m) {
  require(send(p.send, std::move(m)));
  return receive_now(p.receive);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(typed, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(layout_is_documented) {
  // header 24 + count 4 + port 12 + OOL 16 = 56; u64 at 56, 16 chars at 64 → 80
  BOOST_TEST(encoded_size<ping>() == 80u);
  BOOST_TEST(encoded_size<plain>() == 28u);
  BOOST_TEST(encoded_size<empty_msg>() == 24u);
  // a@…, offsets: descriptors 4+12+12+12+16=56 → body at 80
  // a u8@80, b u64@88, flag@96, c u16@98, pt@100 (8), d@112 → 120
  BOOST_TEST(encoded_size<everything>() == 120u);
  auto m = encode(plain{7});
  BOOST_TEST(m.size() == 28u);
  BOOST_TEST(!m.complex());
  std::uint32_t v;
  std::memcpy(&v, m.bytes().data() + 24, 4);
  BOOST_TEST(v == 7u);
}

BOOST_AUTO_TEST_CASE(ping_round_trip) {
  auto p = make_port();
  auto client = make_port();
  ping out{};
  out.seq = 42;
  out.reply_to = client.send;
  out.payload = require(ool_buffer::allocate(5000));
  out.payload.data()[4999] = std::byte{9};
  std::memcpy(out.tag.data(), "hello", 6);
  auto got = require(decode<ping>(loop(p, encode(std::move(out)))));
  BOOST_TEST(!out.reply_to.valid());
  BOOST_TEST(got.seq == 42u);
  BOOST_TEST(got.reply_to.name() == client.receive.name());
  BOOST_TEST(got.payload.size() == 5000u);
  BOOST_TEST(static_cast<int>(got.payload.data()[4999]) == 9);
  BOOST_TEST(std::strcmp(got.tag.data(), "hello") == 0);
}

BOOST_AUTO_TEST_CASE(every_field_kind) {
  auto p = make_port();
  auto other = make_port();
  auto moved = require(receive_right::allocate());
  auto moved_send = require(moved.make_send());
  everything e{};
  e.a = 0xab;
  e.s = other.send;
  e.b = 0x0102030405060708ull;
  e.so = require(other.receive.make_send_once());
  e.flag = true;
  e.r = std::move(moved);
  e.c = color::green;
  e.mem = require(ool_buffer::copy_of(std::as_bytes(std::span("ool", 3))));
  e.pt = {-3, 4};
  e.d = 2.5;
  auto got = require(decode<everything>(loop(p, encode(std::move(e)))));
  BOOST_TEST(got.a == 0xab);
  BOOST_TEST(got.s.name() == other.receive.name());
  BOOST_TEST(got.b == 0x0102030405060708ull);
  BOOST_TEST(got.so.valid());
  BOOST_TEST(got.flag);
  BOOST_TEST(got.r.name() == moved_send.name());
  BOOST_TEST((got.c == color::green));
  BOOST_TEST(std::memcmp(got.mem.data(), "ool", 3) == 0);
  BOOST_TEST(got.pt.x == -3);
  BOOST_TEST(got.pt.y == 4);
  BOOST_TEST(got.d == 2.5);
  got.so.reset();
  expect_send_once_notification(other.receive);
}

BOOST_AUTO_TEST_CASE(empty_rights_travel_as_null) {
  auto p = make_port();
  auto got = require(decode<two_sends>(loop(p, encode(two_sends{}))));
  BOOST_TEST(!got.a.valid());
  BOOST_TEST(!got.b.valid());
  auto e = require(decode<empty_msg>(loop(p, encode(empty_msg{}))));
  (void)e;
}

BOOST_AUTO_TEST_CASE(variant_dispatch_by_id) {
  auto p = make_port();
  using any = std::variant<plain, ping, empty_msg>;
  auto a = require(decode<any>(loop(p, encode(plain{5}))));
  BOOST_TEST(std::get<plain>(a).value == 5u);
  auto b = require(decode<any>(loop(p, encode(empty_msg{}))));
  BOOST_TEST(std::holds_alternative<empty_msg>(b));
  auto c = decode<any>(loop(p, encode(flag_msg{true})));
  BOOST_TEST(c.error() == make_error_code(message_errc::unexpected_id));
  // A matching id with the wrong shape reports the shape error.
  auto other = make_port();
  auto d = decode<std::variant<two_sends, plain>>(loop(p, encode(one_send_once{require(other.receive.make_send_once())})));
  BOOST_TEST(d.error() == make_error_code(message_errc::unexpected_descriptor_count));
  expect_send_once_notification(other.receive);
  BOOST_TEST(decode<any>(message{}).error() == make_error_code(message_errc::empty_message));
  BOOST_TEST(decode<any>(encode(plain{1})).error() == make_error_code(message_errc::bad_header_bits));
}

BOOST_AUTO_TEST_CASE(variant_unknown_id_releases_rights) {
  auto p = make_port();
  auto other = make_port();
  auto r = decode<std::variant<plain, empty_msg>>(loop(p, encode(two_sends{other.send, other.send})));
  BOOST_TEST(r.error() == make_error_code(message_errc::unexpected_id));
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
}

BOOST_AUTO_TEST_CASE(mismatch_id) {
  auto p = make_port();
  auto other = make_port();
  auto r = decode<ping>(loop(p, encode(two_sends{other.send, other.send})));
  BOOST_TEST(r.error() == make_error_code(message_errc::unexpected_id));
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
}

BOOST_AUTO_TEST_CASE(mismatch_descriptor_count) {
  auto p = make_port();
  auto other = make_port();
  auto r = decode<two_sends>(loop(p, encode(one_send_once{require(other.receive.make_send_once())})));
  BOOST_TEST(r.error() == make_error_code(message_errc::unexpected_descriptor_count));
  expect_send_once_notification(other.receive);
}

BOOST_AUTO_TEST_CASE(mismatch_descriptor_disposition) {
  auto p = make_port();
  auto other = make_port();
  // two_sends expects PORT_SEND twice; deliver send + send-once with the same id
  message m = message_builder(two_sends::id)
                  .add_port(send_right(other.send))
                  .add_port(require(other.receive.make_send_once()))
                  .build();
  auto r = decode<two_sends>(loop(p, std::move(m)));
  BOOST_TEST(r.error() == make_error_code(message_errc::unexpected_descriptor));
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  expect_send_once_notification(other.receive);
}

BOOST_AUTO_TEST_CASE(mismatch_descriptor_type) {
  auto p = make_port();
  auto other = make_port();
  auto r = decode<one_send>(loop(p, encode(one_ool{require(ool_buffer::allocate(10))})));
  BOOST_TEST(r.error() == make_error_code(message_errc::unexpected_descriptor));
  auto r2 = decode<one_ool>(loop(p, encode(one_send{other.send})));
  BOOST_TEST(r2.error() == make_error_code(message_errc::unexpected_descriptor));
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
  // a guarded port descriptor is not a plain port even though both parse as receive rights
  auto g = require(receive_right::allocate());
  receive_options o;
  o.guarded_descriptors = true;
  require(send(p.send, message_builder(107).add_guarded_port(std::move(g)).build()));
  auto r3 = decode<one_receive>(receive_now(p.receive, o));
  BOOST_TEST(r3.error() == make_error_code(message_errc::unexpected_descriptor));
}

BOOST_AUTO_TEST_CASE(mismatch_complex_bit) {
  auto p = make_port();
  // id 105 without descriptors, where one_send expects one
  auto r = decode<one_send>(loop(p, message_builder(105).add<std::uint32_t>(0).build()));
  BOOST_TEST(r.error() == make_error_code(message_errc::unexpected_complex_bit));
  // descriptors where none are expected
  auto other = make_port();
  auto r2 = decode<plain>(loop(p, message_builder(102).add_copy_send(other.send).build()));
  BOOST_TEST(r2.error() == make_error_code(message_errc::unexpected_complex_bit));
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
}

BOOST_AUTO_TEST_CASE(mismatch_size) {
  auto p = make_port();
  auto r = decode<bigger_plain>(loop(p, encode(plain{1})));
  BOOST_TEST(r.error() == make_error_code(message_errc::unexpected_size));
  auto r2 = decode<plain>(loop(p, encode(bigger_plain{1, 2})));
  BOOST_TEST(r2.error() == make_error_code(message_errc::unexpected_size));
}

BOOST_AUTO_TEST_CASE(invalid_bool_is_rejected) {
  auto p = make_port();
  auto r = decode<flag_msg>(loop(p, message_builder(106).add<std::uint8_t>(2).build()));
  BOOST_TEST(r.error() == make_error_code(message_errc::bad_bool_value));
  auto ok = require(decode<flag_msg>(loop(p, message_builder(106).add<std::uint8_t>(1).build())));
  BOOST_TEST(ok.flag);
}

BOOST_AUTO_TEST_CASE(decode_malformed_and_empty) {
  BOOST_TEST(decode<plain>(message{}).error() == make_error_code(message_errc::empty_message));
  std::vector<std::byte> junk(8, std::byte{1});
  BOOST_TEST(decode<plain>(message::adopt_received(junk)).error() ==
             make_error_code(message_errc::bad_header_size));
  BOOST_TEST(decode<std::variant<plain>>(message::adopt_received(junk)).error() ==
             make_error_code(message_errc::bad_header_size));
}

BOOST_AUTO_TEST_CASE(header_reply_is_released_by_decode) {
  auto p = make_port();
  auto client = require(receive_right::allocate());
  message m = message_builder(102).reply_make_send_once(client).add<std::uint32_t>(3).build();
  auto r = require(decode<plain>(loop(p, std::move(m))));
  BOOST_TEST(r.value == 3u);
  expect_send_once_notification(client);
}

BOOST_AUTO_TEST_CASE(unsent_encoded_message_releases) {
  auto other = make_port();
  {
    auto m = encode(two_sends{other.send, other.send});
    BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 3u);
  }
  BOOST_TEST(refs(other.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
}

// Regression: decode on an outgoing message was documented to leave it empty but kept it; it
// now keeps it, as documented, so that nothing it owns is lost.
BOOST_AUTO_TEST_CASE(decode_outgoing_message_is_left_untouched) {
  auto p = make_port();
  auto m = message_builder(102).add_port(send_right(p.send)).build();
  BOOST_TEST(decode<plain>(std::move(m)).error() == make_error_code(message_errc::bad_header_bits));
  BOOST_TEST(!m.empty());
  using either = std::variant<plain, ping>;
  BOOST_TEST(decode<either>(std::move(m)).error() == make_error_code(message_errc::bad_header_bits));
  BOOST_TEST(!m.empty());
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  m.reset();
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 1u);
}

// Regression: a bool holding 2 was reported as unexpected_size.
BOOST_AUTO_TEST_CASE(bool_other_than_0_or_1_is_bad_bool_value) {
  auto p = make_port();
  auto r = decode<flag_msg>(loop(p, message_builder(106).add<std::uint8_t>(0xff).build()));
  BOOST_TEST(r.error() == make_error_code(message_errc::bad_bool_value));
  BOOST_TEST(r.error().message() == "bool field holds a byte other than 0 or 1");
}

// Regression: encode moved a guarded receive_right field into a plain port descriptor, losing
// its guard; dropping the message then failed to release the port (see message_builder).
BOOST_AUTO_TEST_CASE(guarded_receive_field_in_encode_is_refused_and_kept) {
  auto p = make_port();
  port_options go;
  go.guard = true;
  go.context = 0x4343;
  send_and_receive v{p.send, require(receive_right::construct(go)).receive};
  BOOST_CHECK_THROW((void)encode(std::move(v)), std::invalid_argument);
  BOOST_TEST(v.s.valid());  // nothing moved, not even the fields before it
  BOOST_TEST(refs(p.send.name(), MACH_PORT_RIGHT_SEND) == 2u);
  BOOST_TEST(v.r.guard() == 0x4343u);
  BOOST_TEST((type_of(v.r.name()) & MACH_PORT_TYPE_RECEIVE) != 0u);
}

BOOST_AUTO_TEST_SUITE_END()
