// The echo server and client of async_echo_coro.cpp, with completion handlers instead of
// coroutines: one io_context, one thread. The server owns a receive_port and answers each
// request through the reply port the request carries; the client sends requests one at a time
// and waits for each reply with a timeout. Exits 0 when every reply came back.
#include <machport/asio.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <utility>

namespace asio = boost::asio;
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

// Answers every request until stop().
class echo_server {
 public:
  echo_server(asio::io_context& io, machport::receive_right right) : port_(io, std::move(right)) {}

  void start() {
    port_.async_receive<echo_request>([this](boost::system::error_code ec, echo_request request) {
      if (!port_.is_open()) return;  // stopped (a request taken just before is dropped)
      if (ec.category() == machport::message_category()) {
        // Not an echo_request: it was released, rights and all.
        std::printf("server: dropped a message: %s\n", ec.message().c_str());
      } else if (ec) {  // the port failed: stop serving
        std::printf("server: %s\n", ec.message().c_str());
        return;
      } else {
        // The reply right is a send-once right, which no queue limit applies to: this send
        // does not wait, and the zero timeout makes sure the event loop's thread never blocks.
        auto sent = machport::send(std::move(request.reply_to),
                                   machport::encode(echo_reply{request.seq}), 0ms);
        if (!sent) std::printf("server: reply failed: %s\n", sent.error().message().c_str());
      }
      start();  // the next request
    });
  }

  // The pending receive completes with operation_aborted, and the receive right is destroyed
  // (the clients' send rights become dead names).
  void stop() { port_.close(); }

 private:
  machport::receive_port port_;
};

// Sends `count` requests to `server`, one at a time, and waits at most a second for each
// reply, then checks that nothing else comes. Calls done(true) when every reply came back in
// order, done(false) on the first failure.
class echo_client {
 public:
  echo_client(asio::io_context& io, machport::send_right server, std::uint32_t count,
              std::function<void(bool)> done)
      : server_(std::move(server)), replies_(io), timer_(io), count_(count), done_(std::move(done)) {}

  void start() {
    auto right = machport::receive_right::allocate();
    if (!right) {
      std::printf("client: no reply port: %s\n", right.error().message().c_str());
      return done_(false);
    }
    replies_.assign(std::move(right).value());
    send_next();
  }

 private:
  void send_next() {
    if (seq_ == count_) return expect_nothing();
    ++seq_;
    // The kernel makes the send-once reply right in the send (MAKE_SEND_ONCE in the header).
    echo_request request{seq_, machport::reply_port::make_send_once(replies_.right())};
    // One request in flight at a time: the server's queue (5 messages by default) never
    // fills, and a zero timeout turns a full queue into an error instead of a blocked loop.
    auto sent = machport::send(server_, machport::encode(std::move(request)), 0ms);
    if (!sent) {
      std::printf("client: send failed: %s\n", sent.error().message().c_str());
      return done_(false);
    }
    cancel_receive_after(1s);
    replies_.async_receive<echo_reply>([this](boost::system::error_code ec, echo_reply reply) {
      timer_.cancel();
      // operation_aborted: the timeout. Or a message that is not an echo_reply, such as the
      // kernel's send-once notification when the server drops a request unanswered.
      if (ec) {
        std::printf("client: no reply to request %u: %s\n", seq_, ec.message().c_str());
        return done_(false);
      }
      if (reply.seq != seq_) {
        std::printf("client: reply %u to request %u\n", reply.seq, seq_);
        return done_(false);
      }
      std::printf("client: reply %u\n", seq_);
      send_next();
    });
  }

  // Nothing else may come: this receive is cancelled by its timeout.
  void expect_nothing() {
    cancel_receive_after(20ms);
    replies_.async_receive([this](boost::system::error_code ec, machport::message msg) {
      timer_.cancel();
      if (!ec) {
        std::printf("client: unexpected message, id %d\n", msg.id());
        return done_(false);
      }
      if (ec != asio::error::operation_aborted) {
        std::printf("client: receive failed: %s\n", ec.message().c_str());
        return done_(false);
      }
      std::printf("client: %u replies, then nothing for 20 ms\n", count_);
      done_(true);
    });
  }

  // A timeout that never loses a message: the timer cancels the pending receive. A receive
  // that has not taken a message yet completes with operation_aborted and the message, if one
  // comes later, stays in the port; one that has completes with the message. The timer's
  // handler may already be queued when the receive's handler cancels the timer and starts the
  // next receive: the generation number tells that stale expiry apart.
  void cancel_receive_after(std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([this, generation = ++generation_](boost::system::error_code ec) {
      if (!ec && generation == generation_) replies_.cancel();
    });
  }

  machport::send_right server_;
  machport::receive_port replies_;
  asio::steady_timer timer_;
  std::uint32_t count_;
  std::uint32_t seq_ = 0;
  std::uint64_t generation_ = 0;
  std::function<void(bool)> done_;
};

int main() {
  asio::io_context io;

  // The server's port, and a send right to it for the client.
  machport::port_options options;
  options.insert_send_right = true;
  auto port = machport::receive_right::construct(options).value();  // throws on error

  echo_server server(io, std::move(port.receive));
  bool ok = false;
  echo_client client(io, std::move(port.send), 10, [&](bool success) {
    ok = success;
    server.stop();  // nothing is left pending: run() returns
  });
  server.start();
  client.start();
  io.run();
  return ok ? 0 : 1;
}
