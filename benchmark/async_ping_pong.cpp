// Request/reply through the Asio layer, against hand-written Mach code doing the same work.
//
// Two threads (ping_pong_threads): a client thread sends a request carrying a reply port
// (MAKE_SEND_ONCE in the header) and waits for the reply; a server thread in a task of its own
// answers it. The client is the same hand-written loop in every variant; the server is
//  - raw: a blocking mach_msg receive, then the reply: the raw mach_msg floor;
//  - kqueue: hand-written event loop: an EVFILT_MACHPORT knote with EV_DISPATCH, a kevent64
//    wait, a zero-timeout mach_msg receive, the reply, EV_ENABLE. What an event loop must do
//    without machport: the baseline of the asynchronous variants;
//  - sync: machport's synchronous loop idiom (receive(port, msg), decode, encode, send);
//  - callbacks: an io_context running a receive_port whose handler answers and starts the next
//    async_receive with the message it was given (storage reused);
//  - coroutine: the same as a use_awaitable coroutine (co_await async_receive in a loop).
// The round trip is dominated by waking the other thread (tens of µs on this machine, and
// noisy), so the framework cost also gets measured on one thread (ping_pong_one_thread): both
// ends in one task, on one io_context, the server's handler answering the client's request and
// the client's handler taking the reply; the floor there is the four mach_msg calls, the
// baseline a hand-written kqueue loop with both knotes.
//
// Targets: framework cost ≤ 250 ns per message over the hand-written equivalent (the raw
// floor for sync; the kqueue loop for callbacks and coroutines): a threaded round trip has one
// message received and one sent by the server, the one-thread round trip two of each (target
// 500 ns per round trip). Kernel calls = the hand-written equivalent; allocations ≤ it.
#include "bench_support.hpp"
#include "raw_mach.hpp"

#include <machport/asio.hpp>
#include <machport/receive.hpp>
#include <machport/receive_right.hpp>
#include <machport/reply_port.hpp>
#include <machport/send.hpp>
#include <machport/typed.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/event.h>
#include <unistd.h>

#if MACHPORT_EMULATED
#include <servers/bootstrap.h>
#endif

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <future>
#include <string>
#include <thread>

namespace {

namespace asio = boost::asio;

// The README's messages.
struct ping {
  static constexpr mach_msg_id_t id = 100;
  std::uint64_t seq;
  machport::reply_port reply_to;
  std::array<char, 16> text;
};

struct pong {
  static constexpr mach_msg_id_t id = 101;
  std::uint64_t seq;
};

constexpr mach_msg_id_t stop_id = 199;

// The same messages written by hand, with the layout encode() gives them.
struct raw_ping {
  mach_msg_header_t header;  // the reply port in msgh_local_port
  std::uint64_t seq;
  std::array<char, 16> text;
};
static_assert(offsetof(raw_ping, seq) == 24 && sizeof(raw_ping) == machport::encoded_size<ping>());

struct raw_pong {
  mach_msg_header_t header;
  std::uint64_t seq;
};
static_assert(sizeof(raw_pong) == 32);

// ---- hand-written parts -----------------------------------------------------------------------

// Sends a ping to `server` (COPY_SEND) with a send-once right to `reply` made in the send.
bool send_raw_ping(mach_port_name_t server, mach_port_name_t reply, std::uint64_t seq) {
  raw_ping request{};
  request.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
  request.header.msgh_size = sizeof request;
  request.header.msgh_remote_port = server;
  request.header.msgh_local_port = reply;
  request.header.msgh_id = ping::id;
  request.seq = seq;
  std::memcpy(request.text.data(), "hello", 6);
  return mach_msg(&request.header, MACH_SEND_MSG, sizeof request, 0, MACH_PORT_NULL,
                  MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) == MACH_MSG_SUCCESS;
}

// Answers the ping in `in` through its send-once right; false (the message destroyed) if it is
// not a ping (the stop message) or the reply fails.
bool answer_raw(machport_bench::raw::buffer& in) {
  const auto* request = reinterpret_cast<const raw_ping*>(in.bytes());
  if (request->header.msgh_id != ping::id || request->header.msgh_size != sizeof(raw_ping) ||
      MACH_MSGH_BITS_REMOTE(request->header.msgh_bits) != MACH_MSG_TYPE_PORT_SEND_ONCE) {
    mach_msg_destroy(in.header());
    return false;
  }
  raw_pong reply{};
  reply.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
  reply.header.msgh_size = sizeof reply;
  reply.header.msgh_remote_port = request->header.msgh_remote_port;
  reply.header.msgh_id = pong::id;
  reply.seq = request->seq;
  if (mach_msg(&reply.header, MACH_SEND_MSG, sizeof reply, 0, MACH_PORT_NULL,
               MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) != MACH_MSG_SUCCESS) {
    mach_port_deallocate(mach_task_self(), request->header.msgh_remote_port);
    return false;
  }
  return true;
}

// Receives into `in` from `port`: blocking, or (poll) with a zero timeout, as an event loop
// does after the kqueue said the port has a message.
bool receive_raw(machport_bench::raw::buffer& in, mach_port_name_t port, bool poll) {
  return mach_msg(in.header(), MACH_RCV_MSG | (poll ? MACH_RCV_TIMEOUT : 0), 0, in.size(), port,
                  poll ? 0 : MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) == MACH_MSG_SUCCESS;
}

bool is_pong(machport_bench::raw::buffer& in, std::uint64_t seq) {
  const auto* reply = reinterpret_cast<const raw_pong*>(in.bytes());
  return reply->header.msgh_id == pong::id && reply->seq == seq;
}

// A kqueue of EVFILT_MACHPORT knotes with EV_DISPATCH, as a hand-written event loop keeps.
class raw_kqueue {
 public:
  raw_kqueue() : fd_(kqueue()) {}
  ~raw_kqueue() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_kqueue(const raw_kqueue&) = delete;
  raw_kqueue& operator=(const raw_kqueue&) = delete;

  bool valid() const { return fd_ >= 0; }
  bool add(mach_port_name_t port) { return change(port, EV_ADD | EV_DISPATCH); }
  bool enable(mach_port_name_t port) { return change(port, EV_ENABLE | EV_DISPATCH); }
  // Waits for one event (a guard timeout turns a lost one into a failure); returns its port.
  mach_port_name_t wait() {
    const struct timespec timeout = {10, 0};
    struct kevent64_s event {};
    if (kevent64(fd_, nullptr, 0, &event, 1, 0, &timeout) != 1) return MACH_PORT_NULL;
    return static_cast<mach_port_name_t>(event.ident);
  }

 private:
  bool change(mach_port_name_t port, std::uint16_t flags) {
    struct kevent64_s ch {};
    EV_SET64(&ch, port, EVFILT_MACHPORT, flags, 0, 0, 0, 0, 0);
    return kevent64(fd_, &ch, 1, nullptr, 0, 0, nullptr) == 0;
  }
  int fd_;
};

// ---- servers ----------------------------------------------------------------------------------

// A thread serving requests on a port of its own as a task of its own, until a message that is
// not a ping arrives. `send_name()` is this task's send right to that port.
class server {
 public:
  // serve(receive_name) owns the receive right and destroys it before returning.
  server(const char* name, void (*serve)(mach_port_name_t)) : task_(name) {
    static std::atomic<int> instances{0};
    const std::string service = std::string("machport.bench.async.") + name + "." +
                                std::to_string(instances.fetch_add(1));
    std::promise<mach_port_name_t> ready;
    auto receive_name = ready.get_future();
    thread_ = std::thread([this, service, serve, ready = std::move(ready)]() mutable {
      auto scope = task_.enter();
      (void)scope;
      mach_port_name_t port = MACH_PORT_NULL;
#if MACHPORT_EMULATED
      if (bootstrap_check_in(bootstrap_port, service.c_str(), &port) != KERN_SUCCESS) {
        port = MACH_PORT_NULL;
      }
#else
      if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port) != KERN_SUCCESS) {
        port = MACH_PORT_NULL;
      }
#endif
      ready.set_value(port);
      if (port != MACH_PORT_NULL) serve(port);
    });
    const mach_port_name_t port = receive_name.get();
    if (port == MACH_PORT_NULL) return;
#if MACHPORT_EMULATED
    if (bootstrap_look_up(bootstrap_port, service.c_str(), &send_) != KERN_SUCCESS) {
      send_ = MACH_PORT_NULL;
    }
#else
    if (mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND) ==
        KERN_SUCCESS) {
      send_ = port;
    }
#endif
  }

  ~server() {
    if (send_ != MACH_PORT_NULL) {
      mach_msg_header_t stop{};
      stop.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
      stop.msgh_size = sizeof stop;
      stop.msgh_remote_port = send_;
      stop.msgh_id = stop_id;
      mach_msg(&stop, MACH_SEND_MSG, sizeof stop, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
               MACH_PORT_NULL);
    }
    thread_.join();
    if (send_ != MACH_PORT_NULL) mach_port_deallocate(mach_task_self(), send_);
  }

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  bool valid() const { return send_ != MACH_PORT_NULL; }
  mach_port_name_t send_name() const { return send_; }
  const machport_bench::bench_task& task() const { return task_; }

 private:
  machport_bench::bench_task task_;  // first: outlives the thread
  std::thread thread_;
  mach_port_name_t send_ = MACH_PORT_NULL;
};

void serve_raw(mach_port_name_t port) {
  machport_bench::raw::buffer in(sizeof(raw_ping));
  while (receive_raw(in, port, false) && answer_raw(in)) {
  }
  mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1);
}

void serve_kqueue(mach_port_name_t port) {
  {
    raw_kqueue kq;  // closed before the port is destroyed
    machport_bench::raw::buffer in(sizeof(raw_ping));
    if (kq.valid() && kq.add(port)) {
      while (kq.wait() == port && receive_raw(in, port, true) && answer_raw(in) &&
             kq.enable(port)) {
      }
    }
  }
  mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1);
}

// machport's answer to the request in `m`, in the loop idiom (decode in place, encode into the
// same message, send it: `m` keeps its buffer). False if `m` is not a ping or the reply fails.
bool answer(machport::message& m) {
  auto decoded = machport::decode<ping>(m);
  if (!decoded) return false;
  ping& request = decoded.value();
  machport::encode(pong{request.seq}, m);
  return machport::send(std::move(request.reply_to), std::move(m)).has_value();
}

void serve_sync(mach_port_name_t name) {
  auto port = machport::receive_right::adopt(name);
  machport::message m;
  while (machport::receive(port, m) && answer(m)) {
  }
}

// The server's completion handler: answers, then waits for the next request in the same
// message. Stops (no new operation: io_context::run returns) on anything but a ping.
class echo {
 public:
  explicit echo(machport::receive_port& port) : port_(&port) {}
  void operator()(boost::system::error_code ec, machport::message m) const {
    if (!ec && answer(m)) port_->async_receive(std::move(m), {}, echo(*this));
  }

 private:
  machport::receive_port* port_;
};

void serve_callbacks(mach_port_name_t name) {
  asio::io_context io;
  machport::receive_port port(io, machport::receive_right::adopt(name));
  port.async_receive(machport::message{}, {}, echo(port));
  io.run();
}

asio::awaitable<void> echo_loop(machport::receive_port& port) {
  machport::message m;
  for (;;) {
    auto [ec, received] =
        co_await port.async_receive(std::move(m), {}, asio::as_tuple(asio::use_awaitable));
    m = std::move(received);
    if (ec || !answer(m)) co_return;
  }
}

void serve_coroutine(mach_port_name_t name) {
  asio::io_context io;
  machport::receive_port port(io, machport::receive_right::adopt(name));
  asio::co_spawn(io, echo_loop(port), asio::detached);
  io.run();
}

// The client of every threaded variant: hand-written, so that only the server differs.
class raw_client {
 public:
  explicit raw_client(mach_port_name_t server) : server_(server), in_(sizeof(raw_pong)) {}

  bool operator()() {
    ++seq_;
    return send_raw_ping(server_, reply_port_.name(), seq_) &&
           receive_raw(in_, reply_port_.name(), false) && is_pong(in_, seq_);
  }

  bool valid() const { return reply_port_.valid(); }

 private:
  mach_port_name_t server_;
  machport_bench::raw::port reply_port_{false};
  machport_bench::raw::buffer in_;
  std::uint64_t seq_ = 0;
};

enum class variant { sync, callbacks, coroutine };

template <variant V>
void ping_pong_threads(benchmark::State& state) {
  server raw_server("raw", serve_raw);
  server kqueue_server("kqueue", serve_kqueue);
  server lib_server("machport", V == variant::sync        ? serve_sync
                                : V == variant::callbacks ? serve_callbacks
                                                          : serve_coroutine);
  if (!raw_server.valid() || !kqueue_server.valid() || !lib_server.valid()) {
    return machport_bench::fail(state, "cannot start the servers");
  }
  raw_client raw(raw_server.send_name());
  raw_client kq(kqueue_server.send_name());
  raw_client lib(lib_server.send_name());
  if (!raw.valid() || !kq.valid() || !lib.valid()) {
    return machport_bench::fail(state, "cannot set up the clients");
  }
  machport_bench::pair_options paired;
  paired.target.max_overhead_ns = 250;  // one message in and one out through the framework
  paired.b_tasks.also_counted = {&lib_server.task()};
  if constexpr (V == variant::sync) {
    paired.a_tasks.also_counted = {&raw_server.task()};
    machport_bench::run_paired(state, raw, lib, paired);
  } else {
    paired.a_name = "kqueue";
    paired.floor_name = "raw";
    paired.a_tasks.also_counted = {&kqueue_server.task()};
    paired.floor_tasks.also_counted = {&raw_server.task()};
    machport_bench::run_paired_with_floor(state, raw, kq, lib, paired);
  }
}

// ---- one thread: both ends in one task ----------------------------------------------------

// The floor: send the ping, receive it, answer it, receive the pong (four mach_msg calls).
class raw_one_thread {
 public:
  raw_one_thread() : in_(sizeof(raw_ping)) {}
  bool valid() const { return server_.valid() && reply_.valid(); }
  bool operator()() {
    ++seq_;
    return send_raw_ping(server_.name(), reply_.name(), seq_) &&
           receive_raw(in_, server_.name(), false) && answer_raw(in_) &&
           receive_raw(in_, reply_.name(), false) && is_pong(in_, seq_);
  }

 private:
  machport_bench::raw::port server_;
  machport_bench::raw::port reply_{false};
  machport_bench::raw::buffer in_;
  std::uint64_t seq_ = 0;
};

// A hand-written event loop with both ports' knotes in one kqueue: after the ping is sent,
// wait, receive, answer, re-enable; wait, receive the pong, re-enable (eight kernel calls).
class kqueue_one_thread {
 public:
  kqueue_one_thread() : in_(sizeof(raw_ping)) {
    ok_ = server_.valid() && reply_.valid() && kq_.valid() && kq_.add(server_.name()) &&
          kq_.add(reply_.name());
  }
  bool valid() const { return ok_; }
  bool operator()() {
    ++seq_;
    return send_raw_ping(server_.name(), reply_.name(), seq_) && kq_.wait() == server_.name() &&
           receive_raw(in_, server_.name(), true) && answer_raw(in_) &&
           kq_.enable(server_.name()) && kq_.wait() == reply_.name() &&
           receive_raw(in_, reply_.name(), true) && is_pong(in_, seq_) &&
           kq_.enable(reply_.name());
  }

 private:
  machport_bench::raw::port server_;
  machport_bench::raw::port reply_{false};
  raw_kqueue kq_;  // declared after the ports: closed before they are destroyed
  machport_bench::raw::buffer in_;
  std::uint64_t seq_ = 0;
  bool ok_ = false;
};

// The client's completion handler: counts the pong and waits for the next one in the same
// message.
class take_pong {
 public:
  take_pong(machport::receive_port& port, std::uint64_t& last) : port_(&port), last_(&last) {}
  void operator()(boost::system::error_code ec, machport::message m) const {
    if (ec) return;
    auto reply = machport::decode<pong>(m);
    if (!reply) return;
    *last_ = reply.value().seq;
    port_->async_receive(std::move(m), {}, take_pong(*this));
  }

 private:
  machport::receive_port* port_;
  std::uint64_t* last_;
};

asio::awaitable<void> pong_loop(machport::receive_port& port, std::uint64_t& last) {
  machport::message m;
  for (;;) {
    auto [ec, received] =
        co_await port.async_receive(std::move(m), {}, asio::as_tuple(asio::use_awaitable));
    m = std::move(received);
    if (ec) co_return;
    auto reply = machport::decode<pong>(m);
    if (!reply) co_return;
    last = reply.value().seq;
  }
}

// machport: both receive ports on one io_context; the operation sends the ping (encode into a
// reused message, send) and runs the context until the client's handler took the pong.
template <variant V>
class machport_one_thread {
 public:
  machport_one_thread() {
    auto to_server = server_port_.right().make_send();
    if (!to_server) return;
    to_server_ = std::move(to_server).value();
    if constexpr (V == variant::callbacks) {
      server_port_.async_receive(machport::message{}, {}, echo(server_port_));
      client_port_.async_receive(machport::message{}, {}, take_pong(client_port_, last_));
    } else {
      asio::co_spawn(io_, echo_loop(server_port_), asio::detached);
      asio::co_spawn(io_, pong_loop(client_port_, last_), asio::detached);
    }
    ok_ = true;
  }
  bool valid() const { return ok_; }
  bool operator()() {
    ping request{};
    request.seq = ++seq_;
    request.reply_to = machport::reply_port::make_send_once(client_port_.right());
    std::memcpy(request.text.data(), "hello", 6);
    machport::encode(std::move(request), out_);
    if (!machport::send(to_server_, std::move(out_))) return false;
    while (last_ != seq_) {
      if (io_.run_one() == 0) return false;
    }
    return true;
  }

 private:
  asio::io_context io_;  // first: destroyed last (it destroys the coroutines still waiting)
  machport::receive_port server_port_{io_, machport::receive_right::allocate().value()};
  machport::receive_port client_port_{io_, machport::receive_right::allocate().value()};
  machport::send_right to_server_;
  machport::message out_;
  std::uint64_t seq_ = 0;
  std::uint64_t last_ = 0;
  bool ok_ = false;
};

template <variant V>
void ping_pong_one_thread(benchmark::State& state) {
  raw_one_thread raw;
  kqueue_one_thread kq;
  machport_one_thread<V> lib;
  if (!raw.valid() || !kq.valid() || !lib.valid()) {
    return machport_bench::fail(state, "cannot set up the ports");
  }
  machport_bench::pair_options paired;
  paired.a_name = "kqueue";
  paired.floor_name = "raw";
  paired.target.max_overhead_ns = 500;  // two messages, each sent and received by machport
  machport_bench::run_paired_with_floor(state, raw, kq, lib, paired);
}

}  // namespace

BENCHMARK_TEMPLATE(ping_pong_threads, variant::sync)->UseRealTime();
BENCHMARK_TEMPLATE(ping_pong_threads, variant::callbacks)->UseRealTime();
BENCHMARK_TEMPLATE(ping_pong_threads, variant::coroutine)->UseRealTime();
BENCHMARK_TEMPLATE(ping_pong_one_thread, variant::callbacks)->UseRealTime();
BENCHMARK_TEMPLATE(ping_pong_one_thread, variant::coroutine)->UseRealTime();

MACHPORT_BENCHMARK_MAIN();
