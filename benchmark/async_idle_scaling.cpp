// One busy receive_port among idle ones: what a message costs through the Asio layer when N
// other receive_ports of the same io_context each have an async_receive pending (so each has
// an enabled EVFILT_MACHPORT knote in the context's kqueue and an operation queued in the
// engine). The operation: send a message to the busy port (hand-written mach_msg), run the
// io_context until its handler took it (the handler starts the next receive in the same
// storage). Paired: the setup with 1 idle port (counters n1_*) against the one with N (n_*),
// each in a task and on an io_context of its own, so `ratio` is the scaling from 1 to N
// (N = 1 measures the noise). Target: ≤ 1.2×, the same kernel calls and allocations.
#include "bench_support.hpp"

#include <machport/asio.hpp>
#include <machport/receive_right.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace {

namespace asio = boost::asio;

// Counts the messages of the busy port and waits for the next one in the same storage.
class take_message {
 public:
  take_message(machport::receive_port& port, std::uint64_t& count) : port_(&port), count_(&count) {}
  void operator()(boost::system::error_code ec, machport::message m) const {
    if (ec) return;
    ++*count_;
    port_->async_receive(std::move(m), {}, take_message(*this));
  }

 private:
  machport::receive_port* port_;
  std::uint64_t* count_;
};

// An idle port's handler: runs only when the port is closed (or, wrongly, gets a message).
struct idle_handler {
  std::uint64_t* woken;
  void operator()(boost::system::error_code ec, machport::message) const {
    if (!ec) ++*woken;
  }
};

class busy_among_idle {
 public:
  explicit busy_among_idle(std::int64_t n) {
    idle_.reserve(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      auto right = machport::receive_right::allocate();
      if (!right) return;
      idle_.emplace_back(io_, std::move(right).value());
      idle_.back().async_receive(machport::message{}, {}, idle_handler{&woken_});
    }
    auto right = machport::receive_right::allocate();
    if (!right) return;
    auto send = right.value().make_send();
    if (!send) return;
    to_busy_ = send.value().release();
    busy_.assign(std::move(right).value());
    busy_.async_receive(machport::message{}, {}, take_message(busy_, count_));
    ok_ = true;
  }
  ~busy_among_idle() {
    if (to_busy_ != MACH_PORT_NULL) mach_port_deallocate(mach_task_self(), to_busy_);
  }
  busy_among_idle(const busy_among_idle&) = delete;
  busy_among_idle& operator=(const busy_among_idle&) = delete;

  bool valid() const { return ok_; }
  bool operator()() {
    mach_msg_header_t m{};
    m.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    m.msgh_size = sizeof m;
    m.msgh_remote_port = to_busy_;
    m.msgh_id = 7;
    if (mach_msg(&m, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                 MACH_PORT_NULL) != MACH_MSG_SUCCESS) {
      return false;
    }
    const std::uint64_t before = count_;
    while (count_ == before) {
      if (io_.run_one() == 0) return false;
    }
    return woken_ == 0;
  }

 private:
  asio::io_context io_;  // first: destroyed after the ports
  std::vector<machport::receive_port> idle_;
  machport::receive_port busy_{io_};
  mach_port_name_t to_busy_ = MACH_PORT_NULL;
  std::uint64_t count_ = 0;
  std::uint64_t woken_ = 0;
  bool ok_ = false;
};

void async_idle_scaling(benchmark::State& state) {
  machport_bench::bench_task one_task("idle_1");
  machport_bench::bench_task n_task("idle_n");
  std::optional<busy_among_idle> one;
  std::optional<busy_among_idle> many;
  machport_bench::in_task(one_task, [&] { one.emplace(1); });
  machport_bench::in_task(n_task, [&] { many.emplace(state.range(0)); });
  if (one->valid() && many->valid()) {
    machport_bench::pair_options paired;
    paired.a_name = "n1";
    paired.b_name = "n";
    paired.target.max_ratio = 1.2;
    paired.a_tasks.run_as = &one_task;
    paired.b_tasks.run_as = &n_task;
    machport_bench::run_paired(state, *one, *many, paired);
  } else {
    machport_bench::fail(state, "cannot set up the ports");
  }
  machport_bench::in_task(one_task, [&] { one.reset(); });
  machport_bench::in_task(n_task, [&] { many.reset(); });
}

}  // namespace

BENCHMARK(async_idle_scaling)->Arg(1)->Arg(100)->Arg(10000)->UseRealTime();

MACHPORT_BENCHMARK_MAIN();
