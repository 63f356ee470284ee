// Same-thread send + receive of one inline message (0 B, 64 B, 4 KiB of data), raw mach_msg
// against machport, paired in one run.
//
// A machport variant is one class: constructed from the port and the payload size, its
// operator() sends one message and receives it back (false on failure). Add one with a
// BENCHMARK_TEMPLATE line at the bottom.
#include "bench_support.hpp"
#include "raw_mach.hpp"

#include <machport/message_builder.hpp>
#include <machport/receive.hpp>
#include <machport/receive_right.hpp>
#include <machport/send.hpp>

#include <cstddef>
#include <vector>

namespace {

// message_builder → send() → receive() into a fresh message (default receive options).
class builder_send_receive {
 public:
  builder_send_receive(const machport::constructed_port& port, std::size_t payload)
      : port_(port), payload_(payload, std::byte{0x5a}) {}

  bool operator()() {
    machport::message_builder builder(7);
    if (!payload_.empty()) builder.add_data(payload_);
    if (!machport::send(port_.send, builder.build())) return false;
    auto received = machport::receive(port_.receive);
    return received.has_value() && received.value().id() == 7;
  }

 private:
  const machport::constructed_port& port_;
  std::vector<std::byte> payload_;
};

// The loop idiom: one builder and one message reused for every message (message_builder::build
// into the message, send() from it, receive() into it): no allocation once warmed up, and the
// receive buffer has grown to the message size.
// reused_minimal_trailer receives as the raw baseline does, to tell machport's own cost from
// the options': the minimal trailer (8 bytes; the default is the 60-byte context trailer), and
// a buffer that starts small (buffer_size 0: it grows to the message on the first receive)
// rather than at 1 KiB (the emulated kernel checks every page of a receive buffer).
template <bool MinimalTrailer>
class reused_send_receive_with {
 public:
  reused_send_receive_with(const machport::constructed_port& port, std::size_t payload)
      : port_(port), payload_(payload, std::byte{0x5a}) {
    if (MinimalTrailer) {
      options_.trailer = machport::trailer_level::none;
      options_.buffer_size = 0;
    }
  }

  bool operator()() {
    builder_.id(7);
    if (!payload_.empty()) builder_.add_data(payload_);
    builder_.build(message_);
    if (!machport::send(port_.send, std::move(message_))) return false;
    return machport::receive(port_.receive, message_, options_).has_value() && message_.id() == 7;
  }

 private:
  const machport::constructed_port& port_;
  std::vector<std::byte> payload_;
  machport::receive_options options_;
  machport::message_builder builder_;
  machport::message message_;
};
using reused_send_receive = reused_send_receive_with<false>;
using reused_minimal_trailer = reused_send_receive_with<true>;

template <class Variant>
void send_receive(benchmark::State& state) {
  const auto payload = static_cast<mach_msg_size_t>(state.range(0));
  machport::port_options options;
  options.insert_send_right = true;
  auto port = machport::receive_right::construct(options);
  if (!port) return machport_bench::fail(state, "cannot set up the port");

  machport_bench::raw::send_receive raw(port.value().send.name(), payload);
  Variant variant(port.value(), payload);
  machport_bench::pair_options paired;
  // Small messages: a fixed framework cost; 4 KiB: a share of the raw cost (the copy dominates).
  if (payload <= 64) {
    paired.target.max_overhead_ns = 100;
  } else {
    paired.target.max_ratio = 1.2;
  }
  machport_bench::run_paired(state, raw, variant, paired);
}

}  // namespace

BENCHMARK_TEMPLATE(send_receive, builder_send_receive)->Arg(0)->Arg(64)->Arg(4096);
BENCHMARK_TEMPLATE(send_receive, reused_send_receive)->Arg(0)->Arg(64)->Arg(4096);
BENCHMARK_TEMPLATE(send_receive, reused_minimal_trailer)->Arg(0)->Arg(64)->Arg(4096);

MACHPORT_BENCHMARK_MAIN();
