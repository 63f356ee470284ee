// async_send: immediate sends, waiting for room, order, dead destinations, cancellation,
// forged notifications, teardown.
#include "async_util.hpp"

#include <support/leak_check.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <mach/notify.h>

#include <array>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

using namespace async_test;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// What one async_send completed with: the error and the number its message still carries
// (nullopt when the message came back empty).
struct outcome {
  error_code ec;
  std::optional<std::uint64_t> number;
};

// The number an outgoing message handed back by async_send carries: it is sent as it is to a
// scratch port and received, which shows it is still a whole, sendable message.
std::uint64_t number_of_unsent(machport::message&& m) {
  port_pair scratch;
  require(machport::send(scratch.send, std::move(m), guard));
  return number_of(require(machport::receive(scratch.receive)));
}

// A completion handler recording into `out`.
auto record(std::optional<outcome>& out) {
  return [&out](error_code ec, machport::message m) {
    outcome o{ec, std::nullopt};
    if (!m.empty()) o.number = number_of_unsent(std::move(m));
    out = o;
  };
}

// The port's queue limit set to 1 and filled with numbered{0}.
void fill_to_limit_one(const port_pair& p) {
  require(p.receive.set_queue_limit(1));
  send_number(p.send, 0);
  BOOST_TEST_REQUIRE(queued(p.receive) == 1u);
}

std::uint64_t receive_number(const machport::receive_right& r) {
  machport::receive_options o;
  o.timeout = guard;
  return number_of(require(machport::receive(r, o)));
}

machport::detail::send_engine& send_engine(asio::io_context& io) {
  return asio::use_service<machport::detail::send_service>(io).engine();
}

const error_code invalid_dest = machport::make_msg_error(MACH_SEND_INVALID_DEST);

}  // namespace

BOOST_AUTO_TEST_SUITE(async_send_tests)

BOOST_FIXTURE_TEST_CASE(sends_at_once_when_there_is_room, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  std::optional<outcome> got;
  machport::async_send(io, p.send, machport::encode(numbered{5}), record(got));
  BOOST_TEST(!got);  // never inside the initiating function
  BOOST_TEST(queued(p.receive) == 1u);  // but sent already
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!got->ec, got->ec.message());
  BOOST_TEST(!got->number);  // empty on success
  BOOST_TEST(receive_number(p.receive) == 5u);
  BOOST_TEST(send_engine(io).waiting_destinations() == 0u);
}

namespace {

// Sends numbered{6} to `to` from a coroutine; `done` says the message came back empty.
asio::awaitable<void> send_seven(const machport::send_right& to, bool& done) {
  auto m = co_await machport::async_send(co_await asio::this_coro::executor, to,
                                         machport::encode(numbered{6}), asio::use_awaitable);
  done = m.empty();
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(works_with_use_awaitable, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  bool done = false;
  asio::co_spawn(io, send_seven(p.send, done), asio::detached);
  io.run();
  BOOST_TEST(done);
  BOOST_TEST(receive_number(p.receive) == 6u);
}

// deferred: nothing is sent until the operation is launched; use_future and as_tuple complete
// with the same values as a callback.
BOOST_FIXTURE_TEST_CASE(works_with_deferred_use_future_and_as_tuple, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  auto op = machport::async_send(io, p.send, machport::encode(numbered{7}), asio::deferred);
  BOOST_TEST(queued(p.receive) == 0u);
  std::optional<error_code> got;
  std::move(op)([&](error_code ec, machport::message m) {
    BOOST_TEST(m.empty());
    got = ec;
  });
  BOOST_TEST(queued(p.receive) == 1u);
  std::future<machport::message> f =
      machport::async_send(io, p.send, machport::encode(numbered{8}), asio::use_future);
  std::optional<error_code> tuple_ec;
  machport::async_send(io, p.send, machport::encode(numbered{9}),
                       asio::as_tuple([&](std::tuple<error_code, machport::message> t) {
                         tuple_ec = std::get<0>(t);
                       }));
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got);
  BOOST_TEST(f.get().empty());
  BOOST_TEST_REQUIRE(tuple_ec.has_value());
  BOOST_TEST(!*tuple_ec);
  BOOST_TEST(receive_number(p.receive) == 7u);
  BOOST_TEST(receive_number(p.receive) == 8u);
  BOOST_TEST(receive_number(p.receive) == 9u);
}

BOOST_FIXTURE_TEST_CASE(waits_for_room_then_sends, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  fill_to_limit_one(p);
  std::optional<outcome> got;
  machport::async_send(io, p.send, machport::encode(numbered{1}), record(got));
  io.poll();
  BOOST_TEST(!got);  // the queue is full: waiting
  BOOST_TEST(queued(p.receive) == 1u);
  BOOST_TEST(send_engine(io).waiting_destinations() == 1u);
  BOOST_TEST(receive_number(p.receive) == 0u);  // room: the kernel notifies
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!got->ec, got->ec.message());
  BOOST_TEST(!got->number);
  BOOST_TEST(receive_number(p.receive) == 1u);
  BOOST_TEST(send_engine(io).waiting_destinations() == 0u);
}

BOOST_FIXTURE_TEST_CASE(the_caller_may_drop_its_right_while_the_send_waits,
                        machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  fill_to_limit_one(p);
  std::optional<outcome> got;
  {
    machport::send_right copy = p.send;
    machport::async_send(io, copy, machport::encode(numbered{1}), record(got));
  }
  p.send.reset();  // the waiting send holds the only send uref now
  io.poll();
  BOOST_TEST(!got);
  BOOST_TEST(receive_number(p.receive) == 0u);
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!got->ec, got->ec.message());
  BOOST_TEST(receive_number(p.receive) == 1u);
}

// Sends started while others wait for the same destination go out in the order started.
BOOST_FIXTURE_TEST_CASE(waiting_sends_keep_their_order, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  fill_to_limit_one(p);
  std::vector<std::uint64_t> completed;
  for (std::uint64_t n = 1; n <= 5; ++n) {
    machport::async_send(io, p.send, machport::encode(numbered{n}),
                         [&completed, n](error_code ec, machport::message m) {
                           BOOST_TEST(!ec, ec.message());
                           BOOST_TEST(m.empty());
                           completed.push_back(n);
                         });
  }
  machport::receive_port port(io, std::move(p.receive));
  std::vector<std::uint64_t> received;
  std::function<void(error_code, machport::message)> on_message =
      [&](error_code ec, machport::message m) {
        BOOST_TEST_REQUIRE(!ec, ec.message());
        received.push_back(number_of(std::move(m)));
        if (received.size() < 6) port.async_receive([&on_message](error_code e, machport::message m) { on_message(e, std::move(m)); });
      };
  port.async_receive([&on_message](error_code e, machport::message m) { on_message(e, std::move(m)); });
  io.run();
  BOOST_TEST(received == (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5}),
             boost::test_tools::per_element());
  BOOST_TEST(completed == (std::vector<std::uint64_t>{1, 2, 3, 4, 5}),
             boost::test_tools::per_element());
}

namespace {

// 4 senders each send `per_sender` numbered messages through a port with queue limit 1, each
// one after the previous completed (a callback chain); one receive_port takes them all.
// Returns after checking that every message arrived once and each sender's order was kept.
void many_senders(asio::io_context& io, int threads) {
  constexpr int senders = 4;
  constexpr std::uint64_t per_sender = 250;
  port_pair p;
  require(p.receive.set_queue_limit(1));
  machport::receive_port port(io, std::move(p.receive));

  std::mutex mu;  // the handlers may run on two threads
  std::array<std::uint64_t, senders> next_expected{};
  std::uint64_t received = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t send_errors = 0;

  std::function<void(error_code, machport::message)> on_message =
      [&](error_code ec, machport::message m) {
        std::lock_guard lock(mu);
        if (ec) {
          ++send_errors;
          return;
        }
        auto d = machport::decode<numbered>(std::move(m));
        if (!d) {
          ++out_of_order;
          return;
        }
        const auto sender = d.value().n / 1000;
        const auto seq = d.value().n % 1000;
        if (sender >= senders || next_expected[sender] != seq) ++out_of_order;
        else ++next_expected[sender];
        if (++received < senders * per_sender) port.async_receive([&on_message](error_code e, machport::message m) { on_message(e, std::move(m)); });
      };
  port.async_receive([&on_message](error_code e, machport::message m) { on_message(e, std::move(m)); });

  std::array<std::function<void(std::uint64_t)>, senders> chains;
  for (int s = 0; s < senders; ++s) {
    chains[s] = [&, s](std::uint64_t i) {
      machport::async_send(io, p.send, machport::encode(numbered{s * 1000u + i}),
                           [&, s, i](error_code ec, machport::message m) {
                             if (ec || !m.empty()) {
                               std::lock_guard lock(mu);
                               ++send_errors;
                               return;
                             }
                             if (i + 1 < per_sender) chains[s](i + 1);
                           });
    };
  }
  for (int s = 0; s < senders; ++s) chains[s](0);

  std::vector<std::thread> extra;
  for (int t = 1; t < threads; ++t) extra.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : extra) t.join();

  BOOST_TEST(send_errors == 0u);
  BOOST_TEST(out_of_order == 0u);
  BOOST_TEST(received == senders * per_sender);
  for (int s = 0; s < senders; ++s) BOOST_TEST(next_expected[s] == per_sender);
  BOOST_TEST(queued(port.right()) == 0u);
  BOOST_TEST(send_engine(io).waiting_destinations() == 0u);
  // The queue was full often: the waiting path carried much of the traffic.
  BOOST_TEST_MESSAGE("sends that found the queue full: " << send_engine(io).full_queue_count());
  BOOST_TEST(send_engine(io).full_queue_count() > 0u);
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(four_senders_through_queue_limit_one, machport_test::leak_check) {
  asio::io_context io;
  many_senders(io, 1);
}

BOOST_FIXTURE_TEST_CASE(four_senders_through_queue_limit_one_two_threads,
                        machport_test::leak_check) {
  asio::io_context io(2);
  many_senders(io, 2);
}

BOOST_FIXTURE_TEST_CASE(destination_dies_while_sends_wait, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  fill_to_limit_one(p);
  std::array<std::optional<outcome>, 3> got;
  for (std::uint64_t n = 0; n < got.size(); ++n) {
    machport::async_send(io, p.send, machport::encode(numbered{n + 1}), record(got[n]));
  }
  io.poll();
  BOOST_TEST_REQUIRE(send_engine(io).waiting_destinations() == 1u);
  p.receive.reset();  // the port dies: a dead-name notification comes
  io.run();
  for (std::uint64_t n = 0; n < got.size(); ++n) {
    BOOST_TEST_REQUIRE(got[n].has_value());
    BOOST_TEST(got[n]->ec == invalid_dest, got[n]->ec.message());
    BOOST_TEST(got[n]->number.value_or(~0ull) == n + 1);  // handed back intact
  }
  BOOST_TEST(send_engine(io).waiting_destinations() == 0u);
  BOOST_TEST(p.send.is_dead());
  // Our own uref only: the notification's was released (the fixture checks the rest).
  BOOST_TEST(require(p.send.urefs()) == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_dead_destination_fails_at_once, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  p.receive.reset();
  std::optional<outcome> got;
  machport::async_send(io, p.send, machport::encode(numbered{3}), record(got));
  BOOST_TEST(!got);
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->ec == invalid_dest, got->ec.message());
  BOOST_TEST(got->number.value_or(~0ull) == 3u);
}

// Each cancellation type: the waiting send completes with operation_aborted, its message
// handed back and never sent; the sends behind it carry on.
BOOST_FIXTURE_TEST_CASE(cancellation_hands_the_message_back, machport_test::leak_check) {
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                    asio::cancellation_type::total}) {
    asio::io_context io;
    port_pair p;
    fill_to_limit_one(p);
    asio::cancellation_signal sig;
    std::optional<outcome> first, cancelled, last;
    machport::async_send(io, p.send, machport::encode(numbered{1}), record(first));
    machport::async_send(io, p.send, machport::encode(numbered{2}),
                         asio::bind_cancellation_slot(sig.slot(), record(cancelled)));
    machport::async_send(io, p.send, machport::encode(numbered{3}), record(last));
    io.poll();
    BOOST_TEST(!cancelled);
    sig.emit(type);
    BOOST_TEST(!cancelled);  // posted, not run inside emit
    io.poll();
    BOOST_TEST_REQUIRE(cancelled.has_value());
    BOOST_TEST(cancelled->ec == asio::error::operation_aborted);
    BOOST_TEST(cancelled->number.value_or(~0ull) == 2u);
    BOOST_TEST(!first);
    BOOST_TEST(!last);
    // Drain: 0, then 1 and 3 arrive; 2 never does.
    BOOST_TEST(receive_number(p.receive) == 0u);
    while (queued(p.receive) == 0) io.run_one();  // the notification: 1 is sent
    BOOST_TEST(receive_number(p.receive) == 1u);
    io.run();
    BOOST_TEST(receive_number(p.receive) == 3u);
    BOOST_TEST(queued(p.receive) == 0u);
    BOOST_TEST_REQUIRE(first.has_value());
    BOOST_TEST(!first->ec);
    BOOST_TEST_REQUIRE(last.has_value());
    BOOST_TEST(!last->ec);
    BOOST_TEST(send_engine(io).waiting_destinations() == 0u);
  }
}

BOOST_FIXTURE_TEST_CASE(cancelling_the_only_waiter_retires_the_destination,
                        machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  fill_to_limit_one(p);
  asio::cancellation_signal sig;
  std::optional<outcome> got;
  machport::async_send(io, p.send, machport::encode(numbered{1}),
                       asio::bind_cancellation_slot(sig.slot(), record(got)));
  io.poll();
  sig.emit(asio::cancellation_type::terminal);
  io.run();  // also takes the send-once notification of the cancelled request
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->ec == asio::error::operation_aborted);
  BOOST_TEST(got->number.value_or(~0ull) == 1u);
  BOOST_TEST(send_engine(io).waiting_destinations() == 0u);
  BOOST_TEST(require(p.send.urefs()) == 1u);  // the engine's uref was released
  BOOST_TEST(receive_number(p.receive) == 0u);
  BOOST_TEST(queued(p.receive) == 0u);
}

namespace {

// Sends a message shaped like the kernel's `id` notification (NDR, then `name`) to the send
// service's notification port, as any task holding a send right could.
void forge_notification(asio::io_context& io, mach_msg_id_t id, mach_port_name_t name) {
  const mach_port_name_t notify = send_engine(io).notify_port_name();
  BOOST_TEST_REQUIRE(mach_port_insert_right(mach_task_self(), notify, notify,
                                            MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  machport::send_right to = machport::send_right::adopt(notify);
  const std::array<std::uint8_t, 8> ndr{0, 0, 0, 0, 1, 0, 0, 0};
  machport::message_builder b(id);
  b.add_data(std::as_bytes(std::span(ndr)));
  b.add_data(std::as_bytes(std::span(&name, 1)));
  require(machport::send(to, b.build(), guard));
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(forged_notifications_are_ignored, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  fill_to_limit_one(p);
  std::optional<outcome> got;
  machport::async_send(io, p.send, machport::encode(numbered{1}), record(got));
  io.poll();
  const auto urefs = require(p.send.urefs());
  forge_notification(io, MACH_NOTIFY_DEAD_NAME, p.send.name());
  forge_notification(io, MACH_NOTIFY_PORT_DELETED, p.send.name());
  forge_notification(io, MACH_NOTIFY_SEND_POSSIBLE, p.send.name());
  io.poll();
  BOOST_TEST(!got);  // not failed, not retried into success
  BOOST_TEST(send_engine(io).waiting_destinations() == 1u);
  BOOST_TEST(require(p.send.urefs()) == urefs);  // no uref released on a forger's word
  BOOST_TEST(queued(p.receive) == 1u);
  BOOST_TEST(receive_number(p.receive) == 0u);
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!got->ec, got->ec.message());
  BOOST_TEST(receive_number(p.receive) == 1u);
}

// The kernel has one request slot per name: a waiting send replaces another subsystem's
// dead-name request on the destination name, whose owner then gets a send-once notification.
BOOST_FIXTURE_TEST_CASE(a_waiting_send_replaces_another_request_on_the_name,
                        machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  fill_to_limit_one(p);
  const machport::receive_right theirs = require(machport::receive_right::allocate());
  mach_port_t previous = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(mach_port_request_notification(mach_task_self(), p.send.name(),
                                                    MACH_NOTIFY_DEAD_NAME, 0, theirs.name(),
                                                    MACH_MSG_TYPE_MAKE_SEND_ONCE,
                                                    &previous) == KERN_SUCCESS);
  BOOST_TEST_REQUIRE(previous == MACH_PORT_NULL);
  std::optional<outcome> got;
  machport::async_send(io, p.send, machport::encode(numbered{1}), record(got));
  machport::receive_options o;
  o.timeout = guard;
  auto note = require(machport::receive(theirs, o));
  BOOST_TEST(note.id() == MACH_NOTIFY_SEND_ONCE);
  BOOST_TEST(receive_number(p.receive) == 0u);
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!got->ec, got->ec.message());
  BOOST_TEST(receive_number(p.receive) == 1u);
}

BOOST_FIXTURE_TEST_CASE(send_once_destination, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  fill_to_limit_one(p);  // the queue limit does not apply to send-once rights
  std::optional<outcome> got;
  machport::async_send(io, require(p.receive.make_send_once()), machport::encode(numbered{4}),
                       record(got));
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!got->ec, got->ec.message());
  BOOST_TEST(!got->number);
  BOOST_TEST(receive_number(p.receive) == 0u);
  BOOST_TEST(receive_number(p.receive) == 4u);
}

BOOST_FIXTURE_TEST_CASE(send_once_to_a_dead_port_hands_the_message_back,
                        machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::send_once_right once = require(p.receive.make_send_once());
  p.receive.reset();
  BOOST_TEST(once.is_dead());
  std::optional<outcome> got;
  machport::async_send(io, std::move(once), machport::encode(numbered{4}), record(got));
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->ec == invalid_dest, got->ec.message());
  BOOST_TEST(got->number.value_or(~0ull) == 4u);
}

// Destroyed with sends waiting: no handler runs; every message, request and uref is released
// (the fixture checks the names; the messages carry a send right to a second port).
BOOST_FIXTURE_TEST_CASE(context_destroyed_with_sends_waiting, machport_test::leak_check) {
  port_pair p;
  port_pair carried;
  fill_to_limit_one(p);
  bool ran = false;
  {
    asio::io_context io;
    for (int i = 0; i < 2; ++i) {
      machport::message_builder b(1);
      b.add_port(machport::send_right(carried.send));
      machport::async_send(io, p.send, b.build(), [&](error_code, machport::message) { ran = true; });
    }
    io.poll();
    BOOST_TEST_REQUIRE(send_engine(io).waiting_destinations() == 1u);
  }
  BOOST_TEST(!ran);
  BOOST_TEST(require(carried.send.urefs()) == 1u);
  BOOST_TEST(require(p.send.urefs()) == 1u);
  BOOST_TEST(queued(p.receive) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
