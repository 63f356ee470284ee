// The plain baseline: a raw mach_msg send + receive within one task, no machport code and no
// pairing. The paired benchmarks measure the same operation beside their own variants.
#include "bench_support.hpp"
#include "raw_mach.hpp"

namespace {

void raw_mach_msg_round_trip(benchmark::State& state) {
  machport_bench::raw::port port;
  if (!port.valid()) return machport_bench::fail(state, "cannot set up the port");
  machport_bench::raw::send_receive op(port.name(), static_cast<mach_msg_size_t>(state.range(0)));
#if MACHPORT_EMULATED
  const std::uint64_t calls0 = machport_emu::kernel_calls(machport_emu::current_task());
#endif
  for (auto _ : state) {
    if (!op()) return machport_bench::fail(state, "mach_msg failed");
  }
#if MACHPORT_EMULATED
  const std::uint64_t calls = machport_emu::kernel_calls(machport_emu::current_task()) - calls0;
  if (state.iterations() > 0) {
    state.counters["calls"] = static_cast<double>(calls) / static_cast<double>(state.iterations());
  }
#endif
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * op.message_size());
}

}  // namespace

BENCHMARK(raw_mach_msg_round_trip)->Arg(0)->Arg(64)->Arg(4096);

MACHPORT_BENCHMARK_MAIN();
