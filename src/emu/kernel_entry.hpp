// Entering the emulated kernel: the one kernel lock, held for one Mach call, and the count of
// such calls per task.
//
// Every emulated routine that enters the kernel on macOS (a trap or a MIG message to a kernel
// object: mach_msg, each mach_port_*, vm_allocate / vm_deallocate, task_info,
// task_get_special_port, mach_reply_port, the *_self_trap traps behind mach_host_self() and
// mach_thread_self(), kqueue / kevent) and every bootstrap call (one mach_msg round trip to
// launchd) starts with a kernel_entry. Routines that are user space on macOS (mach_task_self,
// which reads a variable, mach_error_string, mig_get_reply_port's cache, mach_msg_destroy and
// mach_msg_server_once, which make the kernel calls listed here themselves) do not count; nor
// does close() on a kqueue descriptor (a file call, not an IPC one) or the emulator's own task
// API. A failing call counts: it entered the kernel.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string_view>

#include <mach/mach.h>

namespace machport_emu::detail {

struct space;

// The kernel entry points, one counter each. Spellings of one entry share a counter
// (mach_msg_overwrite, mach_msg_send, mach_msg_receive → mach_msg; kevent64 → kevent;
// mach_vm_allocate → vm_allocate; mach_vm_deallocate → vm_deallocate).
enum class kcall : std::uint8_t {
  mach_msg,
  mach_port_allocate,
  mach_port_allocate_name,
  mach_port_allocate_qos,
  mach_port_allocate_full,
  mach_port_type,
  mach_port_names,
  mach_port_get_refs,
  mach_port_mod_refs,
  mach_port_deallocate,
  mach_port_destroy,
  mach_port_construct,
  mach_port_destruct,
  mach_port_guard,
  mach_port_guard_with_flags,
  mach_port_unguard,
  mach_port_swap_guard,
  mach_port_get_context,
  mach_port_set_context,
  mach_port_set_mscount,
  mach_port_set_seqno,
  mach_port_get_srights,
  mach_port_get_attributes,
  mach_port_set_attributes,
  mach_port_move_member,
  mach_port_insert_member,
  mach_port_extract_member,
  mach_port_get_set_status,
  mach_port_insert_right,
  mach_port_extract_right,
  mach_port_request_notification,
  mach_port_peek,
  mach_reply_port,
  task_self_trap,
  host_self_trap,
  thread_self_trap,
  task_info,
  task_get_special_port,
  vm_allocate,
  vm_deallocate,
  kqueue,
  kevent,
  bootstrap_check_in,
  bootstrap_register,
  bootstrap_look_up,
};

inline constexpr std::size_t kcall_count = std::size_t(kcall::bootstrap_look_up) + 1;

// Names for reports, indexed by kcall.
inline constexpr std::array<std::string_view, kcall_count> kcall_names = {
    "mach_msg",
    "mach_port_allocate",
    "mach_port_allocate_name",
    "mach_port_allocate_qos",
    "mach_port_allocate_full",
    "mach_port_type",
    "mach_port_names",
    "mach_port_get_refs",
    "mach_port_mod_refs",
    "mach_port_deallocate",
    "mach_port_destroy",
    "mach_port_construct",
    "mach_port_destruct",
    "mach_port_guard",
    "mach_port_guard_with_flags",
    "mach_port_unguard",
    "mach_port_swap_guard",
    "mach_port_get_context",
    "mach_port_set_context",
    "mach_port_set_mscount",
    "mach_port_set_seqno",
    "mach_port_get_srights",
    "mach_port_get_attributes",
    "mach_port_set_attributes",
    "mach_port_move_member",
    "mach_port_insert_member",
    "mach_port_extract_member",
    "mach_port_get_set_status",
    "mach_port_insert_right",
    "mach_port_extract_right",
    "mach_port_request_notification",
    "mach_port_peek",
    "mach_reply_port",
    "task_self_trap",
    "host_self_trap",
    "thread_self_trap",
    "task_info",
    "task_get_special_port",
    "vm_allocate",
    "vm_deallocate",
    "kqueue",
    "kevent",
    "bootstrap_check_in",
    "bootstrap_register",
    "bootstrap_look_up",
};
static_assert(kcall_names.back() == "bootstrap_look_up", "one name per kcall, in order");

using kcall_counters = std::array<std::uint64_t, kcall_count>;

// One call inside the kernel: locks kernel_mutex() for its lifetime and counts `call` against
// the calling thread's task.
class kernel_entry {
 public:
  explicit kernel_entry(kcall call);
  kernel_entry(const kernel_entry&) = delete;
  kernel_entry& operator=(const kernel_entry&) = delete;

  // The calling thread's task's space (null only for a thread running as an unknown task).
  space* caller() const { return caller_; }
  // The space a `task` argument names: the caller's own when `task` is its mach_task_self()
  // and the task is alive, else null (then the call fails as MIG would: the send to that
  // name fails, MACH_SEND_INVALID_DEST, unless the routine documents another code).
  space* space_of(mach_port_t task) const;
  // For the calls that wait (mach_msg, kevent): condition variables release it meanwhile.
  std::unique_lock<std::mutex>& lock() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
  space* caller_;
};

}  // namespace machport_emu::detail
