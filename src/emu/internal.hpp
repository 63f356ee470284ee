// The kernel state and the helpers shared by kernel.cpp, rights.cpp, port_api.cpp, vm.cpp and
// misc.cpp (name table, rights, port death). msg.cpp and kqueue.cpp use ipc.hpp only.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "ipc.hpp"

namespace machport_emu::detail {

// Largest index + 1 a space can hold (XNU's table limit; names beyond → KERN_NO_SPACE).
constexpr mach_port_index_t max_name_index = 0x40000;

struct kernel_state {
  std::mutex mutex;
  std::map<std::uint32_t, std::unique_ptr<space>> spaces;  // terminated ones stay, inactive
  std::uint32_t next_task_id = 1;
  std::uint32_t initial = 0;
  unsigned next_pid = 100;
  // bootstrap namespace: service name → the port (the kernel holds one send right for it).
  struct service {
    port_ref p;
    bool checked_in = false;
  };
  std::map<std::string, service> services;
};

kernel_state& kernel();
space* initial_space_locked();

// Name table.
bool index_in_use_locked(space* s, mach_port_index_t i);
kern_return_t alloc_name_locked(space* s, mach_port_name_t* out);  // KERN_NO_SPACE when full
kern_return_t claim_name_locked(space* s, mach_port_name_t name);  // §2.1 checks + in use
kern_return_t check_name_locked(space* s, mach_port_name_t name);  // §2.1 checks only
void free_name_locked(space* s, mach_port_name_t name);            // drops entry + reverse map
entry& new_entry_locked(space* s, mach_port_name_t name);

inline bool is_reserved_name(mach_port_name_t n) {
  return n == task_self_name || n == bootstrap_name || n == host_self_name ||
         n == thread_self_name;
}

// Ports and sets.
port_ref new_port_locked();
// Removes the receive right under `name` from s (§2.6 RECEIVE -1 / destruct / destroy) and
// destroys the port (or sends it in a port-destroyed notification).
void destroy_receive_by_name_locked(space* s, mach_port_name_t name);
void destroy_pset_by_name_locked(space* s, mach_port_name_t name);
// Detaches the receive right from its space: reset of §2.10, knotes vanish, receivers wake.
void detach_receive_locked(port* p);
// Removes a send / send-once / dead entry's right under `name` entirely, with notifications.
// Cancels the name's request (port-deleted) when the name goes away.
void cancel_request_locked(space* s, mach_port_name_t name, entry& e, kright* out_notify);
void port_deleted_notify_locked(kright&& notify, mach_port_name_t name);
// The last send uref of `name` leaves the space, whether it is dropped (mach_port_deallocate,
// mod_refs, destroy, destruct) or moved into a message (MOVE_SEND copy-in): a SEND|RECEIVE
// name keeps its receive right; a SEND name goes away and its request is cancelled into
// *deleted, whose port-deleted notification the caller sends once done with the right.
// Returns the port; the right is still counted in its srights.
port_ref take_last_send_right_locked(space* s, mach_port_name_t name, entry& e, kright* deleted);
void add_to_set_locked(port* p, pset* ps);
void remove_from_set_locked(port* p, pset* ps);
void terminate_space_locked(space* s);
// mach_port_destroy body (without task check); used by task exit too.
kern_return_t destroy_name_locked(space* s, mach_port_name_t name, bool check_guard);
kern_return_t dealloc_name_locked(space* s, mach_port_name_t name);
// insert_right's copy-out under a chosen name (§2.4 step 3); destroys the right on failure.
kern_return_t copyout_right_name_locked(space* s, kright&& r, mach_port_name_t name);

}  // namespace machport_emu::detail
