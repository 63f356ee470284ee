// Baseline: a raw mach_msg send + receive round trip within one task, no machport code.
// Other benchmarks report their cost relative to this one.
#include <benchmark/benchmark.h>
#include <mach/mach.h>

#include <cstdint>
#include <vector>

namespace {

void raw_mach_msg_round_trip(benchmark::State& state) {
  const auto payload = static_cast<mach_msg_size_t>(state.range(0));
  const mach_port_t self = mach_task_self();
  mach_port_t port = MACH_PORT_NULL;
  if (mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &port) != KERN_SUCCESS ||
      mach_port_insert_right(self, port, port, MACH_MSG_TYPE_MAKE_SEND) != KERN_SUCCESS) {
    state.SkipWithError("cannot set up the port");
    return;
  }
  const mach_msg_size_t send_size = sizeof(mach_msg_header_t) + payload;  // payload % 4 == 0
  std::vector<std::uint64_t> send_buf((send_size + 7) / 8);
  std::vector<std::uint64_t> rcv_buf((send_size + sizeof(mach_msg_max_trailer_t) + 7) / 8);
  auto* send_msg = reinterpret_cast<mach_msg_header_t*>(send_buf.data());
  auto* rcv_msg = reinterpret_cast<mach_msg_header_t*>(rcv_buf.data());
  const auto rcv_size = static_cast<mach_msg_size_t>(rcv_buf.size() * 8);

  for (auto _ : state) {
    *send_msg = {};
    send_msg->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    send_msg->msgh_size = send_size;
    send_msg->msgh_remote_port = port;
    send_msg->msgh_id = 7;
    if (mach_msg(send_msg, MACH_SEND_MSG, send_size, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                 MACH_PORT_NULL) != MACH_MSG_SUCCESS ||
        mach_msg(rcv_msg, MACH_RCV_MSG, 0, rcv_size, port, MACH_MSG_TIMEOUT_NONE,
                 MACH_PORT_NULL) != MACH_MSG_SUCCESS) {
      state.SkipWithError("mach_msg failed");
      break;
    }
    benchmark::DoNotOptimize(rcv_msg->msgh_id);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * send_size);
  mach_port_mod_refs(self, port, MACH_PORT_RIGHT_RECEIVE, -1);
  mach_port_deallocate(self, port);
}

}  // namespace

BENCHMARK(raw_mach_msg_round_trip)->Arg(0)->Arg(256)->Arg(4096);

BENCHMARK_MAIN();
