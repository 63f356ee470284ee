// Synchronous send.
#pragma once

#include <machport/message.hpp>
#include <machport/reply_port.hpp>
#include <machport/result.hpp>
#include <machport/send_once_right.hpp>
#include <machport/send_right.hpp>
#include <machport/timeout.hpp>

#include <chrono>

namespace machport {

// Sends `msg` (an outgoing message) to the port `dest` names, copying the send right
// (COPY_SEND: `dest` keeps its uref). Blocks while the queue is full, at most `timeout`.
//
// On success `msg` is empty: the kernel took every right and region it carried (`msg` keeps
// its buffer: encode or build the next message into it).
// On error `msg` is NOT consumed when the kernel gave it back, and then still owns everything:
//  - MACH_SEND_TIMED_OUT, MACH_SEND_INTERRUPTED, MACH_SEND_NO_BUFFER (the kernel's
//    "pseudo-receive"): the message is returned into this task as it was queued; every right
//    it carried is now owned by it (made and copied rights included) and every OOL region is
//    owned memory. Send it again as is, or drop it to release everything.
//  - errors found before any right was copied in (MACH_SEND_INVALID_DEST, _INVALID_REPLY,
//    _INVALID_HEADER, _INVALID_TYPE, _MSG_TOO_SMALL, _TOO_LARGE, _INVALID_DATA,
//    _INVALID_VOUCHER): unchanged.
//  - MACH_SEND_INVALID_RIGHT found by the library before calling the kernel (below).
//
// What is checked before mach_msg, and what it costs. The kernel checks the destination and
// the header reply before copying anything in; a descriptor that fails later
// (MACH_SEND_INVALID_RIGHT) makes it destroy the header rights and the descriptors before it.
//  - A message built by message_builder or encode (or handed back by a pseudo-receive) names
//    only rights its owning objects gave it: each is the sole owner of its uref, so the rights
//    it moves are in this task's space. It is sent with no other kernel call than mach_msg:
//    the library only scans its bytes for a send-once or receive right moved twice (two owning
//    objects adopted one name), refused as MACH_SEND_INVALID_RIGHT. If a descriptor borrows a
//    right (COPY_SEND, MAKE_SEND, MAKE_SEND_ONCE: the owner outside the message may have dropped
//    it), or it moves more than 16 send-once or receive rights, it is checked like an adopted
//    message (one mach_port_type per distinct name, and a mach_port_get_refs for send rights).
//    A reply port in the header (reply_make_send_once, typed reply_port) costs nothing.
//  - A message from adopt_outgoing (bytes from anywhere) has every right it names (reply and
//    descriptors, OOL port arrays included) checked against this task's space in the kernel's
//    order (a moved uref is no longer there for a later descriptor).
// A message refused by these checks is returned as it was, with `dest`.
// After any other error (MACH_SEND_INVALID_RIGHT from the kernel itself, _INVALID_MEMORY,
// ...|MACH_MSG_VM_KERNEL) the kernel has already destroyed the header rights and the
// descriptors before the failing one; `msg` is empty. This needs a broken ownership contract
// (another owner of the same name releasing it, another thread deallocating a name the
// message owns during the send), an immovable or guard-mismatched receive right, or OOL
// memory that is not mapped (a borrowed span always is): the descriptors after the failing
// one cannot be told apart reliably and are not released.
// A message that is not outgoing (empty, or received) gives message_errc::empty_message /
// bad_header_bits and is left untouched.
result<void> send(const send_right& dest, message&& msg,
                  std::chrono::milliseconds timeout = no_timeout);

// The same, moving the send-once right `dest` as destination (MOVE_SEND_ONCE: the queue limit
// does not apply). On success `dest` is empty; on the errors where `msg` is kept, `dest`
// again owns the destination right (possibly under a new name after a pseudo-receive).
result<void> send(send_once_right&& dest, message&& msg,
                  std::chrono::milliseconds timeout = no_timeout);

// The same, to the reply right a request carried (a decoded reply_port field), moved as
// destination (MOVE_SEND_ONCE or MOVE_SEND; a make_send_once one is MAKE_SEND_ONCE). On success
// `dest` is empty; on the errors where `msg` is kept, `dest` again owns the destination right.
// An empty reply_port gives MACH_SEND_INVALID_DEST.
result<void> send(reply_port&& dest, message&& msg,
                  std::chrono::milliseconds timeout = no_timeout);

}  // namespace machport
