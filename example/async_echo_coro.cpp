// An echo server and its client in one program, with C++20 coroutines: one io_context, one
// thread. The server owns a receive_port and answers each request through the reply port the
// request carries; the client sends requests one at a time and co_awaits each reply with a
// timeout. Exits 0 when every reply came back.
#include <machport/asio.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <variant>

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

// Typed messages: plain aggregates (machport/typed.hpp).
struct echo_request {
  static constexpr mach_msg_id_t id = 300;
  std::uint32_t seq;
  machport::reply_port reply_to;  // travels in the header: where the answer goes
};

struct echo_reply {
  static constexpr mach_msg_id_t id = 301;
  std::uint32_t seq;
};

// Answers every request until cancelled. The port belongs to the coroutine: when it returns,
// the receive right is destroyed (the clients' send rights become dead names).
asio::awaitable<void> serve(machport::receive_port port) {
  for (;;) {
    // as_tuple: an error comes back as a value instead of an exception.
    auto [ec, request] =
        co_await port.async_receive<echo_request>(asio::as_tuple(asio::use_awaitable));
    if (ec.category() == machport::message_category()) {
      // Not an echo_request: it was released, rights and all.
      std::printf("server: dropped a message: %s\n", ec.message().c_str());
      continue;
    }
    if (ec) {  // cancelled (operation_aborted), or the port failed: stop serving
      if (ec != asio::error::operation_aborted) std::printf("server: %s\n", ec.message().c_str());
      co_return;
    }
    // The reply right is a send-once right, which no queue limit applies to: this send does
    // not wait, and the zero timeout makes sure the event loop's thread never blocks.
    auto sent = machport::send(std::move(request.reply_to),
                               machport::encode(echo_reply{request.seq}), 0ms);
    if (!sent) std::printf("server: reply failed: %s\n", sent.error().message().c_str());
  }
}

// Sends `count` requests to `server`, one at a time, and waits at most a second for each
// reply. Returns 0 when every reply came back in order, 1 otherwise. It reports failure by
// its result, never by throwing: `||` in main waits for an operand that succeeds, so a client
// that threw would leave the server running.
asio::awaitable<int> client(machport::send_right server, std::uint32_t count) {
  auto executor = co_await asio::this_coro::executor;
  auto right = machport::receive_right::allocate();
  if (!right) {
    std::printf("client: no reply port: %s\n", right.error().message().c_str());
    co_return 1;
  }
  machport::receive_port replies(executor, std::move(right).value());
  asio::steady_timer timer(executor);

  for (std::uint32_t seq = 1; seq <= count; ++seq) {
    // The kernel makes the send-once reply right in the send (MAKE_SEND_ONCE in the header).
    echo_request request{seq, machport::reply_port::make_send_once(replies.right())};
    // One request in flight at a time: the server's queue (5 messages by default) never
    // fills, and a zero timeout turns a full queue into an error instead of a blocked loop.
    auto sent = machport::send(server, machport::encode(std::move(request)), 0ms);
    if (!sent) {
      std::printf("client: send failed: %s\n", sent.error().message().c_str());
      co_return 1;
    }

    // A timeout with awaitable operators: `||` completes with the first operand that
    // succeeds and cancels the other.
    // Pitfall: a reply that arrives as the timer fires may already be taken by the receive
    // when it is cancelled. The receive then succeeds too, and `||` destroys its result (the
    // message and every right in it). Harmless here: a reply after its timeout counts as
    // lost. Where a message must never be lost, use
    // asio::experimental::make_parallel_group(...).async_wait(wait_for_one(), ...), which
    // hands back both results, or cancel the receive from the timer's handler and take its
    // result with as_tuple (async_echo_callbacks.cpp does): a receive cancelled before it took
    // a message completes with operation_aborted and leaves the message in the port.
    timer.expires_after(1s);
    auto reply = co_await (replies.async_receive<echo_reply>(asio::use_awaitable) ||
                           timer.async_wait(asio::use_awaitable));
    if (reply.index() == 1) {
      std::printf("client: no reply to request %u within 1 s\n", seq);
      co_return 1;
    }
    if (std::get<0>(reply).seq != seq) {
      std::printf("client: reply %u to request %u\n", std::get<0>(reply).seq, seq);
      co_return 1;
    }
    std::printf("client: reply %u\n", seq);
  }

  // Nothing else may come: a receive raced against a short timer times out (the timer wins
  // and `||` cancels the receive).
  timer.expires_after(20ms);
  auto extra = co_await (replies.async_receive(asio::use_awaitable) ||
                         timer.async_wait(asio::use_awaitable));
  if (extra.index() == 0) {
    std::printf("client: unexpected message, id %d\n", std::get<0>(extra).id());
    co_return 1;
  }
  std::printf("client: %u replies, then nothing for 20 ms\n", count);
  co_return 0;
}

int main() {
  asio::io_context io;

  // The server's port, and a send right to it for the client.
  machport::port_options options;
  options.insert_send_right = true;
  auto port = machport::receive_right::construct(options).value();  // throws on error

  // `||` runs both coroutines and, when one of them succeeds, cancels the other: the client's
  // end stops the server (its pending async_receive completes with operation_aborted).
  int status = 1;
  asio::co_spawn(io,
                 serve(machport::receive_port(io, std::move(port.receive))) ||
                     client(std::move(port.send), 10),
                 [&](std::exception_ptr error, std::variant<std::monostate, int> result) {
                   if (!error && result.index() == 1) status = std::get<1>(result);
                 });
  io.run();
  return status;
}
