// receive_right: the receive right of a port, its attributes and its guard
// (xnu-ipc-semantics.md §2).
#include <machport/receive_right.hpp>

#include "kernel_call.hpp"

#include <stdexcept>

namespace machport {

result<receive_right> receive_right::allocate() noexcept {
  BOOST_OUTCOME_TRY(auto name, detail::allocate_name(MACH_PORT_RIGHT_RECEIVE));
  return adopt(name);
}

result<constructed_port> receive_right::construct(const port_options& o) noexcept {
  mach_port_options_t opts{};
  if (o.queue_limit) {
    opts.flags |= MPO_QLIMIT;
    opts.mpl.mpl_qlimit = *o.queue_limit;
  }
  if (o.guard) opts.flags |= MPO_CONTEXT_AS_GUARD;
  if (o.strict_guard) opts.flags |= MPO_STRICT;
  if (o.immovable_receive) opts.flags |= MPO_IMMOVABLE_RECEIVE;
  if (o.insert_send_right) opts.flags |= MPO_INSERT_SEND_RIGHT;
  mach_port_name_t name = MACH_PORT_NULL;
  kern_return_t kr = mach_port_construct(mach_task_self(), &opts, o.context, &name);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  constructed_port out;
  out.receive = o.guard ? adopt_guarded(name, o.context) : adopt(name);
  if (o.insert_send_right) out.send = send_right::adopt(name);
  return out;
}

namespace {
// receive_right refuses these guard misuses itself: XNU would answer KERN_INVALID_ARGUMENT
// too, but with a guard exception (fatal for set_context and unguard), or by silently
// replacing the guard (set_context on a plain guarded port).
boost::system::error_code guard_misuse() noexcept { return make_kern_error(KERN_INVALID_ARGUMENT); }
}  // namespace

result<send_right> receive_right::make_send() const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  BOOST_OUTCOME_TRY(
      detail::check(mach_port_insert_right(mach_task_self(), n, n, MACH_MSG_TYPE_MAKE_SEND)));
  return send_right::adopt(n);
}

result<send_once_right> receive_right::make_send_once() const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  mach_port_t so = MACH_PORT_NULL;
  mach_msg_type_name_t disp = 0;
  BOOST_OUTCOME_TRY(detail::check(
      mach_port_extract_right(mach_task_self(), n, MACH_MSG_TYPE_MAKE_SEND_ONCE, &so, &disp)));
  return send_once_right::adopt(so);
}

result<mach_port_msgcount_t> receive_right::queue_limit() const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  mach_port_limits_t limits{};
  mach_msg_type_number_t count = MACH_PORT_LIMITS_INFO_COUNT;
  BOOST_OUTCOME_TRY(detail::check(mach_port_get_attributes(
      mach_task_self(), n, MACH_PORT_LIMITS_INFO, reinterpret_cast<mach_port_info_t>(&limits),
      &count)));
  return limits.mpl_qlimit;
}

result<void> receive_right::set_queue_limit(mach_port_msgcount_t limit) const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  mach_port_limits_t limits{};
  limits.mpl_qlimit = limit;
  return detail::check(mach_port_set_attributes(mach_task_self(), n, MACH_PORT_LIMITS_INFO,
                                                reinterpret_cast<mach_port_info_t>(&limits),
                                                MACH_PORT_LIMITS_INFO_COUNT));
}

result<port_status> receive_right::status() const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  mach_port_status_t s{};
  mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
  BOOST_OUTCOME_TRY(detail::check(mach_port_get_attributes(
      mach_task_self(), n, MACH_PORT_RECEIVE_STATUS, reinterpret_cast<mach_port_info_t>(&s),
      &count)));
  port_status out;
  out.in_set = s.mps_pset != 0;
  out.seqno = s.mps_seqno;
  out.make_send_count = s.mps_mscount;
  out.queue_limit = s.mps_qlimit;
  out.message_count = s.mps_msgcount;
  out.send_once_rights = s.mps_sorights;
  out.has_send_rights = s.mps_srights != 0;
  out.port_destroyed_requested = s.mps_pdrequest != 0;
  out.no_senders_requested = s.mps_nsrequest != 0;
  out.flags = s.mps_flags;
  return out;
}

result<mach_port_msgcount_t> receive_right::message_count() const noexcept {
  BOOST_OUTCOME_TRY(auto s, status());
  return s.message_count;
}

result<mach_port_mscount_t> receive_right::make_send_count() const noexcept {
  BOOST_OUTCOME_TRY(auto s, status());
  return s.make_send_count;
}

result<void> receive_right::set_make_send_count(mach_port_mscount_t mscount) const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  return detail::check(mach_port_set_mscount(mach_task_self(), n, mscount));
}

result<mach_port_seqno_t> receive_right::seqno() const noexcept {
  BOOST_OUTCOME_TRY(auto s, status());
  return s.seqno;
}

result<void> receive_right::set_seqno(mach_port_seqno_t seqno) const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  return detail::check(mach_port_set_seqno(mach_task_self(), n, seqno));
}

result<mach_port_context_t> receive_right::context() const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  mach_port_context_t c = 0;
  BOOST_OUTCOME_TRY(detail::check(mach_port_get_context(mach_task_self(), n, &c)));
  return c;
}

result<void> receive_right::set_context(mach_port_context_t context) const noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  if (guarded()) return guard_misuse();  // the guard is the context: keep it
  return detail::check(mach_port_set_context(mach_task_self(), n, context));
}

result<void> receive_right::guard_with(mach_port_context_t guard, guard_kind kind) noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  if (guarded()) return guard_misuse();
  const boolean_t strict = kind == guard_kind::strict;
  BOOST_OUTCOME_TRY(detail::check(mach_port_guard(mach_task_self(), n, guard, strict)));
  traits().guard = guard;
  return success();
}

result<void> receive_right::unguard() noexcept {
  BOOST_OUTCOME_TRY(auto n, checked_name());
  if (!guarded()) return guard_misuse();
  BOOST_OUTCOME_TRY(detail::check(mach_port_unguard(mach_task_self(), n, guard())));
  traits().guard.reset();
  return success();
}

namespace detail {
void refuse_guarded(const receive_right& r) {
  if (r.guarded()) {
    throw std::invalid_argument("machport: a guarded receive right is sent with add_guarded_port");
  }
}
}  // namespace detail

}  // namespace machport
