// Cross-task request/reply: the README idiom (a typed request carrying a reply port that the
// kernel makes into a send-once right in the send, answered through that right by a server
// thread) against hand-written mach_msg doing the same work (the same message layouts, the
// reply right made by the kernel in the send: MAKE_SEND_ONCE in the header), paired in one run.
// ping_pong uses a fresh message per send and receive (the README example); ping_pong_reused
// one message per side for every message (the README's loop idiom). On the emulated kernel each server runs as a task of its own and its kernel calls
// are charged to the round trip; on macOS the servers are threads of this task.
#include "bench_support.hpp"
#include "bench_server.hpp"
#include "raw_mach.hpp"

#include <machport/receive.hpp>
#include <machport/receive_right.hpp>
#include <machport/send.hpp>
#include <machport/typed.hpp>

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

using machport_bench::server;
using machport_bench::stop_id;

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


// ---- hand-written ---------------------------------------------------------------------------

void serve_raw(mach_port_name_t port) {
  machport_bench::raw::buffer in(sizeof(raw_ping));
  for (;;) {
    if (mach_msg(in.header(), MACH_RCV_MSG, 0, in.size(), port, MACH_MSG_TIMEOUT_NONE,
                 MACH_PORT_NULL) != MACH_MSG_SUCCESS) {
      break;
    }
    const auto* request = reinterpret_cast<const raw_ping*>(in.bytes());
    if (request->header.msgh_id != ping::id ||
        request->header.msgh_size != sizeof(raw_ping) ||
        MACH_MSGH_BITS_REMOTE(request->header.msgh_bits) != MACH_MSG_TYPE_PORT_SEND_ONCE) {
      mach_msg_destroy(in.header());
      break;
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
      break;
    }
  }
  mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1);
}

class raw_client {
 public:
  explicit raw_client(mach_port_name_t server) : server_(server), in_(sizeof(raw_pong)) {}

  bool operator()() {
    raw_ping request{};
    request.header.msgh_bits =
        MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    request.header.msgh_size = sizeof request;
    request.header.msgh_remote_port = server_;
    request.header.msgh_local_port = reply_port_.name();
    request.header.msgh_id = ping::id;
    request.seq = ++seq_;
    std::memcpy(request.text.data(), "hello", 6);
    if (mach_msg(&request.header, MACH_SEND_MSG, sizeof request, 0, MACH_PORT_NULL,
                 MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) != MACH_MSG_SUCCESS ||
        mach_msg(in_.header(), MACH_RCV_MSG, 0, in_.size(), reply_port_.name(),
                 MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) != MACH_MSG_SUCCESS) {
      return false;
    }
    const auto* reply = reinterpret_cast<const raw_pong*>(in_.bytes());
    return reply->header.msgh_id == pong::id && reply->seq == seq_;
  }

  bool valid() const { return reply_port_.valid(); }

 private:
  mach_port_name_t server_;
  machport_bench::raw::port reply_port_{false};
  machport_bench::raw::buffer in_;
  std::uint64_t seq_ = 0;
};

// ---- machport, as in the README ---------------------------------------------------------------

void serve_machport(mach_port_name_t name) {
  auto port = machport::receive_right::adopt(name);
  for (;;) {
    auto received = machport::receive(port);
    if (!received) break;
    auto decoded = machport::decode<ping>(std::move(received.value()));
    if (!decoded) break;  // the stop message
    ping& request = decoded.value();
    if (!machport::send(std::move(request.reply_to), machport::encode(pong{request.seq}))) break;
  }
}

// The client: the README example (Reused = false: a fresh message for each send and
// receive) or the README loop idiom (one message reused for every message).
template <bool Reused>
class machport_client_with {
 public:
  explicit machport_client_with(mach_port_name_t server)
      : server_(machport::send_right::adopt(server)) {}
  ~machport_client_with() { (void)server_.release(); }  // the server object owns that right
  machport_client_with(const machport_client_with&) = delete;
  machport_client_with& operator=(const machport_client_with&) = delete;

  bool operator()() {
    ping request{};
    request.seq = ++seq_;
    request.reply_to = machport::reply_port::make_send_once(reply_port_);
    std::memcpy(request.text.data(), "hello", 6);
    if constexpr (Reused) {
      machport::encode(std::move(request), message_);
      if (!machport::send(server_, std::move(message_))) return false;
      if (!machport::receive(reply_port_, message_)) return false;
      auto reply = machport::decode<pong>(message_);
      return reply.has_value() && reply.value().seq == seq_;
    } else {
      if (!machport::send(server_, machport::encode(std::move(request)))) return false;
      auto received = machport::receive(reply_port_);
      if (!received) return false;
      auto reply = machport::decode<pong>(std::move(received.value()));
      return reply.has_value() && reply.value().seq == seq_;
    }
  }

  bool valid() const { return reply_port_.valid(); }

 private:
  machport::send_right server_;
  machport::receive_right reply_port_ = machport::receive_right::allocate().value();
  machport::message message_;  // Reused only
  std::uint64_t seq_ = 0;
};
using machport_client = machport_client_with<false>;
using machport_reused_client = machport_client_with<true>;

// ---- machport, the loop idiom: one message per side, reused ---------------------------------

void serve_machport_reused(mach_port_name_t name) {
  auto port = machport::receive_right::adopt(name);
  machport::message m;
  for (;;) {
    if (!machport::receive(port, m)) break;
    auto decoded = machport::decode<ping>(m);
    if (!decoded) break;  // the stop message
    ping& request = decoded.value();
    machport::encode(pong{request.seq}, m);
    if (!machport::send(std::move(request.reply_to), std::move(m))) break;
  }
}

template <class Client, void (*Serve)(mach_port_name_t)>
void run_ping_pong(benchmark::State& state) {
  server raw_server("raw_server", serve_raw);
  server machport_server("machport_server", Serve);
  if (!raw_server.valid() || !machport_server.valid()) {
    return machport_bench::fail(state, "cannot start the servers");
  }
  raw_client raw(raw_server.send_name());
  Client lib(machport_server.send_name());
  if (!raw.valid() || !lib.valid()) return machport_bench::fail(state, "cannot set up the clients");

  machport_bench::pair_options paired;
  paired.target.max_overhead_ns = 200;  // two small messages per round trip
  paired.a_tasks.also_counted = {&raw_server.task()};
  paired.b_tasks.also_counted = {&machport_server.task()};
  machport_bench::run_paired(state, raw, lib, paired);
}

void ping_pong(benchmark::State& state) { run_ping_pong<machport_client, serve_machport>(state); }

void ping_pong_reused(benchmark::State& state) {
  run_ping_pong<machport_reused_client, serve_machport_reused>(state);
}

}  // namespace

BENCHMARK(ping_pong)->UseRealTime();
BENCHMARK(ping_pong_reused)->UseRealTime();

MACHPORT_BENCHMARK_MAIN();
