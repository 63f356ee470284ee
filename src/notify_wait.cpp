// The Asio-independent part of the notification waits (xnu-ipc-semantics.md §3).
#include <machport/detail/notify_wait.hpp>
#include <machport/receive.hpp>
#include <machport/send_once_right.hpp>

#include <chrono>
#include <utility>
#include <variant>

namespace machport::detail {

notify_verdict classify(const notification& n, notify_wait_kind kind) noexcept {
  // A send-once notification on a wait's own port can only be its request's right destroyed
  // unused: the port died (no-senders), the request was replaced and the replacer dropped the
  // right it got back, or the wait cancelled it itself.
  if (std::holds_alternative<send_once_notification>(n)) return notify_verdict::dropped;
  switch (kind) {
    case notify_wait_kind::no_senders:
      if (std::holds_alternative<no_senders_notification>(n)) return notify_verdict::fired;
      break;
    case notify_wait_kind::dead_name:
      if (std::holds_alternative<dead_name_notification>(n)) return notify_verdict::fired;
      if (std::holds_alternative<port_deleted_notification>(n)) return notify_verdict::dropped;
      break;
    case notify_wait_kind::port_destroyed:
      if (std::holds_alternative<port_destroyed_notification>(n)) return notify_verdict::fired;
      break;
  }
  return notify_verdict::ignore;
}

void drain_notify_port(const receive_right& notify, notify_wait_kind kind,
                       notify_drain& out) noexcept {
  receive_options options;
  options.timeout = std::chrono::milliseconds::zero();
  options.trailer = trailer_level::audit;
  message m;
  while (receive(notify, m, options)) {
    // A forged message is released here; so is a dead-name notification other than the one
    // kept (its dead_name releases the uref the kernel added).
    result<notification> n = decode_from_kernel<notification>(m);
    if (!n) continue;
    switch (classify(n.value(), kind)) {
      case notify_verdict::fired:
        out.request_ended = true;
        if (!out.fired) out.fired = std::move(n).value();
        break;
      case notify_verdict::dropped: out.request_ended = true; break;
      case notify_verdict::ignore: break;
    }
  }
}

void cancel_notify_request(mach_port_name_t name, notify_wait_kind kind) noexcept {
  if (!MACH_PORT_VALID(name)) return;
  mach_msg_id_t id = 0;
  switch (kind) {
    case notify_wait_kind::no_senders: id = MACH_NOTIFY_NO_SENDERS; break;
    case notify_wait_kind::dead_name: id = MACH_NOTIFY_DEAD_NAME; break;
    case notify_wait_kind::port_destroyed: return;
  }
  mach_port_t previous = MACH_PORT_NULL;
  if (mach_port_request_notification(mach_task_self(), name, id, 0, MACH_PORT_NULL,
                                     MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous) == KERN_SUCCESS) {
    // Deallocated at once: the notify port gets a send-once notification.
    (void)send_once_right::adopt(previous);
  }
}

bool is_dead_name(mach_port_name_t name) noexcept {
  mach_port_type_t type = 0;
  return MACH_PORT_VALID(name) &&
         mach_port_type(mach_task_self(), name, &type) == KERN_SUCCESS &&
         (type & MACH_PORT_TYPE_DEAD_NAME) != 0;
}

}  // namespace machport::detail
