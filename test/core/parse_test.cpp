// parse: reply rights, inline body, trailer; what is refused.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <cstring>
#include <vector>

using namespace machport;
using namespace core_test;

namespace {
std::span<const std::byte> as_bytes(const char* s) {
  return {reinterpret_cast<const std::byte*>(s), std::strlen(s)};
}
}  // namespace

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

BOOST_AUTO_TEST_SUITE_END()
