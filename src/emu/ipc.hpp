// The emulated kernel's object model: tasks (IPC spaces), ports, port sets, in-flight messages,
// and the services the kernel's files offer one another. Everything in here is touched only
// with kernel_mutex() held.
//
// Files: kernel.cpp (tasks, the name table), rights.cpp (copy-in / copy-out, accounting, port
// and set death, notifications), port_api.cpp (the mach_port_* calls), msg.cpp (mach_msg,
// kernel messages, queues), vm.cpp (memory), kqueue.cpp (kqueue / kevent, through
// kq_interface.hpp), misc.cpp (bootstrap, libsyscall wrappers).
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#pragma once

#include <mach/mach.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernel_entry.hpp"
#include "kq_interface.hpp"

namespace machport_emu::detail {

struct port;
struct pset;
struct space;
struct kmsg;
struct rcv_waiter;   // msg.cpp: a thread blocked in a receive on an ipc_object
struct send_waiter;  // msg.cpp: a thread blocked sending to a full port
using port_ref = std::shared_ptr<port>;
using pset_ref = std::shared_ptr<pset>;
using kmsg_ptr = std::unique_ptr<kmsg>;
using mach_port_index_t = std::uint32_t;  // kernel-only type in XNU (name >> 8)

// A port or a port set: what a receive can name and a knote can watch.
struct ipc_object {
  enum class kind : std::uint8_t { port, pset };
  explicit ipc_object(kind k) : object_kind(k) {}
  virtual ~ipc_object() = default;
  kind object_kind;
  bool active = true;
  std::vector<knote*> knotes;
  // Threads blocked in a receive on this object wait here (with kernel_mutex()).
  std::condition_variable receivers;
  std::uint64_t generation = 0;  // bumped when receivers must see MACH_RCV_PORT_CHANGED
  // msg.cpp: blocked receivers, in arrival order; a posted message is handed to the first one.
  std::deque<rcv_waiter*> rcv_waiters;
};

// A right held by a kernel message or a request (not by a name).
struct kright {
  port_ref p;                    // null for MACH_PORT_NULL; a dead port stays non-null
  mach_msg_type_name_t type = 0;  // MACH_MSG_TYPE_PORT_RECEIVE / PORT_SEND / PORT_SEND_ONCE
  bool dead_name = false;         // MACH_PORT_DEAD travelling in a body
};

// A dead-name or send-possible request, kept on the port it watches. One per (space, name).
struct dead_name_request {
  space* requester = nullptr;
  mach_port_name_t name = MACH_PORT_NULL;
  kright notify;                  // a send-once right
  bool send_possible = false;     // MACH_NOTIFY_SEND_POSSIBLE rather than DEAD_NAME
  bool armed = false;             // send-possible: fire at the next dequeue
};

struct port final : ipc_object {
  port() : ipc_object(kind::port) {}
  // Receive side.
  space* receiver = nullptr;      // space holding the receive right (null: in transit or dead)
                                  // A received port must check receiver == the receiving space.
  mach_port_name_t receiver_name = MACH_PORT_NULL;
  std::vector<pset*> sets;
  // Counts of rights held anywhere (names, messages, requests).
  std::uint32_t srights = 0, sorights = 0, mscount = 0;
  std::uint32_t seqno = 0;
  mach_port_msgcount_t qlimit = MACH_PORT_QLIMIT_DEFAULT;
  mach_port_context_t context = 0;
  bool guarded = false, strict_guard = false, immovable_receive = false;
  std::uint32_t mpo_flags = 0;      // MPO_* given at construct (TEMPOWNER, IMPORTANCE_RECEIVER...)
  // Queue.
  std::deque<kmsg_ptr> messages;
  std::condition_variable senders;  // blocked senders (queue full)
  // msg.cpp: reserved queue slots as XNU counts them (queued messages + slots granted to woken
  // senders); blocked senders in FIFO order; when the queue last went from empty to non-empty
  // (port-set receive order); the port whose queue holds the message carrying this receive right.
  std::uint32_t msgcount = 0;
  std::deque<send_waiter*> full_waiters;
  std::uint64_t nonempty_stamp = 0;
  std::weak_ptr<port> transit_dest;
  // Requests.
  kright nsrequest;                 // no-senders notify (send-once), with its sync value
  mach_port_mscount_t nsrequest_sync = 0;
  kright pdrequest;                 // port-destroyed notify (send-once)
  std::vector<dead_name_request> dnrequests;
};

struct pset final : ipc_object {
  pset() : ipc_object(kind::pset) {}
  space* owner = nullptr;
  mach_port_name_t name = MACH_PORT_NULL;
  std::vector<port*> members;
  // The members with queued messages, in receive order (XNU's prepost list), keyed by each
  // one's nonempty_stamp: a receive or a knote on the set never looks at an idle member.
  // Kept by set_prepost_locked / set_unprepost_locked.
  std::map<std::uint64_t, port*> preposts;
};

// One name in a space.
struct entry {
  mach_port_type_t type = 0;           // MACH_PORT_TYPE_* bits (no request bits)
  mach_port_urefs_t urefs = 0;         // send or dead-name urefs
  port_ref p;                          // for send / send-once / receive
  pset_ref set;                        // for a port set
  // A dead-name or send-possible request names this entry (the request itself lives in
  // p->dnrequests). Stays set after the port died until the lazy dead-name conversion, which
  // turns it into the +1 uref (check_dead_locked).
  bool has_request = false;
};

struct space {
  std::uint32_t task = 0;              // the task_id
  bool active = true;                  // false once the task terminated
  // Hashed, so a lookup costs the same in a space of 10,000 names as in one of 10 (XNU's table
  // is an array); where order matters (name order, i.e. table order) use sorted_names_locked.
  std::unordered_map<mach_port_index_t, std::uint8_t> generations;  // last gen per index
  std::unordered_map<mach_port_name_t, entry> entries;
  // Reverse lookup port -> the name holding its SEND and/or RECEIVE right here (never
  // send-once). Maintained by the core; use find_port_name_locked.
  std::unordered_map<const port*, mach_port_name_t> port_names;
  std::vector<mach_port_index_t> free_indices;  // LIFO, as XNU's entry free list
  mach_port_index_t next_index = 5;             // 1..4 hold the reserved names
  audit_token_t audit{};
  security_token_t security{};
  std::string name;
  kcall_counters kernel_calls{};       // Mach calls made as this task (kernel_entry)
};

// Reserved names, identical in every space and never listed (index 1..4, gen 3): send rights
// to kernel objects that are not emulated beyond their identity.
constexpr mach_port_name_t task_self_name = 0x103;
constexpr mach_port_name_t bootstrap_name = 0x203;
constexpr mach_port_name_t host_self_name = 0x303;
constexpr mach_port_name_t thread_self_name = 0x403;

// A message in flight, in kernel form: rights and memory are owned here, not named.
struct kdesc {
  mach_msg_descriptor_type_t type = MACH_MSG_PORT_DESCRIPTOR;
  kright right;                        // port and guarded-port descriptors
  std::vector<kright> rights;          // OOL port arrays
  mach_msg_type_name_t disposition = 0;  // PORT_* after copy-in
  std::vector<std::uint8_t> ool;       // OOL memory contents (copied at send)
  mach_msg_size_t size = 0;            // OOL size or port count
  mach_msg_copy_options_t copy = MACH_MSG_VIRTUAL_COPY;
  bool deallocate = false;
  std::uint64_t guard_context = 0;
  std::uint16_t guard_flags = 0;
};

struct kmsg {
  mach_msg_bits_t bits = 0;           // remote = dest PORT_* type, local = reply PORT_* type
  mach_msg_size_t user_size = 0;      // size as the receiver will see it, no trailer
  kright dest;
  kright reply;
  mach_port_name_t voucher_raw = 0;   // passes through when the voucher disposition is 0
  mach_msg_id_t id = 0;
  std::vector<kdesc> descriptors;
  std::vector<std::uint8_t> body;     // inline bytes after the descriptors
  security_token_t sender_security{};
  audit_token_t sender_audit{};
  bool from_kernel = false;           // notifications: exempt from qlimit
  bool circular = false;              // msg.cpp: carries the receive right of its own destination
};

// ---- tasks and names (kernel.cpp), rights (rights.cpp) ---------------------------------------

space* current_space_locked();                     // the calling thread's task's space
space* space_by_id_locked(std::uint32_t task_id);  // null if unknown or terminated
space* any_space_by_id_locked(std::uint32_t task_id);  // terminated ones too; null if unknown

// Name table.
entry* lookup_entry_locked(space* s, mach_port_name_t name);   // null if unused
std::vector<mach_port_name_t> sorted_names_locked(const space* s);  // every entry's name, ascending
mach_port_name_t find_port_name_locked(space* s, const port* p);  // SEND/RECEIVE name or NULL
// If `e` holds SEND / SEND_ONCE for a dead port, turns it into a DEAD_NAME (urefs = send
// urefs or 1, +1 if a request was registered), as XNU's ipc_right_check. Returns true if the
// entry is (now) a dead name.
bool check_dead_locked(space* s, mach_port_name_t name, entry& e);

// Why a right is copied in: decides whether dead names are acceptable (body, reply) and the
// dest quirk (an untouched send-once right to a dead port is accepted as a destination).
enum class copyin_reason : std::uint8_t { dest, reply, body, api };

// Optional guarded-port-descriptor check for MOVE_RECEIVE (context + flags from the
// descriptor). Mismatch → KERN_INVALID_ARGUMENT (caller maps it to MACH_SEND_INVALID_RIGHT).
struct guard_check {
  std::uint64_t context = 0;
  std::uint16_t flags = 0;
};

// Copies one right in from `s` by `name` + user disposition (MOVE_*, COPY_SEND, MAKE_*), with
// every side effect on the space (uref decrement, name freed, port-deleted notification for a
// cancelled request, receive right reset + knotes vanish for MOVE_RECEIVE). On success `out`
// holds the right as PORT_RECEIVE / PORT_SEND / PORT_SEND_ONCE; for a dead name (allowed for
// every reason but dest, with COPY_SEND/MOVE_SEND/MOVE_SEND_ONCE) out.p is null and
// out.dead_name = true. MACH_PORT_NULL / MACH_PORT_DEAD are NOT handled here (caller decides).
// dest == reply with MOVE_SEND + MOVE_SEND: check urefs >= 2 via lookup_entry_locked first,
// then call this twice.
// Returns KERN_SUCCESS, KERN_INVALID_NAME (unknown name), KERN_INVALID_RIGHT (wrong right,
// too few urefs, dead not allowed, bad disposition), KERN_INVALID_CAPABILITY (immovable
// receive), KERN_INVALID_ARGUMENT (guard mismatch). On failure nothing changed except a lazy
// dead-name conversion.
kern_return_t copyin_right_locked(space* s, mach_port_name_t name, mach_msg_type_name_t disposition,
                                  kright& out, copyin_reason why, const guard_check* guard = nullptr);
// Checks without side effects (except lazy dead conversion) whether copyin_right_locked would
// succeed; for header validation before anything is copied in.
kern_return_t copyin_check_locked(space* s, mach_port_name_t name, mach_msg_type_name_t disposition,
                                  copyin_reason why);
// Copies `r` out into `s`: send rights merge with the existing SEND/RECEIVE name (+1 uref,
// pegged at 0xFFFF), send-once rights get a fresh name, a receive right joins an existing SEND
// name or gets a fresh one (becoming this space's). Returns the name; MACH_PORT_DEAD for a dead
// name or a right to a dead port (the right is released); MACH_PORT_NULL for no right. If the
// space is dead/full the right is destroyed, NULL returned and *err = KERN_NO_SPACE (else
// KERN_SUCCESS). `r` is left empty.
mach_port_name_t copyout_right_locked(space* s, kright&& r, kern_return_t* err);
// The MOVE_RECEIVE reset of §2.10 for a receive right copied out as part of a received guarded
// descriptor: guard with `context`, non-strict, immovable if asked.
void guard_received_port_locked(port* p, std::uint64_t context, bool immovable);

// Rights accounting used by copy-in of MAKE_* / COPY_SEND etc. (exposed for kernel_send users).
kright make_send_locked(const port_ref& p);        // mscount++, srights++
kright make_send_once_locked(const port_ref& p);   // sorights++
// Drops one send right count: srights-- and no-senders if it hits 0 with an armed request.
void release_send_locked(port* p);
// Drops one send-once right count without notification (the right was used).
void release_send_once_locked(port* p);

// Queue events, called by msg.cpp:
// A message was dequeued from p (after seqno++ etc.): fires armed send-possible requests.
void fire_send_possible_locked(port* p);
// MACH_SEND_NOTIFY on a send that found the queue full: arms the send-possible request the
// sender's space registered on `name` for p (if any). Returns true if one was armed.
bool arm_send_possible_locked(port* p, space* s, mach_port_name_t name);
// A port received a message that went onto its queue (queue length now n): tells the knotes on
// the port and on every set containing it.
void notify_enqueued_locked(port* p, bool was_empty);
// Something was dequeued from p: tells the knotes on p and its sets.
void notify_dequeued_locked(port* p);
// Destroys a port whose receive right is held nowhere (in transit, or just removed from a
// space): port-destroyed notification if requested, else death with every §2.9 side effect.
void destroy_receive_locked(const port_ref& p);

// Notifications (built as kmsg with from_kernel = true).
void send_notification_locked(kright&& notify, mach_msg_id_t id, mach_port_name_t not_port);
void send_no_senders_locked(kright&& notify, mach_port_mscount_t mscount);
void send_port_destroyed_locked(kright&& notify, kright&& receive);
void send_once_notification_locked(kright&& so);   // MACH_NOTIFY_SEND_ONCE via that right

// Memory (vm.cpp), for OOL regions and port-name arrays.
void* vm_alloc_locked(std::size_t size);           // page-aligned zeroed mapping, or null
void vm_free(void* addr, std::size_t size);
// How many times a mapping was removed (munmap / mremap through libc's symbols) so far: a
// range found mapped stays mapped while this is unchanged.
std::uint64_t unmap_generation();

// Destroys a right held outside any name (message / request), with every side effect:
// send → srights-- (may fire no-senders), send-once → send-once notification,
// receive → port destroyed (or port-destroyed notification).
void destroy_kright_locked(kright& r);
// ---- kernel messages (msg.cpp) ----------------------------------------------------------------
// Destroys a whole kernel message and every right and region in it.
void destroy_kmsg_locked(kmsg_ptr m);
// Enqueues a kernel-generated message (notifications): never blocks, exempt from qlimit up
// to MACH_PORT_QLIMIT_KERNEL, destroyed if the port is dead. m->dest is the destination right
// (PORT_SEND_ONCE for notifications), m->bits remote = its type.
void kernel_send_locked(kmsg_ptr m);
// Queue operations for the port API and port death:
// mach_port_set_attributes(LIMITS): sets qlimit and wakes up to (new - old) blocked senders.
void mqueue_set_qlimit_locked(port* p, mach_port_msgcount_t qlimit);
// Blocked receivers on obj return MACH_RCV_PORT_CHANGED (receive right moved out of the space,
// port or set destroyed). Bumps obj->generation and wakes them.
void ipc_object_changed_locked(ipc_object* obj);
// Call after marking a port inactive: wakes blocked senders (their message is destroyed and
// they return MACH_MSG_SUCCESS), wakes receivers (MACH_RCV_PORT_CHANGED) and destroys every
// queued message.
void mqueue_port_dead_locked(port* p);
// p's queue became non-empty, or its stamp changed: list it in each of its sets' preposts
// (under p->nonempty_stamp) / take it off them (before the stamp changes or once p is empty).
void set_prepost_locked(port* p);
void set_unprepost_locked(port* p);
// Number of queued messages (mps_msgcount).
mach_port_msgcount_t mqueue_count_locked(const port* p);

}  // namespace machport_emu::detail
