// Typed codec without the kernel: machport::encode / decode of a plain 5-field struct against a
// hand-written wire struct filled and read field by field, paired in one run.
//  - typed_encode: value → message bytes;
//  - typed_round_trip: value → bytes → a copy as the kernel would deliver it → value (machport
//    takes the copy with message::adopt_received, the hand-written code with memcpy).
// The *_reused variants encode into one message kept across operations and take the copy into
// another (message::assign_received), as a loop reusing its messages does: no allocation.
#include "bench_support.hpp"

#include <machport/message.hpp>
#include <machport/typed.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace {

struct sample {
  static constexpr mach_msg_id_t id = 300;
  std::uint64_t seq;
  std::uint32_t flags;
  std::int32_t value;
  std::array<char, 16> tag;
  double scale;
};

// What a hand-written message with the same contents looks like (encode's layout).
struct sample_wire {
  mach_msg_header_t header;
  std::uint64_t seq;
  std::uint32_t flags;
  std::int32_t value;
  std::array<char, 16> tag;
  double scale;
};
static_assert(sizeof(sample_wire) == machport::encoded_size<sample>());

sample next_sample(std::uint64_t seq) {
  return sample{seq, static_cast<std::uint32_t>(seq) | 1u, -7, {'p', 'i', 'n', 'g'}, 0.5};
}

void hand_encode(const sample& v, sample_wire& w) {
  w.header = {};
  w.header.msgh_size = sizeof w;
  w.header.msgh_id = sample::id;
  std::memcpy(&w.seq, &v.seq, sizeof v.seq);
  std::memcpy(&w.flags, &v.flags, sizeof v.flags);
  std::memcpy(&w.value, &v.value, sizeof v.value);
  std::memcpy(&w.tag, &v.tag, sizeof v.tag);
  std::memcpy(&w.scale, &v.scale, sizeof v.scale);
}

bool hand_decode(const std::byte* bytes, sample& v) {
  sample_wire w;
  std::memcpy(&w.header, bytes, sizeof w.header);
  if (w.header.msgh_id != sample::id || w.header.msgh_size != sizeof w ||
      (w.header.msgh_bits & MACH_MSGH_BITS_COMPLEX) != 0) {
    return false;
  }
  std::memcpy(&v.seq, bytes + offsetof(sample_wire, seq), sizeof v.seq);
  std::memcpy(&v.flags, bytes + offsetof(sample_wire, flags), sizeof v.flags);
  std::memcpy(&v.value, bytes + offsetof(sample_wire, value), sizeof v.value);
  std::memcpy(&v.tag, bytes + offsetof(sample_wire, tag), sizeof v.tag);
  std::memcpy(&v.scale, bytes + offsetof(sample_wire, scale), sizeof v.scale);
  return true;
}

// The hand-written baselines.
class hand_encode_op {
 public:
  bool operator()() {
    hand_encode(next_sample(++seq_), wire_);
    benchmark::DoNotOptimize(wire_);
    return true;
  }

 private:
  std::uint64_t seq_ = 0;
  sample_wire wire_{};
};

class hand_round_trip_op {
 public:
  bool operator()() {
    const std::uint64_t s = ++seq_;
    hand_encode(next_sample(s), wire_);
    std::memcpy(delivered_.data(), &wire_, sizeof wire_);
    benchmark::ClobberMemory();
    sample out;
    if (!hand_decode(delivered_.data(), out)) return false;
    benchmark::DoNotOptimize(out);
    return out.seq == s;
  }

 private:
  std::uint64_t seq_ = 0;
  sample_wire wire_{};
  alignas(8) std::array<std::byte, sizeof(sample_wire)> delivered_{};
};

// Pairs machport's operation `lib` with the hand-written baseline `Hand`.
template <class Hand, class Lib>
void run_codec(benchmark::State& state, Lib lib) {
  Hand hand;
  machport_bench::pair_options paired;
  paired.a_name = "hand";
  paired.target.max_ratio = 1.2;
  paired.batch = 1024;  // a few ns per operation: keep the clock reads out of the figures
  machport_bench::run_paired(state, hand, lib, paired);
}

void typed_encode(benchmark::State& state) {
  std::uint64_t seq = 0;
  run_codec<hand_encode_op>(state, [&] {
    machport::message m = machport::encode(next_sample(++seq));
    benchmark::DoNotOptimize(m.bytes().data());
    return m.size() == sizeof(sample_wire);
  });
}

void typed_round_trip(benchmark::State& state) {
  std::uint64_t seq = 0;
  run_codec<hand_round_trip_op>(state, [&] {
    const std::uint64_t s = ++seq;
    machport::message sent = machport::encode(next_sample(s));
    auto out = machport::decode<sample>(machport::message::adopt_received(sent.bytes()));
    if (!out) return false;
    benchmark::DoNotOptimize(out.value());
    return out.value().seq == s;
  });
}

void typed_encode_reused(benchmark::State& state) {
  std::uint64_t seq = 0;
  machport::message m;
  run_codec<hand_encode_op>(state, [&] {
    machport::encode(next_sample(++seq), m);
    benchmark::DoNotOptimize(m.bytes().data());
    return m.size() == sizeof(sample_wire);
  });
}

void typed_round_trip_reused(benchmark::State& state) {
  std::uint64_t seq = 0;
  machport::message sent, received;
  run_codec<hand_round_trip_op>(state, [&] {
    const std::uint64_t s = ++seq;
    machport::encode(next_sample(s), sent);
    received.assign_received(sent.bytes());
    benchmark::ClobberMemory();
    auto out = machport::decode<sample>(received);
    if (!out) return false;
    benchmark::DoNotOptimize(out.value());
    return out.value().seq == s;
  });
}

}  // namespace

BENCHMARK(typed_encode);
BENCHMARK(typed_round_trip);
BENCHMARK(typed_encode_reused);
BENCHMARK(typed_round_trip_reused);

MACHPORT_BENCHMARK_MAIN();
