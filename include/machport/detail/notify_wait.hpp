// The Asio-independent part of the notification waits (async_notification.hpp): sorting what
// arrives on a wait's notify port, draining it, and cancelling its request.
#pragma once

#include <machport/notification.hpp>
#include <machport/receive_right.hpp>

#include <cstdint>
#include <optional>

namespace machport::detail {

// The request a wait made on its target.
enum class notify_wait_kind : std::uint8_t { no_senders, dead_name, port_destroyed };

// What a kernel notification means for a wait of a kind.
enum class notify_verdict : std::uint8_t {
  ignore,   // not about this wait's request
  fired,    // the notification the wait is for
  dropped,  // the request ended without firing (its send-once right was destroyed unused, or
            // the dead-name request's name lost its right: port-deleted)
};

// Returns what `n` (sent by the kernel) means for a wait of `kind`.
notify_verdict classify(const notification& n, notify_wait_kind kind) noexcept;

// What drain_notify_port found.
struct notify_drain {
  bool request_ended = false;         // a notification that fired or dropped the request
  std::optional<notification> fired;  // the first one that fired it (owning what it carries)
};

// Receives (zero timeout, audit trailer) every message queued on `notify` and sorts it with
// classify(); a message the kernel did not send is released (decode_from_kernel), and so is
// every notification except the first that fired, which is kept in `out.fired`. Returns when
// the port is empty (or a receive fails).
void drain_notify_port(const receive_right& notify, notify_wait_kind kind,
                       notify_drain& out) noexcept;

// Cancels the no-senders request on the receive right `name`, or the dead-name request on
// `name`, and deallocates the send-once right the kernel hands back (its port gets a
// send-once notification). Does nothing for port_destroyed (the kernel cannot cancel it) and
// ignores errors (the name may be gone).
void cancel_notify_request(mach_port_name_t name, notify_wait_kind kind) noexcept;

// True if `name` is a dead name in this task.
bool is_dead_name(mach_port_name_t name) noexcept;

}  // namespace machport::detail
