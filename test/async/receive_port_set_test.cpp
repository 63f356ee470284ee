// basic_receive_port_set: members, ordering across members, the member reported, remove and
// destroy while a receive waits, cancellation, release, many idle members.
#include "async_util.hpp"

#include <support/leak_check.hpp>

#include <machport/receive_port_set.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <optional>
#include <utility>
#include <vector>

using namespace async_test;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// A receive_port_set with `n` members, and a send right to each.
struct set_with_members {
  set_with_members(asio::io_context& io, std::size_t n) : set(io) {
    for (std::size_t i = 0; i < n; ++i) {
      port_pair p;
      names.push_back(p.receive.name());
      sends.push_back(std::move(p.send));
      require(set.add(std::move(p.receive)));
    }
  }
  machport::receive_port_set set;
  std::vector<mach_port_name_t> names;
  std::vector<machport::send_right> sends;
};

// What one completion of async_receive gave.
struct got {
  mach_port_name_t member;
  std::uint64_t n;
};

// Starts a receive on `set` that appends what it gets to `out` (a numbered message; the
// test fails on an error).
void receive_into(machport::receive_port_set& set, std::vector<got>& out) {
  set.async_receive([&out](error_code ec, mach_port_name_t member, machport::message m) {
    BOOST_TEST_REQUIRE(!ec, ec.message());
    BOOST_TEST(m.header().msgh_local_port == member);
    out.push_back({member, number_of(std::move(m))});
  });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(receive_port_set_tests)

BOOST_FIXTURE_TEST_CASE(add_remove_and_errors, machport_test::leak_check) {
  asio::io_context io;
  machport::receive_port_set set(io);
  BOOST_TEST(set.is_open());
  BOOST_TEST(set.native_handle() == set.set().name());
  BOOST_TEST(set.size() == 0u);
  port_pair p;
  const mach_port_name_t name = p.receive.name();
  require(set.add(std::move(p.receive)));
  BOOST_TEST(!p.receive.valid());
  BOOST_TEST(set.contains(name));
  BOOST_TEST(set.find(name)->name() == name);
  BOOST_TEST(set.size() == 1u);
  BOOST_TEST(require(set.find(name)->status()).in_set);

  machport::receive_right empty;
  BOOST_TEST(set.add(std::move(empty)).error() == machport::make_kern_error(KERN_INVALID_NAME));
  BOOST_TEST(set.remove(name + 4).error() == machport::make_kern_error(KERN_NOT_IN_SET));

  machport::receive_right back = require(set.remove(name));
  BOOST_TEST(back.name() == name);
  BOOST_TEST(!require(back.status()).in_set);
  BOOST_TEST(set.size() == 0u);

  // A closed set refuses a member, which stays with the caller.
  set.close();
  BOOST_TEST(!set.is_open());
  BOOST_TEST(set.add(std::move(back)).error() == machport::make_kern_error(KERN_INVALID_NAME));
  BOOST_TEST(back.valid());
  set.open();
  require(set.add(std::move(back)));
  BOOST_TEST(set.size() == 1u);
}

// One message per member in turn, twice round: they come in the order they were sent, each
// with its member. (Members are served in the order they became non-empty, and a member
// received from goes to the back.)
BOOST_FIXTURE_TEST_CASE(messages_from_several_members_in_arrival_order, machport_test::leak_check) {
  asio::io_context io;
  set_with_members s(io, 3);
  std::vector<got> order;
  // Three receives wait before anything is sent, three find their messages queued.
  for (int i = 0; i < 3; ++i) receive_into(s.set, order);
  io.poll();
  for (std::uint64_t n = 0; n < 6; ++n) send_number(s.sends[n % 3], n);
  for (int i = 0; i < 3; ++i) receive_into(s.set, order);
  io.run();
  BOOST_TEST_REQUIRE(order.size() == 6u);
  for (std::uint64_t n = 0; n < 6; ++n) {
    BOOST_TEST(order[n].n == n);
    BOOST_TEST(order[n].member == s.names[n % 3]);
  }
}

// A right that already holds messages brings them into the set.
BOOST_FIXTURE_TEST_CASE(messages_queued_before_add_are_received, machport_test::leak_check) {
  asio::io_context io;
  machport::receive_port_set set(io);
  port_pair p;
  const mach_port_name_t name = p.receive.name();
  send_number(p.send, 5);
  require(set.add(std::move(p.receive)));
  std::vector<got> received;
  receive_into(set, received);
  io.run();
  BOOST_TEST_REQUIRE(received.size() == 1u);
  BOOST_TEST(received[0].member == name);
  BOOST_TEST(received[0].n == 5u);
}

BOOST_FIXTURE_TEST_CASE(typed_receive_reports_the_member, machport_test::leak_check) {
  asio::io_context io;
  set_with_members s(io, 2);
  send_number(s.sends[1], 42);
  machport::message_builder other(12345);
  require(machport::send(s.sends[0], other.build(), guard));
  std::vector<std::pair<error_code, got>> results;
  for (int i = 0; i < 2; ++i) {
    s.set.async_receive<numbered>([&](error_code ec, mach_port_name_t member, numbered v) {
      results.push_back({ec, {member, v.n}});
    });
  }
  io.run();
  BOOST_TEST_REQUIRE(results.size() == 2u);
  BOOST_TEST(!results[0].first, results[0].first.message());
  BOOST_TEST(results[0].second.member == s.names[1]);
  BOOST_TEST(results[0].second.n == 42u);
  // A message that does not decode names the member that sent it.
  BOOST_TEST(results[1].first == machport::make_error_code(machport::message_errc::unexpected_id));
  BOOST_TEST(results[1].second.member == s.names[0]);
}

BOOST_FIXTURE_TEST_CASE(works_with_coroutines, machport_test::leak_check) {
  asio::io_context io;
  set_with_members s(io, 2);
  std::vector<got> order;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
          auto [ec, member, m] = co_await s.set.async_receive(asio::as_tuple(asio::use_awaitable));
          BOOST_TEST_REQUIRE(!ec, ec.message());
          order.push_back({member, number_of(std::move(m))});
        }
      },
      asio::detached);
  io.poll();
  send_number(s.sends[1], 1);
  send_number(s.sends[0], 2);
  io.run();
  BOOST_TEST_REQUIRE(order.size() == 2u);
  BOOST_TEST(order[0].member == s.names[1]);
  BOOST_TEST(order[1].member == s.names[0]);
}

// remove() while a receive waits on the set: the receive goes on waiting for the others; the
// removed right keeps what is sent to it.
BOOST_FIXTURE_TEST_CASE(remove_while_pending, machport_test::leak_check) {
  asio::io_context io;
  set_with_members s(io, 2);
  std::vector<got> received;
  receive_into(s.set, received);
  io.poll();
  machport::receive_right removed = require(s.set.remove(s.names[0]));
  send_number(s.sends[0], 1);
  io.poll();
  BOOST_TEST(received.empty());
  BOOST_TEST(queued(removed) == 1u);
  send_number(s.sends[1], 2);
  io.run();
  BOOST_TEST_REQUIRE(received.size() == 1u);
  BOOST_TEST(received[0].member == s.names[1]);
  BOOST_TEST(received[0].n == 2u);
  BOOST_TEST(number_of(require(machport::receive(removed, {.timeout = guard}))) == 1u);
}

// A member destroyed (removed and dropped) with messages queued: the kernel destroys them and
// the rights they carry; a waiting receive is not disturbed and takes the next member's.
BOOST_FIXTURE_TEST_CASE(member_destroyed, machport_test::leak_check) {
  asio::io_context io;
  set_with_members s(io, 2);
  // A message carrying a send right to the other member: destroyed with the member, it
  // releases that right (the leak check sees it otherwise).
  machport::message_builder b(1);
  b.add_port(require(s.set.find(s.names[1])->make_send()));
  require(machport::send(s.sends[0], b.build(), guard));
  std::vector<got> received;
  receive_into(s.set, received);
  // Destroyed before the reactor runs again.
  require(s.set.remove(s.names[0])).reset();
  BOOST_TEST(!s.set.contains(s.names[0]));
  io.poll();
  BOOST_TEST(received.empty());
  send_number(s.sends[1], 7);
  io.run();
  BOOST_TEST_REQUIRE(received.size() == 1u);
  BOOST_TEST(received[0].member == s.names[1]);
  BOOST_TEST(received[0].n == 7u);
  // The sender's right to the destroyed member is a dead name now.
  BOOST_TEST(machport::send(s.sends[0], machport::encode(numbered{1}), guard).error() ==
             machport::make_msg_error(MACH_SEND_INVALID_DEST));
}

// Per-operation cancellation and cancel(): the operations complete with operation_aborted,
// the messages sent afterwards stay in their members and a later receive gets them.
BOOST_FIXTURE_TEST_CASE(cancel_keeps_messages, machport_test::leak_check) {
  asio::io_context io;
  set_with_members s(io, 2);
  std::vector<error_code> aborted;
  asio::cancellation_signal sig;
  s.set.async_receive(asio::bind_cancellation_slot(
      sig.slot(), [&](error_code ec, mach_port_name_t member, machport::message m) {
        BOOST_TEST(member == MACH_PORT_NULL);
        BOOST_TEST(m.empty());
        aborted.push_back(ec);
      }));
  for (int i = 0; i < 2; ++i) {
    s.set.async_receive([&](error_code ec, mach_port_name_t, machport::message) { aborted.push_back(ec); });
  }
  io.poll();
  sig.emit(asio::cancellation_type::partial);
  s.set.cancel();
  BOOST_TEST(aborted.empty());  // posted, not run inside emit or cancel
  io.run();
  BOOST_TEST_REQUIRE(aborted.size() == 3u);
  for (auto ec : aborted) BOOST_TEST(ec == asio::error::operation_aborted);

  send_number(s.sends[0], 1);
  send_number(s.sends[1], 2);
  BOOST_TEST(queued(*s.set.find(s.names[0])) == 1u);
  BOOST_TEST(queued(*s.set.find(s.names[1])) == 1u);
  std::vector<got> order;
  for (int i = 0; i < 2; ++i) receive_into(s.set, order);
  io.restart();
  io.run();
  BOOST_TEST_REQUIRE(order.size() == 2u);
  BOOST_TEST(order[0].n == 1u);
  BOOST_TEST(order[0].member == s.names[0]);
  BOOST_TEST(order[1].n == 2u);
  BOOST_TEST(order[1].member == s.names[1]);
}

// release() aborts pending receives and gives back the set with its members in it: the
// synchronous receive on the set still works.
BOOST_FIXTURE_TEST_CASE(release_hands_back_the_set_and_members, machport_test::leak_check) {
  asio::io_context io;
  set_with_members s(io, 2);
  std::optional<error_code> result;
  s.set.async_receive([&](error_code ec, mach_port_name_t, machport::message) { result = ec; });
  io.poll();
  machport::released_port_set back = s.set.release();
  BOOST_TEST(!s.set.is_open());
  BOOST_TEST(s.set.size() == 0u);
  BOOST_TEST(back.members.size() == 2u);
  io.run();
  BOOST_TEST_REQUIRE(result.has_value());
  BOOST_TEST(*result == asio::error::operation_aborted);
  send_number(s.sends[1], 9);
  machport::message m = require(machport::receive(back.set, {.timeout = guard}));
  BOOST_TEST(m.header().msgh_local_port == s.names[1]);
  BOOST_TEST(number_of(std::move(m)) == 9u);

  // A closed set's receive fails.
  s.set.async_receive([&](error_code ec, mach_port_name_t, machport::message) { result = ec; });
  io.restart();
  io.run();
  BOOST_TEST(*result == machport::make_msg_error(MACH_RCV_INVALID_NAME));
}

BOOST_FIXTURE_TEST_CASE(move_keeps_members_and_pending_operations, machport_test::leak_check) {
  asio::io_context io;
  set_with_members s(io, 2);
  std::vector<got> received;
  receive_into(s.set, received);
  io.poll();
  machport::receive_port_set moved(std::move(s.set));
  BOOST_TEST(!s.set.is_open());
  BOOST_TEST(moved.size() == 2u);
  send_number(s.sends[1], 3);
  io.run();
  BOOST_TEST_REQUIRE(received.size() == 1u);
  BOOST_TEST(received[0].member == s.names[1]);
  // Move assignment closes the target first: its members are destroyed.
  machport::receive_port_set other(io);
  port_pair p;
  require(other.add(std::move(p.receive)));
  other = std::move(moved);
  BOOST_TEST(other.size() == 2u);
  BOOST_TEST(machport::send(p.send, machport::encode(numbered{1}), guard).error() ==
             machport::make_msg_error(MACH_SEND_INVALID_DEST));
}

// 10,000 idle members and one busy: one knote watches the set, the busy member's messages
// come through in order and idle members cost nothing per message.
BOOST_FIXTURE_TEST_CASE(ten_thousand_idle_members_and_one_busy, machport_test::leak_check) {
  asio::io_context io;
  machport::receive_port_set set(io);
  for (int i = 0; i < 10000; ++i) require(set.add(require(machport::receive_right::allocate())));
  port_pair busy;
  const mach_port_name_t busy_name = busy.receive.name();
  require(set.add(std::move(busy.receive)));
  BOOST_TEST(set.size() == 10001u);
  constexpr std::uint64_t count = 200;
  std::uint64_t next = 0;
  std::function<void(error_code, mach_port_name_t, machport::message)> on_message =
      [&](error_code ec, mach_port_name_t member, machport::message m) {
        BOOST_TEST_REQUIRE(!ec, ec.message());
        BOOST_TEST_REQUIRE(member == busy_name);
        BOOST_TEST_REQUIRE(number_of(std::move(m)) == next);
        if (++next < count) {
          send_number(busy.send, next);
          set.async_receive(on_message);
        }
      };
  send_number(busy.send, 0);
  set.async_receive(on_message);
  io.run();
  BOOST_TEST(next == count);
  // The kqueue wakes about once per message (bounded loosely: a reactor may add a spurious
  // wake-up); the idle members add nothing.
  BOOST_TEST(performs(io) <= 2 * count + 2);
}

BOOST_AUTO_TEST_SUITE_END()
