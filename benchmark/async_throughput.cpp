// One-way pipelined throughput, receiving side: a sender thread (a task of its own) sends
// small messages with mach_msg into a deep queue (MACH_PORT_QLIMIT_LARGE), the messages of a
// batch before the batch is timed; this thread receives them, one operation per message. So
// the receiver is the bottleneck, as in a saturated stream, and what is timed is its cost per
// message with messages waiting (no thread wake-ups). Receivers, each with a port and a
// sender of its own:
//  - raw (the floor): a blocking mach_msg receive into one buffer;
//  - kqueue (the baseline): a hand-written event loop: an EVFILT_MACHPORT knote with
//    EV_DISPATCH, a kevent64 wait, a zero-timeout mach_msg receive, EV_ENABLE;
//  - machport: a receive_port on an io_context whose handler checks the message and starts
//    the next async_receive with it (async_receive(std::move(msg), options, handler): storage
//    reused); the operation runs the context until the handler has taken one more message.
//    With callbacks, or as a use_awaitable coroutine; with one receive pending, or with four
//    (then one wake-up takes up to four messages: fewer kernel calls than the hand-written
//    loop, which takes one message per kevent).
// Only this thread's task is counted (kernel calls: the receiving side; the sender is the same
// in every variant). Targets against the kqueue loop: ≤ 250 ns more per message, the same
// kernel calls, no more allocations.
#include "bench_support.hpp"
#include "raw_mach.hpp"

#include <machport/asio.hpp>
#include <machport/receive_right.hpp>
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

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <thread>

namespace {

namespace asio = boost::asio;

// What the sender sends (encode() gives a numbered this layout).
struct numbered {
  static constexpr mach_msg_id_t id = 700;
  std::uint64_t n;
};
struct raw_numbered {
  mach_msg_header_t header;
  std::uint64_t n;
};
static_assert(sizeof(raw_numbered) == machport::encoded_size<numbered>());

// A receive right of this task for a stream, with the deep queue a pipelined stream wants; the
// sender finds its send right through `service` (bootstrap on the emulated kernel; on macOS,
// where the sender is a thread of this task, a send right under the same name).
mach_port_name_t make_stream_port(const std::string& service) {
  mach_port_name_t port = MACH_PORT_NULL;
#if MACHPORT_EMULATED
  if (bootstrap_check_in(bootstrap_port, service.c_str(), &port) != KERN_SUCCESS) {
    return MACH_PORT_NULL;
  }
#else
  (void)service;
  if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port) != KERN_SUCCESS) {
    return MACH_PORT_NULL;
  }
  if (mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND) !=
      KERN_SUCCESS) {
    mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1);
    return MACH_PORT_NULL;
  }
#endif
  mach_port_limits_t limits{};
  limits.mpl_qlimit = MACH_PORT_QLIMIT_LARGE;
  if (mach_port_set_attributes(mach_task_self(), port, MACH_PORT_LIMITS_INFO,
                               reinterpret_cast<mach_port_info_t>(&limits),
                               MACH_PORT_LIMITS_INFO_COUNT) != KERN_SUCCESS) {
    mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1);
    return MACH_PORT_NULL;
  }
  return port;
}

std::string new_service() {
  static std::atomic<int> instances{0};
  return "machport.bench.async_throughput." + std::to_string(instances.fetch_add(1));
}

// Sends numbered messages to the stream port of `service` when send() asks for them (the
// messages of a batch, just before it is timed: the receiver is the bottleneck of the stream,
// so the figures are its cost per message with messages waiting, as in a saturated pipeline,
// without the sender's cost or thread wake-ups, and the sender never runs during another
// variant's batch). Stops when destroyed, or when a send fails.
class sender {
 public:
  sender(const std::string& service, mach_port_name_t receive_name) : task_("sender") {
    std::promise<bool> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, service, receive_name, ready = std::move(ready)]() mutable {
      auto scope = task_.enter();
      (void)scope;
      mach_port_name_t to = receive_name;  // macOS: this task's send right, the same name
#if MACHPORT_EMULATED
      if (bootstrap_look_up(bootstrap_port, service.c_str(), &to) != KERN_SUCCESS) {
        to = MACH_PORT_NULL;
      }
#else
      (void)service;
#endif
      ready.set_value(to != MACH_PORT_NULL);
      if (to == MACH_PORT_NULL) return;
      raw_numbered m{};
      for (std::uint64_t sent = 0;;) {
        std::uint64_t allowed = allowed_.load();
        while (allowed == sent) {
          allowed_.wait(allowed);
          allowed = allowed_.load();
        }
        if (allowed == stop) break;
        m.header = {};
        m.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        m.header.msgh_size = sizeof m;
        m.header.msgh_remote_port = to;
        m.header.msgh_id = numbered::id;
        m.n = ++sent;
        const bool ok = mach_msg(&m.header, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL,
                                 MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) == MACH_MSG_SUCCESS;
        sent_.store(ok ? sent : stop);
        if (sent == allowed || !ok) sent_.notify_one();
        if (!ok) break;
      }
      mach_port_deallocate(mach_task_self(), to);
    });
    ok_ = started.get();
  }
  ~sender() {
    allowed_.store(stop);
    allowed_.notify_one();
    thread_.join();
  }
  sender(const sender&) = delete;
  sender& operator=(const sender&) = delete;

  bool valid() const { return ok_; }
  // Lets the thread send `n` more messages and waits until it has sent them (or failed).
  void send(std::size_t n) {
    const std::uint64_t target = allowed_.fetch_add(n) + n;
    allowed_.notify_one();
    for (std::uint64_t sent = sent_.load(); sent != target && sent != stop; sent = sent_.load()) {
      sent_.wait(sent);
    }
  }

 private:
  static constexpr std::uint64_t stop = ~std::uint64_t{0};
  machport_bench::bench_task task_;  // first: outlives the thread
  std::thread thread_;
  std::atomic<std::uint64_t> allowed_{0};  // messages the thread may have sent so far
  std::atomic<std::uint64_t> sent_{0};     // messages it has sent (stop: a send failed)
  bool ok_ = false;
};

// One receiver and its sender, as the paired runner sees them: before each batch the sender
// sends the batch's messages; the operation receives one.
template <class Receiver>
struct stream {
  Receiver& receiver;
  sender& from;
  void begin_batch(std::size_t n) { from.send(n); }
  bool operator()() { return receiver(); }
};

// The receivers. Each owns its port (destroying it stops its sender) and checks each message.

class raw_receiver {
 public:
  raw_receiver() : port_(make_stream_port(service_)), in_(sizeof(raw_numbered)) {}
  ~raw_receiver() {
    if (port_ != MACH_PORT_NULL) {
      mach_port_mod_refs(mach_task_self(), port_, MACH_PORT_RIGHT_RECEIVE, -1);
    }
  }
  bool valid() const { return port_ != MACH_PORT_NULL; }
  const std::string& service() const { return service_; }
  mach_port_name_t name() const { return port_; }
  bool operator()() {
    return mach_msg(in_.header(), MACH_RCV_MSG, 0, in_.size(), port_, MACH_MSG_TIMEOUT_NONE,
                    MACH_PORT_NULL) == MACH_MSG_SUCCESS &&
           in_.header()->msgh_id == numbered::id;
  }

 private:
  std::string service_ = new_service();
  mach_port_name_t port_;
  machport_bench::raw::buffer in_;
};

class kqueue_receiver {
 public:
  kqueue_receiver() : port_(make_stream_port(service_)), kq_(kqueue()), in_(sizeof(raw_numbered)) {
    ok_ = port_ != MACH_PORT_NULL && kq_ >= 0 && change(EV_ADD | EV_DISPATCH);
  }
  ~kqueue_receiver() {
    if (kq_ >= 0) ::close(kq_);  // the knote goes before the port
    if (port_ != MACH_PORT_NULL) {
      mach_port_mod_refs(mach_task_self(), port_, MACH_PORT_RIGHT_RECEIVE, -1);
    }
  }
  bool valid() const { return ok_; }
  const std::string& service() const { return service_; }
  mach_port_name_t name() const { return port_; }
  bool operator()() {
    const struct timespec timeout = {10, 0};
    struct kevent64_s event {};
    return kevent64(kq_, nullptr, 0, &event, 1, 0, &timeout) == 1 && event.ident == port_ &&
           mach_msg(in_.header(), MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, in_.size(), port_, 0,
                    MACH_PORT_NULL) == MACH_MSG_SUCCESS &&
           in_.header()->msgh_id == numbered::id && change(EV_ENABLE | EV_DISPATCH);
  }

 private:
  bool change(std::uint16_t flags) {
    struct kevent64_s ch {};
    EV_SET64(&ch, port_, EVFILT_MACHPORT, flags, 0, 0, 0, 0, 0);
    return kevent64(kq_, &ch, 1, nullptr, 0, 0, nullptr) == 0;
  }
  std::string service_ = new_service();
  mach_port_name_t port_;
  int kq_;
  machport_bench::raw::buffer in_;
  bool ok_ = false;
};

// The handler: takes a message, counts it, and waits for the next in the same storage.
class take_message {
 public:
  take_message(machport::receive_port& port, std::uint64_t& count, bool& failed)
      : port_(&port), count_(&count), failed_(&failed) {}
  void operator()(boost::system::error_code ec, machport::message m) const {
    if (ec || !machport::decode<numbered>(m)) {
      *failed_ = true;
      return;
    }
    ++*count_;
    port_->async_receive(std::move(m), {}, take_message(*this));
  }

 private:
  machport::receive_port* port_;
  std::uint64_t* count_;
  bool* failed_;
};

asio::awaitable<void> take_messages(machport::receive_port& port, std::uint64_t& count,
                                    bool& failed) {
  machport::message m;
  for (;;) {
    auto [ec, received] =
        co_await port.async_receive(std::move(m), {}, asio::as_tuple(asio::use_awaitable));
    m = std::move(received);
    if (ec || !machport::decode<numbered>(m)) {
      failed = true;
      co_return;
    }
    ++count;
  }
}

enum class variant { callbacks, coroutine };

// Pending: how many async_receives the port keeps pending (each with its own storage and
// handler). One wake-up then takes up to that many messages (one per pending operation).
template <variant V, int Pending>
class machport_receiver {
 public:
  machport_receiver() {
    const mach_port_name_t name = make_stream_port(service_);
    if (name == MACH_PORT_NULL) return;
    name_ = name;
    port_.assign(machport::receive_right::adopt(name));
    if constexpr (V == variant::callbacks) {
      for (int i = 0; i < Pending; ++i) {
        port_.async_receive(machport::message{}, {}, take_message(port_, count_, failed_));
      }
    } else {
      for (int i = 0; i < Pending; ++i) {
        asio::co_spawn(io_, take_messages(port_, count_, failed_), asio::detached);
      }
    }
  }
  bool valid() const { return port_.is_open(); }
  const std::string& service() const { return service_; }
  mach_port_name_t name() const { return name_; }
  bool operator()() {
    const std::uint64_t before = count_;
    while (count_ == before) {
      if (failed_ || io_.run_one() == 0) return false;
    }
    return true;
  }

 private:
  std::string service_ = new_service();
  mach_port_name_t name_ = MACH_PORT_NULL;
  asio::io_context io_;  // before the port: destroyed after it
  machport::receive_port port_{io_};
  std::uint64_t count_ = 0;
  bool failed_ = false;
};

template <variant V, int Pending>
void throughput(benchmark::State& state) {
  std::optional<sender> raw_sender, kqueue_sender, lib_sender;  // joined after the ports died
  raw_receiver raw;
  kqueue_receiver kq;
  machport_receiver<V, Pending> lib;
  if (!raw.valid() || !kq.valid() || !lib.valid()) {
    return machport_bench::fail(state, "cannot set up the receivers");
  }
  raw_sender.emplace(raw.service(), raw.name());
  kqueue_sender.emplace(kq.service(), kq.name());
  lib_sender.emplace(lib.service(), lib.name());
  if (!raw_sender->valid() || !kqueue_sender->valid() || !lib_sender->valid()) {
    return machport_bench::fail(state, "cannot start the senders");
  }
  machport_bench::pair_options paired;
  paired.a_name = "kqueue";
  paired.floor_name = "raw";
  paired.target.max_overhead_ns = 250;
  using lib_receiver = machport_receiver<V, Pending>;
  machport_bench::run_paired_with_floor(state, stream<raw_receiver>{raw, *raw_sender},
                                        stream<kqueue_receiver>{kq, *kqueue_sender},
                                        stream<lib_receiver>{lib, *lib_sender}, paired);
}

}  // namespace

BENCHMARK_TEMPLATE(throughput, variant::callbacks, 1)->UseRealTime();
BENCHMARK_TEMPLATE(throughput, variant::coroutine, 1)->UseRealTime();
BENCHMARK_TEMPLATE(throughput, variant::callbacks, 4)->UseRealTime();

MACHPORT_BENCHMARK_MAIN();
