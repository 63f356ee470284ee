// Kernel state, tasks (IPC spaces), the name table, and the machport_emu task API.
#include <machport_emu/task.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <unistd.h>

#include <cstring>

#include "internal.hpp"

namespace machport_emu::detail {

kernel_state& kernel() {
  // Never destroyed: threads may still be inside the kernel while statics are torn down.
  static auto* k = new kernel_state;
  return *k;
}

std::mutex& kernel_mutex() { return kernel().mutex; }

namespace {
thread_local task_id tls_task = 0;  // 0 = the initial task (resolved lazily)
// tls_task's space once looked up. Spaces are never freed (terminated ones stay), so the
// pointer stays valid; task_scope resets it when the thread changes task.
thread_local space* tls_space = nullptr;

space* make_space_locked(const task_options& opts) {
  kernel_state& k = kernel();
  auto s = std::make_unique<space>();
  s->task = k.next_task_id++;
  s->name = opts.name;
  // Fresh pids for created tasks, never the real process's pid (the initial task's).
  if (k.next_pid == unsigned(::getpid())) ++k.next_pid;
  const unsigned pid = k.next_pid++;
  s->audit.val[0] = opts.uid;  // auid
  s->audit.val[1] = opts.uid;  // euid
  s->audit.val[2] = opts.gid;  // egid
  s->audit.val[3] = opts.uid;  // ruid
  s->audit.val[4] = opts.gid;  // rgid
  s->audit.val[5] = pid;
  s->audit.val[6] = pid;       // asid: one session per emulated task
  s->audit.val[7] = 1;         // pidversion
  s->security.val[0] = opts.uid;
  s->security.val[1] = opts.gid;
  space* raw = s.get();
  k.spaces.emplace(raw->task, std::move(s));
  return raw;
}
}  // namespace

space* initial_space_locked() {
  kernel_state& k = kernel();
  if (k.initial == 0) {
    task_options o;
    o.name = "initial";
    o.uid = ::geteuid();
    o.gid = ::getegid();
    space* s = make_space_locked(o);
    // The initial task is the real process: its own pid and real ids in the audit token.
    s->audit.val[3] = ::getuid();
    s->audit.val[4] = ::getgid();
    s->audit.val[5] = unsigned(::getpid());
    s->audit.val[6] = unsigned(::getpid());
    k.initial = s->task;
  }
  return k.spaces.at(k.initial).get();
}

space* space_by_id_locked(std::uint32_t id) {
  space* s = any_space_by_id_locked(id);
  return s && s->active ? s : nullptr;
}

space* any_space_by_id_locked(std::uint32_t id) {
  if (id == 0) return initial_space_locked();
  auto it = kernel().spaces.find(id);
  return it == kernel().spaces.end() ? nullptr : it->second.get();
}

space* current_space_locked() {
  if (!tls_space) tls_space = any_space_by_id_locked(tls_task);
  return tls_space;
}

// ---- name table -----------------------------------------------------------------------

namespace {
constexpr std::uint8_t first_gen = 0x03;
inline mach_port_index_t index_of(mach_port_name_t n) { return n >> 8; }
inline mach_port_name_t make_name(mach_port_index_t i, std::uint8_t gen) { return (i << 8) | gen; }
}  // namespace

entry* lookup_entry_locked(space* s, mach_port_name_t name) {
  auto it = s->entries.find(name);
  return it == s->entries.end() ? nullptr : &it->second;
}

std::vector<mach_port_name_t> sorted_names_locked(const space* s) {
  std::vector<mach_port_name_t> names;
  names.reserve(s->entries.size());
  for (const auto& [name, e] : s->entries) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

mach_port_name_t find_port_name_locked(space* s, const port* p) {
  auto it = s->port_names.find(p);
  return it == s->port_names.end() ? MACH_PORT_NULL : it->second;
}

bool index_in_use_locked(space* s, mach_port_index_t i) {
  if (i >= 1 && i <= index_of(thread_self_name)) return true;  // reserved names
  auto g = s->generations.find(i);
  return g != s->generations.end() && s->entries.count(make_name(i, g->second)) != 0;
}

kern_return_t alloc_name_locked(space* s, mach_port_name_t* out) {
  mach_port_index_t i = 0;
  while (!s->free_indices.empty()) {
    mach_port_index_t c = s->free_indices.back();
    s->free_indices.pop_back();
    if (!index_in_use_locked(s, c)) { i = c; break; }
  }
  if (i == 0) {
    while (s->next_index < max_name_index && index_in_use_locked(s, s->next_index)) ++s->next_index;
    if (s->next_index >= max_name_index) return KERN_NO_SPACE;
    i = s->next_index++;
  }
  auto g = s->generations.find(i);
  // Reuse advances the generation by 4, keeping the low two bits 0b11.
  std::uint8_t gen = g == s->generations.end() ? first_gen : std::uint8_t(g->second + 4);
  s->generations[i] = gen;
  *out = make_name(i, gen);
  return KERN_SUCCESS;
}

kern_return_t check_name_locked(space* s, mach_port_name_t name) {
  if (name == MACH_PORT_NULL || name == MACH_PORT_DEAD) return KERN_INVALID_VALUE;
  const mach_port_index_t i = index_of(name);
  if (i >= max_name_index) return KERN_NO_SPACE;
  if ((name & 3) != 3) return KERN_INVALID_VALUE;
  if (i == 0) return KERN_FAILURE;
  (void)s;
  return KERN_SUCCESS;
}

kern_return_t claim_name_locked(space* s, mach_port_name_t name) {
  if (const kern_return_t kr = check_name_locked(s, name); kr != KERN_SUCCESS) return kr;
  const mach_port_index_t i = index_of(name);
  if (index_in_use_locked(s, i)) return KERN_NAME_EXISTS;
  s->generations[i] = std::uint8_t(name & 0xff);
  return KERN_SUCCESS;
}

void free_name_locked(space* s, mach_port_name_t name) {
  auto it = s->entries.find(name);
  if (it == s->entries.end()) return;
  if (it->second.p && (it->second.type & MACH_PORT_TYPE_SEND_RECEIVE)) {
    auto r = s->port_names.find(it->second.p.get());
    if (r != s->port_names.end() && r->second == name) s->port_names.erase(r);
  }
  s->entries.erase(it);
  s->free_indices.push_back(index_of(name));
}

entry& new_entry_locked(space* s, mach_port_name_t name) {
  entry& e = s->entries[name];
  e = entry{};
  return e;
}

}  // namespace machport_emu::detail

// ---- public task API ----------------------------------------------------------------------

namespace machport_emu {
using namespace detail;

task_id task_create(task_options opts) {
  std::lock_guard g(kernel_mutex());
  initial_space_locked();
  return make_space_locked(opts)->task;
}

task_id initial_task() {
  std::lock_guard g(kernel_mutex());
  return initial_space_locked()->task;
}

task_id current_task() {
  std::lock_guard g(kernel_mutex());
  return tls_task == 0 ? initial_space_locked()->task : tls_task;
}

task_scope::task_scope(task_id t) : previous_(current_task()) {
  tls_task = t;
  tls_space = nullptr;
}
task_scope::~task_scope() {
  tls_task = previous_;
  tls_space = nullptr;
}

void task_terminate(task_id t) {
  std::lock_guard g(kernel_mutex());
  space* s = space_by_id_locked(t);
  if (!s || s->task == initial_space_locked()->task) return;
  terminate_space_locked(s);
}

std::vector<name_info> task_names(task_id t) {
  std::lock_guard g(kernel_mutex());
  std::vector<name_info> out;
  space* s = space_by_id_locked(t);
  if (!s) return out;
  for (mach_port_name_t name : sorted_names_locked(s)) {
    const entry& e = s->entries.at(name);
    name_info ni{name, e.type, 0, 0};
    // Report what mach_port_type would, without converting (inspection must not mutate).
    if ((e.type & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE)) && e.p && !e.p->active) {
      ni.type = MACH_PORT_TYPE_DEAD_NAME;
      ni.dead_urefs = ((e.type & MACH_PORT_TYPE_SEND) ? e.urefs : 1) + (e.has_request ? 1 : 0);
      if (ni.dead_urefs > 0xFFFF) ni.dead_urefs = 0xFFFF;
    } else {
      if (e.has_request) ni.type |= MACH_PORT_TYPE_DNREQUEST;
      if (e.type & MACH_PORT_TYPE_SEND) ni.send_urefs = e.urefs;
      if (e.type & MACH_PORT_TYPE_DEAD_NAME) ni.dead_urefs = e.urefs;
    }
    out.push_back(ni);
  }
  return out;
}

std::vector<task_id> live_tasks() {
  std::lock_guard g(kernel_mutex());
  initial_space_locked();
  std::vector<task_id> out;
  for (auto& [id, s] : kernel().spaces)
    if (s->active) out.push_back(id);
  return out;
}

audit_token_t task_audit_token(task_id t) {
  std::lock_guard g(kernel_mutex());
  auto it = kernel().spaces.find(t);
  if (t == 0 || it == kernel().spaces.end()) return initial_space_locked()->audit;
  return it->second->audit;
}

security_token_t task_security_token(task_id t) {
  std::lock_guard g(kernel_mutex());
  auto it = kernel().spaces.find(t);
  if (t == 0 || it == kernel().spaces.end()) return initial_space_locked()->security;
  return it->second->security;
}

}  // namespace machport_emu

// ---- mach_init ------------------------------------------------------------------------

extern "C" {
mach_port_t bootstrap_port = machport_emu::detail::bootstrap_name;

mach_port_t mach_task_self_ = machport_emu::detail::task_self_name;

// Traps on macOS, unlike mach_task_self().
mach_port_t mach_host_self(void) { return host_self_trap(); }
mach_port_t mach_thread_self(void) { return thread_self_trap(); }

kern_return_t task_info(task_name_t target_task, task_flavor_t flavor, task_info_t out,
                        mach_msg_type_number_t* count) {
  using namespace machport_emu::detail;
  const kernel_entry k(kcall::task_info);
  space* const s = k.space_of(target_task);
  if (!s) return MACH_SEND_INVALID_DEST;
  switch (flavor) {
    case TASK_SECURITY_TOKEN:
      if (*count < TASK_SECURITY_TOKEN_COUNT) return KERN_INVALID_ARGUMENT;
      std::memcpy(out, &s->security, sizeof s->security);
      *count = TASK_SECURITY_TOKEN_COUNT;
      return KERN_SUCCESS;
    case TASK_AUDIT_TOKEN:
      if (*count < TASK_AUDIT_TOKEN_COUNT) return KERN_INVALID_ARGUMENT;
      std::memcpy(out, &s->audit, sizeof s->audit);
      *count = TASK_AUDIT_TOKEN_COUNT;
      return KERN_SUCCESS;
    default:
      return KERN_INVALID_ARGUMENT;
  }
}

boolean_t mach_task_is_self(task_name_t task) {
  return task == machport_emu::detail::task_self_name;
}

static vm_size_t query_page_size() { return static_cast<vm_size_t>(::sysconf(_SC_PAGESIZE)); }
static int page_shift_of(vm_size_t s) {
  int n = 0;
  while ((vm_size_t(1) << n) < s) ++n;
  return n;
}
vm_size_t vm_page_size = query_page_size();
vm_size_t vm_page_mask = vm_page_size - 1;
int vm_page_shift = page_shift_of(vm_page_size);
vm_size_t vm_kernel_page_size = vm_page_size;
vm_size_t vm_kernel_page_mask = vm_page_size - 1;
int vm_kernel_page_shift = page_shift_of(vm_page_size);
}
