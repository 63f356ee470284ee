// Emulator extension API (not Mach): several simulated tasks (IPC spaces) in one process.
// Linux only; include it from code under `#if MACHPORT_EMULATED`.
#pragma once

#include <mach/mach.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace machport_emu {

using task_id = std::uint32_t;

struct task_options {
  std::string name;
  uid_t uid = 501;
  gid_t gid = 20;
};

// A new empty IPC space with a fresh pid (audit token val[5]) and the given euid/egid.
task_id task_create(task_options opts = {});
// The task every thread starts in.
task_id initial_task();
// The calling thread's task.
task_id current_task();

// RAII: runs the calling thread as `t` until destroyed (then the previous task again).
class task_scope {
 public:
  explicit task_scope(task_id t);
  ~task_scope();
  task_scope(const task_scope&) = delete;
  task_scope& operator=(const task_scope&) = delete;

 private:
  task_id previous_;
};

// Like process exit: receive rights die, send rights are released, notifications fire. The id
// becomes invalid. Terminating the initial task is not allowed (ignored).
void task_terminate(task_id t);

struct name_info {
  mach_port_name_t name;
  mach_port_type_t type;          // as mach_port_type reports it (incl. DNREQUEST)
  mach_port_urefs_t send_urefs;   // 0 unless SEND
  mach_port_urefs_t dead_urefs;   // 0 unless DEAD_NAME
};

// Every user-visible name of `t`, sorted by name (reserved names excluded).
std::vector<name_info> task_names(task_id t);
std::vector<task_id> live_tasks();
audit_token_t task_audit_token(task_id t);        // what receivers see in the trailer
security_token_t task_security_token(task_id t);  // {euid, egid}

// Kernel calls made as task `t` so far: every emulated routine that enters the kernel on macOS
// (mach_msg and its spellings, each mach_port_* routine, vm_allocate / vm_deallocate,
// task_info, task_get_special_port, mach_reply_port, the traps behind mach_host_self() and
// mach_thread_self(), kqueue / kevent) and each bootstrap call
// (one mach_msg round trip to launchd), failing ones included. User-space helpers
// (mach_task_self, mach_error_string, mach_msg_destroy...) count only the kernel calls they
// make. A terminated task keeps its count; an unknown id has made none.
std::uint64_t kernel_calls(task_id t);
// The same, per routine (names as in the SDK; spellings of one routine share a counter, e.g.
// mach_msg_overwrite → "mach_msg", kevent64 → "kevent"), in a fixed order, only non-zero ones.
std::vector<std::pair<std::string_view, std::uint64_t>> kernel_call_counts(task_id t);

// ---- test inspection: act on a blocked thread without sleeping --------------------------------

// The wait a thread blocked in mach_msg is in.
enum class blocked_in : std::uint8_t {
  send,     // sending to a full queue
  receive,  // receiving from an empty port or port set
};

// Blocks until at least `count` threads are blocked in mach_msg on the port `name` names in
// task `t` (send: `name` holds a send, send-once or receive right; receive: the receive right
// or a port set). A thread counts from the moment it waits until it is woken, so whatever the
// caller does next reaches it as a blocked thread. False at once if `name` holds no such right.
bool wait_until_blocked(task_id t, mach_port_name_t name, blocked_in in, std::size_t count);
// The same for threads blocked in kevent / kevent64 on the kqueue descriptor `kq` (counted
// from before they wait until they rescan). False at once if `kq` is not an emulated kqueue.
bool wait_until_kevent_blocked(int kq, std::size_t count);

}  // namespace machport_emu
