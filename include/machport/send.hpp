// Synchronous send.
#pragma once

#include <machport/message.hpp>
#include <machport/result.hpp>
#include <machport/send_once_right.hpp>
#include <machport/send_right.hpp>
#include <machport/timeout.hpp>

#include <chrono>

namespace machport {

// Sends `msg` (an outgoing message) to the port `dest` names, copying the send right
// (COPY_SEND: `dest` keeps its uref). Blocks while the queue is full, at most `timeout`.
//
// On success `msg` is empty: the kernel took every right and region it carried.
// On error `msg` is NOT consumed when the kernel gave it back, and then still owns everything:
//  - MACH_SEND_TIMED_OUT, MACH_SEND_INTERRUPTED, MACH_SEND_NO_BUFFER (the kernel's
//    "pseudo-receive"): the message is returned into this task as it was queued; every right
//    it carried is now owned by it (made and copied rights included) and every OOL region is
//    owned memory. Send it again as is, or drop it to release everything.
//  - errors found before any right was copied in (MACH_SEND_INVALID_DEST, _INVALID_REPLY,
//    _INVALID_HEADER, _INVALID_TYPE, _MSG_TOO_SMALL, _TOO_LARGE, _INVALID_DATA,
//    _INVALID_VOUCHER): unchanged.
// After any other error (MACH_SEND_INVALID_RIGHT, _INVALID_MEMORY, ...|MACH_MSG_VM_KERNEL)
// the kernel has already destroyed the header rights and an unknown part of the body; `msg`
// is empty and nothing more is released (what is left cannot be told apart).
// A message that is not outgoing (empty, or received) gives message_errc::empty_message /
// bad_header_bits and is left untouched.
result<void> send(const send_right& dest, message&& msg,
                  std::chrono::milliseconds timeout = no_timeout);

// The same, moving the send-once right `dest` as destination (MOVE_SEND_ONCE: the queue limit
// does not apply). On success `dest` is empty; on the errors where `msg` is kept, `dest`
// again owns the destination right (possibly under a new name after a pseudo-receive).
result<void> send(send_once_right&& dest, message&& msg,
                  std::chrono::milliseconds timeout = no_timeout);

}  // namespace machport
