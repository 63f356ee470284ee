// The seam between the emulated kernel's IPC core (ports, sets, messages) and its kqueue
// (kqueue.cpp). Everything here runs with kernel_mutex() held.
#pragma once

#include <mach/message.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace machport_emu::detail {

// The one kernel lock. Defined by the IPC core.
std::mutex& kernel_mutex();

// Notified whenever a thread starts blocking in mach_msg (full queue, empty queue) or kevent;
// what machport_emu::wait_until_blocked waits on. Defined by the IPC core.
std::condition_variable& blocked_changed();

struct ipc_object;  // a port (receive right) or a port set; defined by the core
struct knote;       // one EVFILT_MACHPORT registration; defined by kqueue.cpp

// ---- implemented by the IPC core, called by kqueue.cpp ---------------------------------

// Looks `name` up in task `owner`'s space for EV_ADD. Returns 0 and sets *obj when the name
// holds a receive right or a port set; ENOENT for an unknown or dead name; ENOTSUP for any
// other right.
int kq_lookup_locked(std::uint32_t owner, mach_port_name_t name, ipc_object** obj);

// Adds / removes a knote on an object. The core keeps the list and calls the hooks below.
void kq_attach_locked(ipc_object* obj, knote* kn);
void kq_detach_locked(ipc_object* obj, knote* kn);

// The name, in `owner`'s space, of the port holding the first queued message of obj (for a
// set: of the member that would be received from first); MACH_PORT_NULL when nothing is queued.
mach_port_name_t kq_first_message_locked(std::uint32_t owner, ipc_object* obj);

// Receives one message from obj into `buf` exactly as mach_msg(MACH_RCV_MSG|MACH_RCV_TIMEOUT,
// timeout 0) would in `owner`'s space, with `option` carrying MACH_RCV_LARGE,
// MACH_RCV_LARGE_IDENTITY and the trailer request. Returns the mach_msg_return_t; *out_size is
// the received size including the trailer on success, or the needed size without the trailer
// on MACH_RCV_TOO_LARGE with MACH_RCV_LARGE (then *identity = the name of the port holding it).
mach_msg_return_t kq_receive_locked(std::uint32_t owner, ipc_object* obj, mach_msg_option_t option,
                                    void* buf, mach_msg_size_t size, mach_msg_size_t* out_size,
                                    mach_port_name_t* identity);

// ---- implemented by kqueue.cpp, called by the IPC core ---------------------------------

// The queue state of a watched object changed: a message was enqueued (posted_to_empty is
// true when the port's queue went from empty to non-empty, which is what re-arms EV_CLEAR), a
// message was dequeued, or a member joined or left a watched set.
void knote_queue_changed_locked(knote* kn, bool posted_to_empty);

// The object died, or its receive right left the space (destroy, destruct, move, task exit).
// The core removes kn from the object's list right after this call.
void knote_vanished_locked(knote* kn);

}  // namespace machport_emu::detail
