// Kernel notifications: the sender check and mach_port_request_notification
// (xnu-ipc-semantics.md §3).
#include <machport/detail/wire.hpp>
#include <machport/notification.hpp>
#include <machport/trailer.hpp>

#include "kernel_call.hpp"

#include <cstddef>
#include <optional>
#include <span>

namespace machport {

// The typed layouts are the SDK's notification structs, up to their trailer.
static_assert(encoded_size<detail::ndr_notification_wire<MACH_NOTIFY_NO_SENDERS>>() ==
              offsetof(mach_no_senders_notification_t, trailer));
static_assert(encoded_size<detail::ndr_notification_wire<MACH_NOTIFY_DEAD_NAME>>() ==
              offsetof(mach_dead_name_notification_t, trailer));
static_assert(encoded_size<detail::ndr_notification_wire<MACH_NOTIFY_PORT_DELETED>>() ==
              offsetof(mach_port_deleted_notification_t, trailer));
static_assert(encoded_size<detail::ndr_notification_wire<MACH_NOTIFY_SEND_POSSIBLE>>() ==
              offsetof(mach_send_possible_notification_t, trailer));
static_assert(encoded_size<port_destroyed_notification>() ==
              offsetof(mach_port_destroyed_notification_t, trailer));
static_assert(encoded_size<send_once_notification>() ==
              offsetof(mach_send_once_notification_t, trailer));
static_assert(MACH_NOTIFY_SEND_POSSIBLE == 0102);

bool sent_by_kernel(const message& m) noexcept {
  if (m.current_state() != message::state::received) return false;
  const std::span<const std::byte> buf = m.buffer();
  std::size_t size = 0;
  if (detail::check_header(buf.data(), buf.size(), size) != message_errc::success) return false;
  if (buf.size() - size < detail::min_trailer_size) return false;  // no trailer
  if (detail::check_received_trailer(buf.data(), buf.size(), size) != message_errc::success) {
    return false;
  }
  const trailer_view trailer(buf.data() + size,
                             detail::load32(buf.data() + size + detail::trailer_size_offset));
  const std::optional<audit_token> token = trailer.audit();
  return token && token->is_kernel();
}

namespace detail {

struct notify_access {
  // mach_port_request_notification(name, id, sync, target) in the calling task. `target`
  // null: cancel (MACH_PORT_NULL). See the header for what happens to the rights.
  static result<send_once_right> request(mach_port_name_t name, mach_msg_id_t id,
                                         mach_port_mscount_t sync,
                                         notify_target* target) noexcept {
    mach_port_name_t notify = MACH_PORT_NULL;
    mach_msg_type_name_t disposition = MACH_MSG_TYPE_MAKE_SEND_ONCE;
    if (target != nullptr) {
      // An empty target would be MACH_PORT_NULL (a cancel) or MACH_PORT_DEAD.
      if (!MACH_PORT_VALID(target->name_)) return make_kern_error(KERN_INVALID_NAME);
      notify = target->name_;
      disposition = target->disposition_;
      // The kernel takes a moved right whatever the outcome: it is ours no longer.
      if (target->moved_ != nullptr) (void)target->moved_->release();
    }
    mach_port_t previous = MACH_PORT_NULL;
    BOOST_OUTCOME_TRY(check(mach_port_request_notification(mach_task_self(), name, id, sync,
                                                           notify, disposition, &previous)));
    return send_once_right::adopt(previous);
  }
};

}  // namespace detail

namespace {

// Returns `name`, or KERN_INVALID_NAME for MACH_PORT_NULL / MACH_PORT_DEAD (an empty right):
// those must not reach the kernel, which reads them as other requests or other errors.
result<mach_port_name_t> valid_name(mach_port_name_t name) noexcept {
  if (!MACH_PORT_VALID(name)) return make_kern_error(KERN_INVALID_NAME);
  return name;
}

}  // namespace

result<send_once_right> request_no_senders(const receive_right& port, mach_port_mscount_t sync,
                                           notify_target notify) noexcept {
  BOOST_OUTCOME_TRY(auto name, valid_name(port.name()));
  return detail::notify_access::request(name, MACH_NOTIFY_NO_SENDERS, sync, &notify);
}

result<send_once_right> cancel_no_senders(const receive_right& port) noexcept {
  BOOST_OUTCOME_TRY(auto name, valid_name(port.name()));
  return detail::notify_access::request(name, MACH_NOTIFY_NO_SENDERS, 0, nullptr);
}

result<send_once_right> request_port_destroyed(const receive_right& port,
                                               notify_target notify) noexcept {
  BOOST_OUTCOME_TRY(auto name, valid_name(port.name()));
  return detail::notify_access::request(name, MACH_NOTIFY_PORT_DESTROYED, 0, &notify);
}

result<send_once_right> request_dead_name(mach_port_name_t name, notify_target notify) noexcept {
  BOOST_OUTCOME_TRY(valid_name(name));
  return detail::notify_access::request(name, MACH_NOTIFY_DEAD_NAME, 0, &notify);
}

result<send_once_right> request_dead_name(const send_right& right, notify_target notify) noexcept {
  return request_dead_name(right.name(), notify);
}

result<send_once_right> request_send_possible(mach_port_name_t name, bool armed,
                                              notify_target notify) noexcept {
  BOOST_OUTCOME_TRY(valid_name(name));
  return detail::notify_access::request(name, MACH_NOTIFY_SEND_POSSIBLE, armed ? 1 : 0,
                                        &notify);
}

result<send_once_right> request_send_possible(const send_right& right, bool armed,
                                              notify_target notify) noexcept {
  return request_send_possible(right.name(), armed, notify);
}

result<send_once_right> cancel_dead_name(mach_port_name_t name) noexcept {
  BOOST_OUTCOME_TRY(valid_name(name));
  return detail::notify_access::request(name, MACH_NOTIFY_DEAD_NAME, 0, nullptr);
}

}  // namespace machport
