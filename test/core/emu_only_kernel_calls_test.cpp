// Kernel calls per message (machport_emu::kernel_calls): machport makes the calls hand-written
// mach_msg code makes, and no more.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <machport_emu/task.hpp>

#include <array>
#include <cstring>
#include <string>

using namespace machport;
using namespace core_test;

namespace {

struct ping {
  static constexpr mach_msg_id_t id = 100;
  std::uint64_t seq;
  reply_port reply_to;
  std::array<char, 16> text;
};

struct pong {
  static constexpr mach_msg_id_t id = 101;
  std::uint64_t seq;
};

struct with_rights {
  static constexpr mach_msg_id_t id = 102;
  send_right s;
  send_once_right so;
  ool_buffer mem;
};

// Kernel calls the calling task makes while f() runs; the per-routine counts on failure.
template <class F>
std::uint64_t calls_during(F&& f) {
  const auto task = machport_emu::current_task();
  const std::uint64_t before = machport_emu::kernel_calls(task);
  f();
  return machport_emu::kernel_calls(task) - before;
}

std::string counts() {
  std::string s;
  for (auto& [name, n] : machport_emu::kernel_call_counts(machport_emu::current_task())) {
    s += std::string(name) + "=" + std::to_string(n) + " ";
  }
  return s;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(kernel_calls, machport_test::leak_check)

// The README idiom: request with a MAKE_SEND_ONCE reply in the header, answered through it.
// Hand-written code makes 4 calls: send, receive, send, receive.
BOOST_AUTO_TEST_CASE(readme_round_trip_is_four_calls) {
  auto server = make_port();
  auto reply_port_right = require(receive_right::allocate());
  std::uint64_t seen = 0;
  const auto n = calls_during([&] {
    ping request{};
    request.seq = 1;
    request.reply_to = reply_port::make_send_once(reply_port_right);
    std::memcpy(request.text.data(), "hello", 6);
    require(send(server.send, encode(std::move(request))));

    auto got = require(decode<ping>(require(receive(server.receive))));
    require(send(std::move(got.reply_to), encode(pong{got.seq})));

    seen = require(decode<pong>(require(receive(reply_port_right)))).seq;
  });
  BOOST_TEST(seen == 1u);
  BOOST_TEST(n == 4u, counts());
}

// The same with reused messages: still 4.
BOOST_AUTO_TEST_CASE(reused_round_trip_is_four_calls) {
  auto server = make_port();
  auto reply_port_right = require(receive_right::allocate());
  message client_msg, server_msg;
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    const auto n = calls_during([&] {
      encode(ping{seq, reply_port::make_send_once(reply_port_right), {}}, client_msg);
      require(send(server.send, std::move(client_msg)));
      require(receive(server.receive, server_msg));
      auto got = require(decode<ping>(server_msg));
      encode(pong{got.seq}, server_msg);
      require(send(std::move(got.reply_to), std::move(server_msg)));
      require(receive(reply_port_right, client_msg));
      BOOST_TEST(require(decode<pong>(client_msg)).seq == seq);
    });
    BOOST_TEST(n == 4u, counts());
  }
}

// A message built from owning types (moved rights, owned memory) is sent with one call.
BOOST_AUTO_TEST_CASE(owned_rights_send_is_one_call) {
  auto p = make_port();
  auto other = make_port();
  auto so = require(other.receive.make_send_once());
  auto mem = require(ool_buffer::copy_of(as_bytes("owned")));
  auto extra = send_right(other.send);
  message built = message_builder(1)
                      .reply(require(other.receive.make_send_once()))
                      .add_port(std::move(extra))
                      .add_port(std::move(so))
                      .add_ool(std::move(mem))
                      .build();
  BOOST_TEST(calls_during([&] { require(send(p.send, std::move(built))); }) == 1u, counts());

  message typed = encode(with_rights{send_right(other.send), require(other.receive.make_send_once()),
                                     require(ool_buffer::copy_of(as_bytes("x")))});
  BOOST_TEST(calls_during([&] { require(send(p.send, std::move(typed))); }) == 1u, counts());

  // Received, released: the send-once rights come back as notifications.
  receive_now(p.receive).reset();
  receive_now(p.receive).reset();
  expect_send_once_notification(other.receive);
  expect_send_once_notification(other.receive);
  expect_send_once_notification(other.receive);
}

// A borrowed descriptor right, or bytes from adopt_outgoing, are checked first.
BOOST_AUTO_TEST_CASE(borrowed_and_adopted_are_checked) {
  auto p = make_port();
  auto other = make_port();
  message borrowed = message_builder(1).add_copy_send(other.send).build();
  BOOST_TEST(calls_during([&] { require(send(p.send, std::move(borrowed))); }) > 1u);
  receive_now(p.receive).reset();

  message source = message_builder(1).add_copy_send(other.send).build();
  std::vector<std::byte> raw(source.bytes().begin(), source.bytes().end());
  source.reset();
  message adopted = message::adopt_outgoing(raw);
  BOOST_TEST(calls_during([&] { require(send(p.send, std::move(adopted))); }) > 1u);
  receive_now(p.receive).reset();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(adaptive_receive, machport_test::leak_check)

// A message larger than the buffer costs MACH_RCV_TOO_LARGE once, not on every receive:
// a reused message keeps the grown buffer, a fresh one starts at this thread's last size.
BOOST_AUTO_TEST_CASE(too_large_at_most_once_per_size) {
  auto p = make_port();
  const std::vector<std::byte> payload(4096, std::byte{1});
  auto send_big = [&] { require(send(p.send, message_builder(1).add_data(payload).build())); };

  message reused;
  send_big();
  BOOST_TEST(calls_during([&] { require(receive(p.receive, reused)); }) == 2u);  // grows once
  for (int i = 0; i < 3; ++i) {
    send_big();
    BOOST_TEST(calls_during([&] { require(receive(p.receive, reused)); }) == 1u, counts());
  }
  // A fresh message per receive: this thread already saw 4 KiB messages.
  for (int i = 0; i < 3; ++i) {
    send_big();
    BOOST_TEST(calls_during([&] { (void)require(receive(p.receive)); }) == 1u, counts());
  }
}

BOOST_AUTO_TEST_SUITE_END()
