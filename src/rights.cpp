// Rights: RAII over names in the calling task's IPC space (xnu-ipc-semantics.md §2).
#include <machport/dead_name.hpp>
#include <machport/detail/release.hpp>
#include <machport/port_set.hpp>
#include <machport/receive_right.hpp>
#include <machport/send_once_right.hpp>
#include <machport/send_right.hpp>

#include <boost/assert.hpp>

namespace machport {
namespace detail {
namespace {
thread_local release_hook* current_hook = nullptr;
}

release_hook* set_release_hook(release_hook* hook) noexcept {
  release_hook* old = current_hook;
  current_hook = hook;
  return old;
}

release_hook* current_release_hook() noexcept { return current_hook; }

namespace {
// A refused release means two owners of one name (or region): see detail/release.hpp.
void check_released(kern_return_t kr) noexcept {
  BOOST_ASSERT_MSG(kr == KERN_SUCCESS,
                   "machport: the kernel refused to release a right or region this task owned "
                   "(two owners of one name?)");
  (void)kr;
}
}  // namespace

void release_name(mach_port_name_t name) noexcept {
  if (!MACH_PORT_VALID(name)) return;
  if (current_hook) return current_hook->deallocate(name);
  // Works for send, send-once and dead names alike, including rights whose port died.
  check_released(mach_port_deallocate(mach_task_self(), name));
}

void release_receive(mach_port_name_t name, bool guarded, mach_port_context_t guard) noexcept {
  if (!MACH_PORT_VALID(name)) return;
  if (guarded) {
    if (current_hook) return current_hook->destruct(name, guard);
    check_released(mach_port_destruct(mach_task_self(), name, 0, guard));
  } else {
    if (current_hook) return current_hook->mod_refs(name, MACH_PORT_RIGHT_RECEIVE, -1);
    check_released(mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_RECEIVE, -1));
  }
}

void release_port_set(mach_port_name_t name) noexcept {
  if (!MACH_PORT_VALID(name)) return;
  if (current_hook) return current_hook->mod_refs(name, MACH_PORT_RIGHT_PORT_SET, -1);
  check_released(mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_PORT_SET, -1));
}

void release_memory(std::uintptr_t address, std::size_t size) noexcept {
  if (size == 0 || address == 0) return;
  if (current_hook) return current_hook->vm_deallocate(address, size);
  check_released(vm_deallocate(mach_task_self(), static_cast<vm_address_t>(address),
                               static_cast<vm_size_t>(size)));
}

}  // namespace detail

namespace {
result<void> check(kern_return_t kr) noexcept {
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return success();
}

result<mach_port_type_t> type_of(mach_port_name_t name) noexcept {
  mach_port_type_t t = 0;
  kern_return_t kr = mach_port_type(mach_task_self(), name, &t);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return t;
}

bool dead(mach_port_name_t name) noexcept {
  if (name == MACH_PORT_DEAD) return true;
  if (name == MACH_PORT_NULL) return false;
  auto t = type_of(name);
  return t && (t.value() & MACH_PORT_TYPE_DEAD_NAME) != 0;
}
}  // namespace

// ---- send_right ------------------------------------------------------------------------

namespace {
// The name a copy of a send right owns: `name` with one more uref, or MACH_PORT_NULL if the
// kernel refused. NULL and DEAD own nothing and are copied as they are.
mach_port_name_t add_send_uref(mach_port_name_t name) noexcept {
  if (!MACH_PORT_VALID(name)) return name;
  // A send right to a dead port is a dead name: its urefs are counted as DEAD_NAME.
  kern_return_t kr = mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_SEND, 1);
  if (kr != KERN_SUCCESS) {
    kr = mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_DEAD_NAME, 1);
  }
  return kr == KERN_SUCCESS ? name : MACH_PORT_NULL;
}
}  // namespace

send_right::send_right(const send_right& other) noexcept
    : right_handle(add_send_uref(other.name()), {}) {}

send_right& send_right::operator=(const send_right& other) noexcept {
  if (this != &other) {
    send_right copy(other);
    *this = std::move(copy);
  }
  return *this;
}

result<send_right> send_right::copy_from(mach_port_name_t name) noexcept {
  kern_return_t kr = mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_SEND, 1);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return adopt(name);
}

bool send_right::is_dead() const noexcept { return dead(name()); }
result<mach_port_type_t> send_right::type() const noexcept { return type_of(name()); }

result<mach_port_urefs_t> send_right::urefs() const noexcept {
  mach_port_urefs_t n = 0;
  kern_return_t kr = mach_port_get_refs(mach_task_self(), name(), MACH_PORT_RIGHT_SEND, &n);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return n;
}

// ---- send_once_right -------------------------------------------------------------------

bool send_once_right::is_dead() const noexcept { return dead(name()); }
result<mach_port_type_t> send_once_right::type() const noexcept { return type_of(name()); }

// ---- dead_name -------------------------------------------------------------------------

result<dead_name> dead_name::allocate() noexcept {
  mach_port_name_t name = MACH_PORT_NULL;
  kern_return_t kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_DEAD_NAME, &name);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return adopt(name);
}

result<mach_port_urefs_t> dead_name::urefs() const noexcept {
  mach_port_urefs_t n = 0;
  kern_return_t kr = mach_port_get_refs(mach_task_self(), name(), MACH_PORT_RIGHT_DEAD_NAME, &n);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return n;
}

// ---- receive_right ---------------------------------------------------------------------

result<receive_right> receive_right::allocate() noexcept {
  mach_port_name_t name = MACH_PORT_NULL;
  kern_return_t kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &name);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
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

result<send_right> receive_right::make_send() const noexcept {
  kern_return_t kr = mach_port_insert_right(mach_task_self(), name(), name(), MACH_MSG_TYPE_MAKE_SEND);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return send_right::adopt(name());
}

result<send_once_right> receive_right::make_send_once() const noexcept {
  mach_port_t so = MACH_PORT_NULL;
  mach_msg_type_name_t disp = 0;
  kern_return_t kr = mach_port_extract_right(mach_task_self(), name(), MACH_MSG_TYPE_MAKE_SEND_ONCE,
                                             &so, &disp);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return send_once_right::adopt(so);
}

result<mach_port_msgcount_t> receive_right::queue_limit() const noexcept {
  mach_port_limits_t limits{};
  mach_msg_type_number_t count = MACH_PORT_LIMITS_INFO_COUNT;
  kern_return_t kr = mach_port_get_attributes(mach_task_self(), name(), MACH_PORT_LIMITS_INFO,
                                              reinterpret_cast<mach_port_info_t>(&limits), &count);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return limits.mpl_qlimit;
}

result<void> receive_right::set_queue_limit(mach_port_msgcount_t limit) const noexcept {
  mach_port_limits_t limits{};
  limits.mpl_qlimit = limit;
  return check(mach_port_set_attributes(mach_task_self(), name(), MACH_PORT_LIMITS_INFO,
                                        reinterpret_cast<mach_port_info_t>(&limits),
                                        MACH_PORT_LIMITS_INFO_COUNT));
}

result<port_status> receive_right::status() const noexcept {
  mach_port_status_t s{};
  mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
  kern_return_t kr = mach_port_get_attributes(mach_task_self(), name(), MACH_PORT_RECEIVE_STATUS,
                                              reinterpret_cast<mach_port_info_t>(&s), &count);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
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
  return check(mach_port_set_mscount(mach_task_self(), name(), mscount));
}

result<mach_port_seqno_t> receive_right::seqno() const noexcept {
  BOOST_OUTCOME_TRY(auto s, status());
  return s.seqno;
}

result<void> receive_right::set_seqno(mach_port_seqno_t seqno) const noexcept {
  return check(mach_port_set_seqno(mach_task_self(), name(), seqno));
}

result<mach_port_context_t> receive_right::context() const noexcept {
  mach_port_context_t c = 0;
  kern_return_t kr = mach_port_get_context(mach_task_self(), name(), &c);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return c;
}

result<void> receive_right::set_context(mach_port_context_t context) const noexcept {
  return check(mach_port_set_context(mach_task_self(), name(), context));
}

result<void> receive_right::guard_with(mach_port_context_t guard, bool strict) noexcept {
  BOOST_OUTCOME_TRY(check(mach_port_guard(mach_task_self(), name(), guard, strict)));
  traits().guard = guard;
  return success();
}

result<void> receive_right::unguard() noexcept {
  BOOST_OUTCOME_TRY(check(mach_port_unguard(mach_task_self(), name(), guard())));
  traits().guard.reset();
  return success();
}

// ---- port_set --------------------------------------------------------------------------

result<port_set> port_set::allocate() noexcept {
  mach_port_name_t name = MACH_PORT_NULL;
  kern_return_t kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_PORT_SET, &name);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return adopt(name);
}

result<void> port_set::insert(const receive_right& member) const noexcept {
  return check(mach_port_insert_member(mach_task_self(), member.name(), name()));
}

result<void> port_set::extract(const receive_right& member) const noexcept {
  return check(mach_port_extract_member(mach_task_self(), member.name(), name()));
}

}  // namespace machport
