// The kernel's notifications as asynchronous operations (async_notification.hpp): each wait
// completes on the kernel's notification, ignores forged ones, cancels cleanly, and leaves no
// name behind (xnu-ipc-semantics.md §3).
#include "async_util.hpp"

#include <support/leak_check.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <array>
#include <exception>
#include <future>
#include <optional>
#include <set>
#include <variant>

using namespace async_test;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// What a task can send that looks like a kernel notification (same id, same layout).
template <mach_msg_id_t Id>
struct forged_ndr {
  static constexpr mach_msg_id_t id = Id;
  std::array<std::uint8_t, 8> ndr{0, 0, 0, 0, 1, 0, 0, 0};
  std::uint32_t value;
};
struct forged_send_once {
  static constexpr mach_msg_id_t id = MACH_NOTIFY_SEND_ONCE;
};

// The names of this task's receive rights.
std::set<mach_port_name_t> receive_names() {
  std::set<mach_port_name_t> out;
  mach_port_name_array_t names = nullptr;
  mach_msg_type_number_t name_count = 0;
  mach_port_type_array_t types = nullptr;
  mach_msg_type_number_t type_count = 0;
  BOOST_TEST_REQUIRE(mach_port_names(mach_task_self(), &names, &name_count, &types,
                                     &type_count) == KERN_SUCCESS);
  for (mach_msg_type_number_t i = 0; i < name_count && i < type_count; ++i) {
    if (types[i] & MACH_PORT_TYPE_RECEIVE) out.insert(names[i]);
  }
  vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(names),
                name_count * sizeof(*names));
  vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(types),
                type_count * sizeof(*types));
  return out;
}

// The one receive right made since `before`: a wait's notify port.
mach_port_name_t new_receive_name(const std::set<mach_port_name_t>& before) {
  std::set<mach_port_name_t> now = receive_names();
  std::optional<mach_port_name_t> found;
  for (mach_port_name_t n : now) {
    if (!before.contains(n)) {
      BOOST_TEST_REQUIRE(!found.has_value());
      found = n;
    }
  }
  BOOST_TEST_REQUIRE(found.has_value());
  return *found;
}

// A send right to the notify port `name`, as a forger in this task could make one.
machport::send_right forge_send_right(mach_port_name_t name) {
  BOOST_TEST_REQUIRE(mach_port_insert_right(mach_task_self(), name, name,
                                            MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  return machport::send_right::adopt(name);
}

// Runs ready work until `port` holds no message and nothing is ready.
void run_until_taken(asio::io_context& io, mach_port_name_t port) {
  for (int i = 0; i < 100; ++i) {
    mach_port_status_t status{};
    mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
    BOOST_TEST_REQUIRE(mach_port_get_attributes(mach_task_self(), port, MACH_PORT_RECEIVE_STATUS,
                                                reinterpret_cast<mach_port_info_t>(&status),
                                                &count) == KERN_SUCCESS);
    if (status.mps_msgcount == 0) break;
    io.poll();
  }
  io.poll();
}

mach_port_urefs_t dead_urefs(const machport::send_right& r) {
  mach_port_urefs_t refs = 0;
  BOOST_TEST_REQUIRE(mach_port_get_refs(mach_task_self(), r.name(), MACH_PORT_RIGHT_DEAD_NAME,
                                        &refs) == KERN_SUCCESS);
  return refs;
}

bool is_dead(const machport::send_right& r) {
  mach_port_type_t type = 0;
  return mach_port_type(mach_task_self(), r.name(), &type) == KERN_SUCCESS &&
         (type & MACH_PORT_TYPE_DEAD_NAME) != 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(notification_wait_tests)

// ---- no-senders ----------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(no_senders_fires_when_the_last_send_right_goes, machport_test::leak_check) {
  asio::io_context io;
  machport::receive_port port(io, require(machport::receive_right::allocate()));
  std::optional<machport::send_right> s1(require(port.right().make_send()));
  std::optional<machport::send_right> s2(require(port.right().make_send()));
  std::optional<error_code> got;
  mach_port_mscount_t mscount = 0;
  machport::async_wait_no_senders(port, [&](error_code ec, machport::no_senders_notification n) {
    got = ec;
    mscount = n.mscount;
  });
  BOOST_TEST(!got);  // never inside the initiating function
  io.poll();
  s1.reset();
  io.poll();
  BOOST_TEST(!got);  // one sender left
  s2.reset();
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
  BOOST_TEST(mscount == 2u);
}

BOOST_FIXTURE_TEST_CASE(no_senders_with_none_fires_at_once, machport_test::leak_check) {
  asio::io_context io;
  machport::receive_port port(io, require(machport::receive_right::allocate()));
  std::optional<error_code> got;
  machport::async_wait_no_senders(port, [&](error_code ec, machport::no_senders_notification) {
    got = ec;
  });
  BOOST_TEST(!got);
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
}

BOOST_FIXTURE_TEST_CASE(no_senders_aborts_when_the_port_is_closed, machport_test::leak_check) {
  asio::io_context io;
  machport::receive_port port(io, require(machport::receive_right::allocate()));
  std::optional<machport::send_right> s(require(port.right().make_send()));
  std::optional<error_code> got;
  machport::async_wait_no_senders(port, [&](error_code ec, machport::no_senders_notification) {
    got = ec;
  });
  io.poll();
  port.close();  // the armed request's send-once right is destroyed: send-once notification
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST((*got == asio::error::operation_aborted), got->message());
}

BOOST_FIXTURE_TEST_CASE(no_senders_on_a_closed_port_fails, machport_test::leak_check) {
  asio::io_context io;
  machport::receive_port port(io);
  std::optional<error_code> got;
  machport::async_wait_no_senders(port, [&](error_code ec, machport::no_senders_notification) {
    got = ec;
  });
  BOOST_TEST(!got);  // posted, even for an error found at launch
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST((*got == machport::make_kern_error(KERN_INVALID_NAME)), got->message());
}

BOOST_FIXTURE_TEST_CASE(forged_no_senders_is_ignored, machport_test::leak_check) {
  asio::io_context io;
  machport::receive_port port(io, require(machport::receive_right::allocate()));
  std::optional<machport::send_right> s(require(port.right().make_send()));
  std::optional<error_code> got;
  mach_port_mscount_t mscount = 0;
  const std::set<mach_port_name_t> before = receive_names();
  machport::async_wait_no_senders(port, [&](error_code ec, machport::no_senders_notification n) {
    got = ec;
    mscount = n.mscount;
  });
  const mach_port_name_t notify = new_receive_name(before);
  io.poll();
  {
    machport::send_right forger = forge_send_right(notify);
    require(machport::send(forger,
                           machport::encode(forged_ndr<MACH_NOTIFY_NO_SENDERS>{.value = 42})));
    run_until_taken(io, notify);
    BOOST_TEST(!got);  // released and ignored
  }  // the forger's right goes before the notify port does
  s.reset();
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
  BOOST_TEST(mscount == 1u);
}

// ---- dead-name -----------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(dead_name_fires_when_the_receive_right_is_destroyed,
                        machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  std::optional<error_code> got;
  machport::async_wait_dead_name(p.send, io, [&](error_code ec) { got = ec; });
  BOOST_TEST(!got);
  io.poll();
  BOOST_TEST(!got);
  p.receive.reset();
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
  // Only the caller's own uref is left: the notification's was released.
  BOOST_TEST(dead_urefs(p.send) == 1u);
}

BOOST_FIXTURE_TEST_CASE(dead_name_on_a_dead_right_completes_at_once, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  p.receive.reset();
  std::optional<error_code> got;
  machport::async_wait_dead_name(p.send, io.get_executor(), [&](error_code ec) { got = ec; });
  BOOST_TEST(!got);
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
  BOOST_TEST(dead_urefs(p.send) == 1u);
}

BOOST_FIXTURE_TEST_CASE(dead_name_replaced_by_another_request_aborts, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  std::optional<error_code> got;
  machport::async_wait_dead_name(p.send, io, [&](error_code ec) { got = ec; });
  io.poll();
  {
    machport::receive_right other = require(machport::receive_right::allocate());
    // The name's one slot: the wait's request comes back, and is dropped at once.
    machport::send_once_right previous = require(machport::request_dead_name(p.send, other));
    BOOST_TEST(previous.valid());
    previous.reset();
    io.run();
    BOOST_TEST_REQUIRE(got.has_value());
    BOOST_TEST((*got == asio::error::operation_aborted), got->message());
    // The replacing request is still in place (the wait did not cancel it).
    machport::send_once_right mine = require(machport::cancel_dead_name(p.send.name()));
    BOOST_TEST(mine.valid());
    mine.reset();
    auto n = require(machport::receive(other, {.timeout = std::chrono::milliseconds::zero()}));
    BOOST_TEST(n.id() == MACH_NOTIFY_SEND_ONCE);
  }
}

BOOST_FIXTURE_TEST_CASE(forged_dead_name_is_ignored_and_adopts_nothing, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  std::optional<error_code> got;
  const std::set<mach_port_name_t> before = receive_names();
  machport::async_wait_dead_name(p.send, io, [&](error_code ec) { got = ec; });
  const mach_port_name_t notify = new_receive_name(before);
  io.poll();
  machport::send_right extra = require(p.receive.make_send());
  {
    machport::send_right forger = forge_send_right(notify);
    require(machport::send(
        forger, machport::encode(forged_ndr<MACH_NOTIFY_DEAD_NAME>{.value = p.send.name()})));
    require(machport::send(forger, machport::encode(forged_send_once{})));
    require(machport::send(
        forger, machport::encode(forged_ndr<MACH_NOTIFY_PORT_DELETED>{.value = p.send.name()})));
    run_until_taken(io, notify);
    BOOST_TEST(!got);
  }
  mach_port_urefs_t refs = 0;
  BOOST_TEST_REQUIRE(mach_port_get_refs(mach_task_self(), p.send.name(), MACH_PORT_RIGHT_SEND,
                                        &refs) == KERN_SUCCESS);
  BOOST_TEST(refs == 2u);  // nothing released on a forger's word
  p.receive.reset();
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
  BOOST_TEST(dead_urefs(p.send) == 2u);  // the caller's two; the notification's was released
}

// ---- port-destroyed ------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(port_destroyed_hands_the_right_back, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  machport::receive_right lent = std::move(p.receive);
  std::optional<error_code> got;
  machport::receive_right back;
  machport::async_wait_port_destroyed(lent, io, [&](error_code ec, machport::receive_right r) {
    got = ec;
    back = std::move(r);
  });
  io.poll();
  send_number(p.send, 5);
  lent.reset();  // would kill the port; the kernel hands it back instead
  BOOST_TEST(!is_dead(p.send));
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
  BOOST_TEST_REQUIRE(back.valid());
  BOOST_TEST(number_of(require(machport::receive(back))) == 5u);  // its messages stayed
  back.reset();
  BOOST_TEST(is_dead(p.send));
}

BOOST_FIXTURE_TEST_CASE(forged_port_destroyed_is_released, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  std::optional<error_code> got;
  machport::receive_right back;
  const std::set<mach_port_name_t> before = receive_names();
  machport::async_wait_port_destroyed(p.receive, io, [&](error_code ec, machport::receive_right r) {
    got = ec;
    back = std::move(r);
  });
  const mach_port_name_t notify = new_receive_name(before);
  io.poll();
  {
    machport::send_right forger = forge_send_right(notify);
    port_pair decoy;
    require(machport::send(forger, machport::encode(machport::port_destroyed_notification{
                                       std::move(decoy.receive)})));
    run_until_taken(io, notify);
    BOOST_TEST(!got);
    BOOST_TEST(is_dead(decoy.send));  // the forged message's right was destroyed
  }
  p.receive.reset();
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
  BOOST_TEST(back.valid());
}

// ---- send-once -----------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(send_once_fires_when_the_holder_drops_the_right,
                        machport_test::leak_check) {
  asio::io_context io;
  machport::receive_port port(io, require(machport::receive_right::allocate()));
  machport::send_once_right reply = require(port.right().make_send_once());
  std::optional<error_code> got;
  machport::send_once_outcome outcome;
  machport::async_wait_send_once(port, [&](error_code ec, machport::send_once_outcome o) {
    got = ec;
    outcome = std::move(o);
  });
  io.poll();
  BOOST_TEST(!got);
  reply.reset();  // dropped without a reply
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
  BOOST_TEST(std::holds_alternative<machport::send_once_notification>(outcome));
}

BOOST_FIXTURE_TEST_CASE(send_once_used_delivers_the_message_and_ignores_forgeries,
                        machport_test::leak_check) {
  asio::io_context io;
  machport::receive_port port(io, require(machport::receive_right::allocate()));
  machport::send_once_right reply = require(port.right().make_send_once());
  machport::send_right forger = require(port.right().make_send());
  std::optional<error_code> got;
  machport::send_once_outcome outcome;
  machport::async_wait_send_once(port, [&](error_code ec, machport::send_once_outcome o) {
    got = ec;
    outcome = std::move(o);
  });
  io.poll();
  require(machport::send(forger, machport::encode(forged_send_once{})));
  run_until_taken(io, port.native_handle());
  BOOST_TEST(!got);
  require(machport::send(std::move(reply), machport::encode(numbered{9})));
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
  BOOST_TEST_REQUIRE(std::holds_alternative<machport::message>(outcome));
  BOOST_TEST(number_of(std::move(std::get<machport::message>(outcome))) == 9u);
}

// ---- cancellation --------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(cancelling_no_senders_cancels_the_request, machport_test::leak_check) {
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                    asio::cancellation_type::total}) {
    asio::io_context io;
    machport::receive_port port(io, require(machport::receive_right::allocate()));
    std::optional<machport::send_right> s(require(port.right().make_send()));
    asio::cancellation_signal signal;
    std::optional<error_code> got;
    auto handler = [&](error_code ec, machport::no_senders_notification) { got = ec; };
    machport::async_wait_no_senders(port, asio::bind_cancellation_slot(signal.slot(), handler));
    io.poll();
    signal.emit(type);
    io.run();
    BOOST_TEST_REQUIRE(got.has_value());
    BOOST_TEST((*got == asio::error::operation_aborted), got->message());
    // No request is left: a new one hands nothing back.
    machport::receive_right probe = require(machport::receive_right::allocate());
    machport::send_once_right previous =
        require(machport::request_no_senders(port.right(), 0, probe));
    BOOST_TEST(!previous.valid());
    previous = require(machport::cancel_no_senders(port.right()));
    previous.reset();
    s.reset();
  }
}

BOOST_FIXTURE_TEST_CASE(cancelling_dead_name_cancels_the_request, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  asio::cancellation_signal signal;
  std::optional<error_code> got;
  machport::async_wait_dead_name(
      p.send, io, asio::bind_cancellation_slot(signal.slot(), [&](error_code ec) { got = ec; }));
  io.poll();
  signal.emit(asio::cancellation_type::partial);
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST((*got == asio::error::operation_aborted), got->message());
  p.receive.reset();
  BOOST_TEST(dead_urefs(p.send) == 1u);  // no request was left to add one
}

BOOST_FIXTURE_TEST_CASE(cancelling_port_destroyed_leaves_the_port_to_die,
                        machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  asio::cancellation_signal signal;
  std::optional<error_code> got;
  machport::receive_right back;
  machport::async_wait_port_destroyed(
      p.receive, io,
      asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, machport::receive_right r) {
        got = ec;
        back = std::move(r);
      }));
  io.poll();
  signal.emit(asio::cancellation_type::total);
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST((*got == asio::error::operation_aborted), got->message());
  BOOST_TEST(!back.valid());
  // The request is still armed, but its notify port is gone: the port dies as if it were not.
  p.receive.reset();
  BOOST_TEST(is_dead(p.send));
}

BOOST_FIXTURE_TEST_CASE(cancelling_after_port_destroyed_fired_still_hands_the_right_back,
                        machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  asio::cancellation_signal signal;
  std::optional<error_code> got;
  machport::receive_right back;
  machport::async_wait_port_destroyed(
      p.receive, io,
      asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, machport::receive_right r) {
        got = ec;
        back = std::move(r);
      }));
  io.poll();
  p.receive.reset();  // the notification is queued, not yet taken
  signal.emit(asio::cancellation_type::terminal);
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
  BOOST_TEST(back.valid());
  BOOST_TEST(!is_dead(p.send));
}

BOOST_FIXTURE_TEST_CASE(cancelling_send_once_wait_keeps_the_notification,
                        machport_test::leak_check) {
  asio::io_context io;
  machport::receive_port port(io, require(machport::receive_right::allocate()));
  machport::send_once_right reply = require(port.right().make_send_once());
  asio::cancellation_signal signal;
  std::optional<error_code> got;
  machport::async_wait_send_once(
      port, asio::bind_cancellation_slot(
                signal.slot(), [&](error_code ec, machport::send_once_outcome) { got = ec; }));
  io.poll();
  signal.emit(asio::cancellation_type::terminal);
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST((*got == asio::error::operation_aborted), got->message());
  reply.reset();
  BOOST_TEST(queued(port.right()) == 1u);  // the port's to receive; closing it destroys it
}

// ---- launch and teardown -------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(a_deferred_wait_does_nothing_until_launched, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  const std::set<mach_port_name_t> before = receive_names();
  {
    auto never = machport::async_wait_dead_name(p.send, io, asio::deferred);
    BOOST_TEST((receive_names() == before));
  }
  auto op = machport::async_wait_dead_name(p.send, io, asio::deferred);
  std::optional<error_code> got;
  std::move(op)([&](error_code ec) { got = ec; });
  io.poll();
  p.receive.reset();
  io.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(!*got, got->message());
}

BOOST_FIXTURE_TEST_CASE(context_destroyed_while_waiting, machport_test::leak_check) {
  port_pair dying;     // its dead-name notification is queued when the context goes
  port_pair watched;   // nothing happens to it
  port_pair lent;      // port-destroyed armed
  std::optional<machport::send_right> sender;
  bool ran = false;
  {
    asio::io_context io;
    machport::receive_port port(io, require(machport::receive_right::allocate()));
    sender.emplace(require(port.right().make_send()));
    machport::receive_port replies(io, require(machport::receive_right::allocate()));
    machport::send_once_right reply = require(replies.right().make_send_once());
    machport::async_wait_no_senders(
        port, [&](error_code, machport::no_senders_notification) { ran = true; });
    machport::async_wait_dead_name(dying.send, io, [&](error_code) { ran = true; });
    machport::async_wait_dead_name(watched.send, io, [&](error_code) { ran = true; });
    machport::async_wait_port_destroyed(lent.receive, io,
                                        [&](error_code, machport::receive_right) { ran = true; });
    machport::async_wait_send_once(replies,
                                   [&](error_code, machport::send_once_outcome) { ran = true; });
    io.poll();
    dying.receive.reset();
  }  // the ports close first (the no-senders request drops), then the context
  BOOST_TEST(!ran);
  BOOST_TEST(dead_urefs(dying.send) == 1u);  // the queued notification's uref was released
  mach_port_type_t type = 0;
  BOOST_TEST_REQUIRE(mach_port_type(mach_task_self(), watched.send.name(), &type) == KERN_SUCCESS);
  BOOST_TEST((type & MACH_PORT_TYPE_DNREQUEST) == 0u);  // the request was cancelled
  lent.receive.reset();
  BOOST_TEST(is_dead(lent.send));
  sender.reset();
}

BOOST_FIXTURE_TEST_CASE(co_await_with_a_timeout_and_use_future, machport_test::leak_check) {
  asio::io_context io;
  port_pair p;
  std::exception_ptr failure;
  bool finished = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        // The timer wins (the port lives): the wait is cancelled (terminal) and cleans up.
        asio::steady_timer timer(io, std::chrono::steady_clock::now());
        auto first = co_await (machport::async_wait_dead_name(p.send, io, asio::use_awaitable) ||
                               timer.async_wait(asio::use_awaitable));
        BOOST_TEST(first.index() == 1u);
        p.receive.reset();
        auto [ec] = co_await machport::async_wait_dead_name(p.send, io,
                                                            asio::as_tuple(asio::use_awaitable));
        BOOST_TEST(!ec, ec.message());
        finished = true;
      },
      [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
  BOOST_TEST(finished);
  BOOST_TEST(dead_urefs(p.send) == 1u);

  io.restart();
  machport::receive_port port(io, require(machport::receive_right::allocate()));
  std::future<machport::no_senders_notification> f =
      machport::async_wait_no_senders(port, asio::use_future);
  io.run();
  BOOST_TEST(f.get().mscount == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
