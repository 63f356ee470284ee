// Internal: the one send attempt the asynchronous send (async_send.hpp) makes each time it
// tries, with the synchronous send's checks and pseudo-receive handling (src/sync.cpp).
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/message.hpp>
#include <machport/result.hpp>

#include <cstdint>

namespace machport::detail {

// Sends `msg` to `dest` with `disposition` (COPY_SEND or MOVE_SEND_ONCE) and
// MACH_SEND_TIMEOUT 0 | MACH_SEND_NOTIFY: it never waits; a full queue gives
// MACH_SEND_TIMED_OUT and, if the caller registered a send-possible request on `dest`, arms it.
// Returns what send(const send_right&, ...) returns, and the message is left as that call
// leaves it (empty on success; handed back intact after a pseudo-receive or an error found
// before copy-in; empty after the kernel destroyed it).
// `consumed_dest`: the kernel took the destination right (success, pseudo-receive, or
// destroyed). `returned_dest`: after a pseudo-receive, the name under which the kernel gave
// the destination right back into this task (one more uref, or the send-once right), which
// the caller now owns; MACH_PORT_DEAD if the port died meanwhile; otherwise MACH_PORT_NULL.
result<void> send_without_waiting(mach_port_name_t dest, std::uint8_t disposition, message& msg,
                                  bool& consumed_dest, mach_port_name_t& returned_dest);

}  // namespace machport::detail
