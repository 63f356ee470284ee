// Kernel entry (the lock and the per-task call counters) and the counters' inspection API.
#include "kernel_entry.hpp"

#include <machport_emu/task.hpp>

#include "ipc.hpp"

namespace machport_emu::detail {

kernel_entry::kernel_entry(kcall call)
    : lock_(kernel_mutex()), caller_(current_space_locked()) {
  if (caller_) ++caller_->kernel_calls[std::size_t(call)];
}

space* kernel_entry::space_of(mach_port_t task) const {
  return task == task_self_name && caller_ && caller_->active ? caller_ : nullptr;
}

namespace {
// Terminated tasks keep their counts; an unknown id has none.
const kcall_counters* counters_locked(task_id t) {
  static const kcall_counters none{};
  space* s = any_space_by_id_locked(t);
  return s ? &s->kernel_calls : &none;
}
}  // namespace

}  // namespace machport_emu::detail

namespace machport_emu {

std::uint64_t kernel_calls(task_id t) {
  std::lock_guard g(detail::kernel_mutex());
  std::uint64_t sum = 0;
  for (std::uint64_t n : *detail::counters_locked(t)) sum += n;
  return sum;
}

std::vector<std::pair<std::string_view, std::uint64_t>> kernel_call_counts(task_id t) {
  std::lock_guard g(detail::kernel_mutex());
  const detail::kcall_counters& c = *detail::counters_locked(t);
  std::vector<std::pair<std::string_view, std::uint64_t>> out;
  for (std::size_t i = 0; i < c.size(); ++i)
    if (c[i] != 0) out.emplace_back(detail::kcall_names[i], c[i]);
  return out;
}

}  // namespace machport_emu
