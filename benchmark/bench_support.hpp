// Shared by the benchmarks: an allocation counter, emulated tasks, and the paired runner that
// measures two variants of one operation (a raw baseline and machport's) alternately in one run.
//
// Each benchmark/*.cpp is one executable and ends with MACHPORT_BENCHMARK_MAIN(), which also
// defines the counting global operator new/delete (so exactly once per executable).
#pragma once

#include <benchmark/benchmark.h>

#include <machport/detail/platform.hpp>

#if MACHPORT_EMULATED
#include <machport_emu/task.hpp>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

namespace machport_bench {

// Heap allocations made by any thread since the program started (operator new calls).
inline std::atomic<std::uint64_t> allocations{0};

// Set when a benchmark failed: Google Benchmark 1.7 exits with 0 after SkipWithError, and CI
// must notice a benchmark that stopped working.
inline std::atomic<bool> any_failed{false};

inline void fail(benchmark::State& state, const char* why) {
  any_failed.store(true);
  state.SkipWithError(why);
}

// A task of its own on the emulated kernel (several tasks live in one process there); on
// macOS the process is the only task, so every bench_task is the calling task.
class bench_task {
 public:
#if MACHPORT_EMULATED
  explicit bench_task(const char* name) : id_(machport_emu::task_create({name})) {}
  ~bench_task() { machport_emu::task_terminate(id_); }
  // Runs the calling thread as this task while the returned object lives.
  machport_emu::task_scope enter() const { return machport_emu::task_scope(id_); }
  std::uint64_t kernel_calls() const { return machport_emu::kernel_calls(id_); }
#else
  explicit bench_task(const char*) {}
  struct no_scope {};
  no_scope enter() const { return {}; }
#endif
  bench_task(const bench_task&) = delete;
  bench_task& operator=(const bench_task&) = delete;

 private:
#if MACHPORT_EMULATED
  machport_emu::task_id id_;
#endif
};

// Runs f() as `task`.
template <class F>
decltype(auto) in_task(const bench_task& task, F&& f) {
  auto scope = task.enter();
  (void)scope;
  return f();
}

// Whether kernel calls can be counted (the emulator's inspection API; not on macOS).
inline constexpr bool counts_kernel_calls = MACHPORT_EMULATED != 0;

// What a variant's figures are checked against; a missed target sets target_met to 0 and
// names the miss in the benchmark's label.
struct targets {
  double max_overhead_ns = -1;     // the overhead_ns counter (b - a); negative: no target
  double max_ratio = -1;           // the ratio counter (b / a); negative: no target
  bool equal_kernel_calls = true;  // b makes as many kernel calls per operation as a
  // b allocates nothing per operation in steady state beyond what a allocates: the emulated
  // kernel runs in this process and allocates for a raw message too (on macOS a's count is 0).
  bool no_extra_allocations = true;
};

// Where a variant runs and whose kernel calls it is charged with: the task it runs as, and
// the tasks of threads that serve it (a server answering its requests).
struct side_tasks {
  const bench_task* run_as = nullptr;             // null: the calling thread's task
  std::vector<const bench_task*> also_counted{};  // besides the task it runs as
};

struct pair_options {
  const char* a_name = "raw";
  const char* b_name = "machport";
  targets target{};
  side_tasks a_tasks{};
  side_tasks b_tasks{};
  std::size_t batch = 64;  // operations per timed batch
  // run_paired_with_floor only: the floor's name (its counters) and where it runs.
  const char* floor_name = "floor";
  side_tasks floor_tasks{};
};

namespace detail {

struct side_totals {
  std::vector<double> batch_ns;  // per operation, one entry per timed batch
  std::uint64_t ops = 0;
  std::uint64_t allocs = 0;
  std::uint64_t calls = 0;
};

// Called while running as the side's task.
inline std::uint64_t kernel_calls_of(const side_tasks& tasks) {
#if MACHPORT_EMULATED
  std::uint64_t sum = machport_emu::kernel_calls(machport_emu::current_task());
  for (const bench_task* t : tasks.also_counted) sum += t->kernel_calls();
  return sum;
#else
  (void)tasks;
  return 0;
#endif
}

// Runs `n` operations as the side's task; false if one failed. Only the operations are timed.
// An op with a begin_batch(n) member has it called first, untimed and uncounted (a stream
// benchmark tells its sender thread to send the n messages the batch will receive).
template <class Op>
bool run_batch(Op& op, const side_tasks& tasks, std::size_t n, side_totals* totals) {
  auto body = [&]() -> bool {
    if constexpr (requires { op.begin_batch(n); }) op.begin_batch(n);
    const std::uint64_t calls0 = kernel_calls_of(tasks);
    const std::uint64_t allocs0 = allocations.load(std::memory_order_relaxed);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i) {
      if (!op()) return false;
    }
    const auto t1 = std::chrono::steady_clock::now();
    const std::uint64_t allocs1 = allocations.load(std::memory_order_relaxed);
    if (totals != nullptr) {
      totals->batch_ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() /
                                 static_cast<double>(n));
      totals->ops += n;
      totals->allocs += allocs1 - allocs0;
      totals->calls += kernel_calls_of(tasks) - calls0;
    }
    return true;
  };
  return tasks.run_as != nullptr ? in_task(*tasks.run_as, body) : body();
}

// The median of `values` (reordered); 0 if empty.
inline double median(std::vector<double>& values) {
  if (values.empty()) return 0;
  const auto mid = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), mid, values.end());
  return *mid;
}

inline std::string format_miss(const char* what, double got, double limit) {
  char text[96];
  std::snprintf(text, sizeof text, "%s %.4g > %.4g; ", what, got, limit);
  return text;
}

}  // namespace detail

namespace detail {

// What run_paired measures when there is no floor.
struct no_floor {
  bool operator()() const { return true; }
};

// run_paired and run_paired_with_floor (OpF = no_floor: no floor).
template <class OpA, class OpB, class OpF>
void run_compared(benchmark::State& state, OpA& a, OpB& b, OpF* floor,
                  const pair_options& options) {
  constexpr bool has_floor = !std::is_same_v<OpF, no_floor>;
  constexpr unsigned sides = has_floor ? 3 : 2;
  // Warm-up (untimed): first-use allocations, lazily created kernel objects, caches.
  if (!run_batch(a, options.a_tasks, options.batch, nullptr) ||
      !run_batch(b, options.b_tasks, options.batch, nullptr) ||
      (has_floor && !run_batch(*floor, options.floor_tasks, options.batch, nullptr))) {
    fail(state, "an operation failed during warm-up");
    return;
  }
  side_totals ta, tb, tf;
  // The order rotates: a b, b a, ... (with a floor: a b f, b f a, f a b, ...).
  unsigned first = 0;
  for (auto _ : state) {
    bool ok = true;
    for (unsigned k = 0; k < sides && ok; ++k) {
      switch ((first + k) % sides) {
        case 0: ok = run_batch(a, options.a_tasks, options.batch, &ta); break;
        case 1: ok = run_batch(b, options.b_tasks, options.batch, &tb); break;
        default: ok = run_batch(*floor, options.floor_tasks, options.batch, &tf); break;
      }
    }
    if (!ok) {
      fail(state, "an operation failed");
      return;
    }
    first = (first + 1) % sides;
  }
  if (ta.ops == 0 || tb.ops == 0) return;

  const auto per = [](double total, std::uint64_t ops) { return total / static_cast<double>(ops); };
  // Medians over the batches: a batch that lost the CPU to another process is an outlier, not
  // a figure. The ratio and the overhead are the medians of the per-pair figures.
  std::vector<double> ratios, overheads;
  for (std::size_t i = 0; i < ta.batch_ns.size() && i < tb.batch_ns.size(); ++i) {
    ratios.push_back(tb.batch_ns[i] / ta.batch_ns[i]);
    overheads.push_back(tb.batch_ns[i] - ta.batch_ns[i]);
  }
  const double ratio = detail::median(ratios);
  const double overhead = detail::median(overheads);
  const double a_ns = detail::median(ta.batch_ns);
  const double b_ns = detail::median(tb.batch_ns);
  const double a_allocs = per(static_cast<double>(ta.allocs), ta.ops);
  const double b_allocs = per(static_cast<double>(tb.allocs), tb.ops);
  const std::string a_name = options.a_name;
  const std::string b_name = options.b_name;
  state.counters[a_name + "_ns"] = a_ns;
  state.counters[b_name + "_ns"] = b_ns;
  state.counters["ratio"] = ratio;
  state.counters["overhead_ns"] = overhead;
  state.counters[a_name + "_allocs"] = a_allocs;
  state.counters[b_name + "_allocs"] = b_allocs;

  const targets& t = options.target;
  std::string missed;
  // Exact equality of the totals would trip on work done across a batch boundary by a thread
  // still running: a server re-arming and entering its next wait after its last reply makes
  // up to two calls that fall outside its side's batch (or into it), on either side. Allow
  // two per batch: a real extra call or allocation per operation is 32 times that.
  const double boundary_slack = 2.0 / static_cast<double>(options.batch);
  if (t.max_overhead_ns >= 0 && overhead > t.max_overhead_ns) {
    missed += detail::format_miss("overhead_ns", overhead, t.max_overhead_ns);
  }
  if (t.max_ratio >= 0 && ratio > t.max_ratio) {
    missed += detail::format_miss("ratio", ratio, t.max_ratio);
  }
  // The same slack as for kernel calls below: a server thread may free or allocate across a
  // batch boundary.
  if (t.no_extra_allocations && b_allocs > a_allocs + boundary_slack) {
    missed += detail::format_miss((b_name + "_allocs").c_str(), b_allocs, a_allocs);
  }
  if constexpr (counts_kernel_calls) {
    const double a_calls = per(static_cast<double>(ta.calls), ta.ops);
    const double b_calls = per(static_cast<double>(tb.calls), tb.ops);
    state.counters[a_name + "_calls"] = a_calls;
    state.counters[b_name + "_calls"] = b_calls;
    if (t.equal_kernel_calls && b_calls > a_calls + boundary_slack) {
      missed += detail::format_miss((b_name + "_calls").c_str(), b_calls, a_calls);
    }
  }
  if (has_floor && tf.ops != 0) {
    // b against the floor, per group of batches, as ratio and overhead_ns are against a.
    std::vector<double> floor_ratios, floor_overheads;
    for (std::size_t i = 0; i < tf.batch_ns.size() && i < tb.batch_ns.size(); ++i) {
      floor_ratios.push_back(tb.batch_ns[i] / tf.batch_ns[i]);
      floor_overheads.push_back(tb.batch_ns[i] - tf.batch_ns[i]);
    }
    const std::string f_name = options.floor_name;
    state.counters[f_name + "_ns"] = median(tf.batch_ns);
    state.counters[f_name + "_ratio"] = median(floor_ratios);
    state.counters[f_name + "_overhead_ns"] = median(floor_overheads);
    state.counters[f_name + "_allocs"] = per(static_cast<double>(tf.allocs), tf.ops);
    if constexpr (counts_kernel_calls) {
      state.counters[f_name + "_calls"] = per(static_cast<double>(tf.calls), tf.ops);
    }
  }
  state.counters["target_met"] = missed.empty() ? 1 : 0;
  if (!missed.empty()) {
    missed.resize(missed.size() - 2);  // the last "; "
    state.SetLabel("MISSED: " + missed);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(ta.ops + tb.ops + tf.ops));
}

}  // namespace detail

// Measures `a` (the baseline) and `b` in one benchmark run: each benchmark iteration runs a
// batch of `a` and a batch of `b` (the order alternating), each batch timed on its own with a
// steady clock, so that a noisy machine slows both alike. Each op is `bool()`: one operation
// (one message, one round trip, ...), false when it failed.
//
// Counters (per operation): <a>_ns, <b>_ns (median over the batches), ratio (b/a) and
// overhead_ns (b - a) (medians over the pairs of batches), <a>_allocs, <b>_allocs (operator new
// calls by any thread, mean), <a>_calls, <b>_calls (kernel calls of the counted tasks, mean;
// emulator only), target_met (1/0; the label names each miss). A server thread still finishing
// the last operation of a batch (freeing, entering its next receive) may have that work counted
// in the next batch: a small error, below one allocation or call per batch.
template <class OpA, class OpB>
void run_paired(benchmark::State& state, OpA&& a, OpB&& b, const pair_options& options = {}) {
  detail::run_compared(state, a, b, static_cast<detail::no_floor*>(nullptr), options);
}

// The same with a third variant, `floor`, when `a` is a hand-written equivalent of `b` that
// does more than the raw mach_msg floor (a kqueue loop, say): the three run in rotating order.
// The targets still compare b with a; the floor adds the counters <floor>_ns, <floor>_ratio
// (b / floor), <floor>_overhead_ns (b - floor), <floor>_allocs, <floor>_calls (named by
// options.floor_name; the floor runs as options.floor_tasks).
template <class OpF, class OpA, class OpB>
void run_paired_with_floor(benchmark::State& state, OpF&& floor, OpA&& a, OpB&& b,
                           const pair_options& options = {}) {
  detail::run_compared(state, a, b, &floor, options);
}

}  // namespace machport_bench

// Replaces the global allocation functions with counting ones (the aligned and unaligned
// forms; the array and nothrow forms call these) and defines main(), which returns 1 if a
// benchmark failed. Use once per executable, at namespace scope. Not inlined: g++ would see
// free() applied to what operator new returned and warn (-Wmismatched-new-delete).
#define MACHPORT_BENCHMARK_MAIN()                                                              \
  [[gnu::noinline]] void* operator new(std::size_t size) {                                     \
    machport_bench::allocations.fetch_add(1, std::memory_order_relaxed);                       \
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;                                 \
    throw std::bad_alloc();                                                                    \
  }                                                                                            \
  [[gnu::noinline]] void* operator new(std::size_t size, std::align_val_t align) {             \
    machport_bench::allocations.fetch_add(1, std::memory_order_relaxed);                       \
    const auto a = std::max(static_cast<std::size_t>(align), sizeof(void*));                   \
    void* p = nullptr;                                                                         \
    if (::posix_memalign(&p, a, size == 0 ? 1 : size) == 0) return p;                          \
    throw std::bad_alloc();                                                                    \
  }                                                                                            \
  [[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }                   \
  [[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }      \
  [[gnu::noinline]] void operator delete(void* p, std::align_val_t) noexcept {                 \
    std::free(p);                                                                              \
  }                                                                                            \
  [[gnu::noinline]] void operator delete(void* p, std::size_t, std::align_val_t) noexcept {    \
    std::free(p);                                                                              \
  }                                                                                            \
  int main(int argc, char** argv) {                                                            \
    benchmark::Initialize(&argc, argv);                                                        \
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;                          \
    benchmark::RunSpecifiedBenchmarks();                                                       \
    benchmark::Shutdown();                                                                     \
    return machport_bench::any_failed.load() ? 1 : 0;                                          \
  }                                                                                            \
  static_assert(true, "")
