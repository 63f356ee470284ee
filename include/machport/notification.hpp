// Kernel notifications: the six messages as typed values, the kernel-sender check, and the
// calls that request them (mach_port_request_notification). Semantics: xnu-ipc-semantics.md §3.
//
//   machport::receive_right notify = ...;
//   auto previous = machport::request_no_senders(port, 0, notify);   // MAKE_SEND_ONCE
//   machport::message m = machport::receive(notify).value();
//   machport::result<machport::notification> n = machport::decode_notification(m);
//   if (n && std::holds_alternative<machport::no_senders_notification>(*n)) ...
//
// Each notification type is a typed message (typed.hpp): decode<no_senders_notification>(m),
// decode<std::variant<my_request, no_senders_notification>>(m) work as for any typed message,
// and trust the sender (except dead_name_notification, below). A user task can send a message
// with a notification's id and layout; only the trailer tells the kernel's messages apart.
// decode_notification / decode_from_kernel check it first and refuse anything else.
#pragma once

#include <machport/dead_name.hpp>
#include <machport/detail/platform.hpp>
#include <machport/message.hpp>
#include <machport/receive_right.hpp>
#include <machport/result.hpp>
#include <machport/send_once_right.hpp>
#include <machport/send_right.hpp>
#include <machport/typed.hpp>

#include <mach/notify.h>

#include <array>
#include <cstdint>
#include <variant>

namespace machport {

namespace detail {
struct notify_access;
}

// MACH_NOTIFY_NO_SENDERS (0x46): the port's last send right went away while a request was
// armed (request_no_senders).
struct no_senders_notification {
  static constexpr mach_msg_id_t id = MACH_NOTIFY_NO_SENDERS;
  // The port's make-send count when it fired: compare with make_send_count() to tell whether
  // new send rights were made since (then more may be on their way in messages).
  mach_port_mscount_t mscount = 0;
};

// MACH_NOTIFY_DEAD_NAME (0x48): the port a requested name referred to died. The name, now a
// dead name in this task, gained one uref for this message: `name` owns it and releases it.
// The requester's own right (a send_right, send_once_right) keeps its urefs and still has to
// be released. Decoding this type always checks that the kernel sent it (see sent_by_kernel):
// adopting a uref on a name a forger chose would release a right someone else owns.
struct dead_name_notification {
  static constexpr mach_msg_id_t id = MACH_NOTIFY_DEAD_NAME;
  dead_name name;
};

// MACH_NOTIFY_PORT_DESTROYED (0x45): the receive right of a port with a port-destroyed request
// was destroyed; the kernel sends the (reset: no context, guard, make-send count) receive
// right here instead of killing the port. `port` owns it under a new name.
struct port_destroyed_notification {
  static constexpr mach_msg_id_t id = MACH_NOTIFY_PORT_DESTROYED;
  receive_right port;
};

// MACH_NOTIFY_PORT_DELETED (0x41): a name with a dead-name or send-possible request lost its
// right while the port lived on (its last uref released, a send-once right used). `name` is
// the name as it was registered; it no longer exists (or now names something else): nothing
// is owned.
struct port_deleted_notification {
  static constexpr mach_msg_id_t id = MACH_NOTIFY_PORT_DELETED;
  mach_port_name_t name = MACH_PORT_NULL;
};

// MACH_NOTIFY_SEND_ONCE (0x47): a send-once right to this port was destroyed unused (a
// reply that will never come, or the right held by a request that was dropped).
struct send_once_notification {
  static constexpr mach_msg_id_t id = MACH_NOTIFY_SEND_ONCE;
};

// MACH_NOTIFY_SEND_POSSIBLE (0x42, octal 0102): a send through `name` can now be queued
// (request_send_possible). `name` is the requester's name; nothing is owned.
struct send_possible_notification {
  static constexpr mach_msg_id_t id = MACH_NOTIFY_SEND_POSSIBLE;
  mach_port_name_t name = MACH_PORT_NULL;
};

// Any of the six, for one decode call.
using notification =
    std::variant<no_senders_notification, dead_name_notification, port_destroyed_notification,
                 port_deleted_notification, send_once_notification, send_possible_notification>;

// True for the ids of the six notifications above.
constexpr bool is_notification_id(mach_msg_id_t id) noexcept {
  return id == MACH_NOTIFY_NO_SENDERS || id == MACH_NOTIFY_DEAD_NAME ||
         id == MACH_NOTIFY_PORT_DESTROYED || id == MACH_NOTIFY_PORT_DELETED ||
         id == MACH_NOTIFY_SEND_ONCE || id == MACH_NOTIFY_SEND_POSSIBLE;
}

// True only if `m` is a received message whose trailer (written by the kernel, which no sender
// can forge) holds the kernel's audit token, all zeros (KERNEL_AUDIT_TOKEN; every task has a
// pid, so no task's token is zero). False for an empty or outgoing message, a malformed one,
// and one received with a trailer below trailer_level::audit (the receive default,
// trailer_level::context, includes it). The kernel also sends other messages (replies of
// kernel MIG calls): check the id too, as decode_from_kernel does.
bool sent_by_kernel(const message& m) noexcept;

// decode<T>(m) for a message the kernel sent: T is a notification type, `notification`, or any
// typed message or variant of them. A received message not sent by the kernel (see
// sent_by_kernel) is refused with message_errc::not_from_kernel, and everything it carried is
// released, as for every other decode error; otherwise as decode<T> (typed.hpp). An empty or
// outgoing message is refused and left untouched (empty_message / bad_header_bits).
template <class T>
result<T> decode_from_kernel(message& m) {
  if (m.empty()) return message_errc::empty_message;
  if (m.current_state() != message::state::received) return message_errc::bad_header_bits;
  if (!sent_by_kernel(m)) {
    m.reset();
    return message_errc::not_from_kernel;
  }
  return decode<T>(m);
}

// Decodes a notification the kernel sent. Returns the notification; on error everything the
// message carried is released and `m` is empty (it keeps its buffer): not_from_kernel for a
// message from a task, unexpected_id for another message from the kernel (not one of the six),
// the decode errors of typed.hpp for a notification id with another layout. An empty or
// outgoing message is left untouched (empty_message / bad_header_bits). To serve a port that
// receives both requests and notifications, look at is_notification_id(m.id()) first.
inline result<notification> decode_notification(message& m) {
  return decode_from_kernel<notification>(m);
}

// ---- requests ----------------------------------------------------------------------------

// The send-once right a notification will travel on (the `notify` argument of
// mach_port_request_notification). Made implicitly from:
//  - a receive right the caller keeps (MAKE_SEND_ONCE: the kernel makes a send-once right to
//    it; the receive right must outlive the call);
//  - a send-once right moved in (MOVE_SEND_ONCE). The right is taken from the caller's object
//    when the kernel is called, on success and on failure alike (the kernel destroys it when
//    the call fails); a call refused before the kernel is called leaves it with the caller.
// An argument type only: it refers to the right it was made from.
class notify_target {
 public:
  notify_target(const receive_right& port) noexcept  // NOLINT(google-explicit-constructor)
      : name_(port.name()), disposition_(MACH_MSG_TYPE_MAKE_SEND_ONCE) {}
  notify_target(send_once_right&& right) noexcept  // NOLINT(google-explicit-constructor)
      : name_(right.name()), disposition_(MACH_MSG_TYPE_MOVE_SEND_ONCE), moved_(&right) {}

 private:
  friend struct detail::notify_access;
  mach_port_name_t name_;
  mach_msg_type_name_t disposition_;
  send_once_right* moved_ = nullptr;
};

// Every request returns the send-once right of the request it replaced (the kernel hands it
// back under a new name), or an empty one if there was none. Dropping it deallocates it: its
// port gets a send-once notification. Errors are the kernel's (KERN_INVALID_RIGHT, ...; the
// per-kind list is in xnu-ipc-semantics.md §3.1), except that an empty right (port, name or
// target) gives KERN_INVALID_NAME before the kernel is called, so that it is never taken for
// MACH_PORT_NULL (which cancels). When the kernel fails the call it destroys the notify right
// (§3.1): a MAKE_SEND_ONCE target then receives a send-once notification, and a moved
// send-once right is gone (its port receives one too, unless it is dead). The previous request
// stays in place on failure.

// Arms a no-senders notification on `port`. It fires once, when the port's send rights drop
// to zero, or at once if there are none now and `sync` <= the make-send count (pass the
// make-send count you know about, or 0). Replaces any previous no-senders request.
result<send_once_right> request_no_senders(const receive_right& port, mach_port_mscount_t sync,
                                           notify_target notify) noexcept;
// Cancels the no-senders request on `port`; returns its send-once right (empty if none).
result<send_once_right> cancel_no_senders(const receive_right& port) noexcept;

// Arms a port-destroyed notification on `port`: when the receive right is destroyed, it is
// sent to `notify` instead (port_destroyed_notification). Fires once. The kernel refuses to
// replace or cancel an armed request (KERN_FAILURE), so the result is always empty; there is
// no cancel form.
result<send_once_right> request_port_destroyed(const receive_right& port,
                                               notify_target notify) noexcept;

// Registers a dead-name request on `name` (a send, send-once or receive right the caller
// holds): when the port dies, dead_name_notification; if the name loses its right first,
// port_deleted_notification. A name that is already dead gives KERN_INVALID_ARGUMENT.
// Replaces the name's dead-name or send-possible request (a name has one slot for both).
result<send_once_right> request_dead_name(mach_port_name_t name, notify_target notify) noexcept;
result<send_once_right> request_dead_name(const send_right& right, notify_target notify) noexcept;

// Registers a send-possible request on `name`. `armed` (sync != 0): fires as soon as a send can
// be queued, at once if the queue has room (or the name is a send-once right). Not armed: a
// later send with MACH_SEND_NOTIFY through the name that finds the queue full arms it. On a
// dead name it sends a dead_name_notification at once. Replaces the name's dead-name or
// send-possible request.
result<send_once_right> request_send_possible(mach_port_name_t name, bool armed,
                                              notify_target notify) noexcept;
result<send_once_right> request_send_possible(const send_right& right, bool armed,
                                              notify_target notify) noexcept;

// Cancels the dead-name or send-possible request on `name` (they share one slot); returns its
// send-once right (empty if none).
result<send_once_right> cancel_dead_name(mach_port_name_t name) noexcept;

// ---- decoding (typed.hpp's decoder, specialised) ------------------------------------------

namespace detail {

// The body of the kernel's NDR notifications: NDR_record (not checked), then one 32-bit
// value (not_count or not_port).
template <mach_msg_id_t Id>
struct ndr_notification_wire {
  static constexpr mach_msg_id_t id = Id;
  std::array<std::uint8_t, 8> ndr;
  std::uint32_t value;
};

// Decodes the wire form of N, then builds N from its value.
template <class N>
struct ndr_notification_decoder {
  static result<N> decode(message& m) {
    if constexpr (std::is_same_v<N, dead_name_notification>) {
      // Adopting the uref is right only if the kernel added it.
      if (m.current_state() == message::state::received && !sent_by_kernel(m)) {
        m.reset();
        return message_errc::not_from_kernel;
      }
      BOOST_OUTCOME_TRY(auto w, decoder<ndr_notification_wire<N::id>>::decode(m));
      return N{dead_name::adopt(w.value)};
    } else {
      BOOST_OUTCOME_TRY(auto w, decoder<ndr_notification_wire<N::id>>::decode(m));
      return N{w.value};
    }
  }
};

template <>
struct decoder<no_senders_notification> : ndr_notification_decoder<no_senders_notification> {};
template <>
struct decoder<dead_name_notification> : ndr_notification_decoder<dead_name_notification> {};
template <>
struct decoder<port_deleted_notification>
    : ndr_notification_decoder<port_deleted_notification> {};
template <>
struct decoder<send_possible_notification>
    : ndr_notification_decoder<send_possible_notification> {};
// port_destroyed_notification and send_once_notification are decoded as typed messages: their
// fields are the wire layout (one receive-right descriptor; nothing).

}  // namespace detail

}  // namespace machport
