// receive_right: the one receive right of a port; destroying it destroys the port.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/detail/release.hpp>
#include <machport/detail/right_handle.hpp>
#include <machport/result.hpp>
#include <machport/send_once_right.hpp>
#include <machport/send_right.hpp>

#include <optional>

namespace machport {

// Options for receive_right::construct (mach_port_construct).
struct port_options {
  // Queue limit (MPO_QLIMIT); at most MACH_PORT_QLIMIT_MAX (1024). Unset: the default, 5.
  std::optional<mach_port_msgcount_t> queue_limit;
  // The port context, returned in the CTX trailer and by context(). With `guard`, it is the
  // guard value instead (MPO_CONTEXT_AS_GUARD), and the port can only be destroyed with it.
  mach_port_context_t context = 0;
  bool guard = false;
  bool strict_guard = false;       // MPO_STRICT (needs guard)
  bool immovable_receive = false;  // MPO_IMMOVABLE_RECEIVE (needs guard)
  // Also give the calling task a send right under the same name (MPO_INSERT_SEND_RIGHT,
  // make-send count becomes 1). It is returned in constructed_port::send.
  bool insert_send_right = false;
};

// Receive-side status of a port (mach_port_get_attributes(MACH_PORT_RECEIVE_STATUS)).
struct port_status {
  bool in_set = false;
  mach_port_seqno_t seqno = 0;
  mach_port_mscount_t make_send_count = 0;
  mach_port_msgcount_t queue_limit = 0;
  mach_port_msgcount_t message_count = 0;
  mach_port_rights_t send_once_rights = 0;
  bool has_send_rights = false;
  bool port_destroyed_requested = false;
  bool no_senders_requested = false;
  natural_t flags = 0;  // MACH_PORT_STATUS_FLAG_*
};

struct constructed_port;

// How receive_right::guard_with guards a port (mach_port_guard's `strict`).
enum class guard_kind {
  plain,   // the guard is the context: context() reads it
  strict,  // MPG_STRICT: context() reads 0, and the kernel refuses to set the context
};

namespace detail {
// The receive right's state that travels with its name: the guard, if the port is guarded.
struct receive_right_traits {
  std::optional<mach_port_context_t> guard;
  void free(mach_port_name_t name) const noexcept { release_receive(name, guard); }
};
}  // namespace detail

// Move-only owner of a receive right. Destroying it destroys the port (queued messages are
// destroyed, senders' rights become dead names), unless a port-destroyed notification is
// armed, in which case the kernel sends the right there instead.
//
// A guarded receive right remembers its guard: destruction uses mach_port_destruct with it,
// because mach_port_mod_refs on a guarded port raises a fatal guard exception. To keep the
// remembered guard right, the calls that would change or misuse the guard behind the right's
// back (set_context, guard_with on a guarded right, unguard on an unguarded one) are refused
// here with KERN_INVALID_ARGUMENT, before the kernel is asked and raises a guard exception.
//
// An empty right (valid() false) fails every call below with KERN_INVALID_NAME, without
// calling the kernel. adopt, release, reset, name, valid and == come from
// detail/right_handle.hpp. A release the kernel refuses (two owners of one name) asserts in
// debug builds (see detail/release.hpp).
class receive_right : public detail::right_handle<receive_right, detail::receive_right_traits> {
 public:
  receive_right() noexcept = default;

  // Returns a new port with default attributes (mach_port_allocate(RECEIVE)).
  // Errors: KERN_NO_SPACE; nothing is created on error.
  static result<receive_right> allocate() noexcept;
  // Returns a new port (mach_port_construct). Errors: KERN_INVALID_VALUE (queue limit > 1024),
  // KERN_INVALID_ARGUMENT (inconsistent options); nothing is created on error.
  static result<constructed_port> construct(const port_options& options) noexcept;

  // Takes ownership of the guarded receive right under `name`, guarded with `guard`.
  // (adopt(name) takes an unguarded one.) Nothing is checked.
  static receive_right adopt_guarded(mach_port_name_t name, mach_port_context_t guard) noexcept {
    return receive_right(name, guard);
  }

  // True if the right remembers a guard (and is destroyed with mach_port_destruct).
  bool guarded() const noexcept { return traits().guard.has_value(); }
  // The remembered guard, or 0 for an unguarded right.
  mach_port_context_t guard() const noexcept { return traits().guard.value_or(0); }

  // Returns a new send right (insert_right MAKE_SEND; make-send count +1). It shares this
  // name. Errors: KERN_INVALID_NAME (empty right), KERN_UREFS_OVERFLOW.
  result<send_right> make_send() const noexcept;
  // Returns a new send-once right under a fresh name (extract_right MAKE_SEND_ONCE).
  // Errors: KERN_INVALID_NAME (empty right), KERN_NO_SPACE.
  result<send_once_right> make_send_once() const noexcept;

  // Attributes. Each returns the value or sets it; on error nothing changed. Errors:
  // KERN_INVALID_NAME (empty right), else the kernel's (KERN_INVALID_RIGHT, ...).
  result<mach_port_msgcount_t> queue_limit() const noexcept;
  // KERN_INVALID_VALUE above MACH_PORT_QLIMIT_MAX; the old limit stays.
  result<void> set_queue_limit(mach_port_msgcount_t limit) const noexcept;
  result<port_status> status() const noexcept;
  result<mach_port_msgcount_t> message_count() const noexcept;
  result<mach_port_mscount_t> make_send_count() const noexcept;
  result<void> set_make_send_count(mach_port_mscount_t mscount) const noexcept;
  result<mach_port_seqno_t> seqno() const noexcept;
  result<void> set_seqno(mach_port_seqno_t seqno) const noexcept;
  // Returns the context (0 for a strictly guarded port, the guard for a plain guarded one).
  result<mach_port_context_t> context() const noexcept;
  // Sets the context of an unguarded port. On a guarded right it fails with
  // KERN_INVALID_ARGUMENT and the kernel is not called: the guard IS the context, so XNU
  // would overwrite the guard of a plain guarded port (and the remembered guard would no
  // longer destroy it), and raises a fatal guard exception for a strict one.
  result<void> set_context(mach_port_context_t context) const noexcept;

  // Guards an unguarded port whose context is 0 (mach_port_guard) and remembers the guard.
  // Errors: KERN_INVALID_ARGUMENT (already guarded: refused without calling the kernel, which
  // would raise a guard exception; or the port has a non-zero context, which XNU also reports
  // with a guard exception, fatal or not by the task's guard policy). On error the right is
  // unchanged.
  result<void> guard_with(mach_port_context_t guard, guard_kind kind = guard_kind::plain) noexcept;
  // Removes the guard (mach_port_unguard with the remembered guard); the context becomes 0.
  // Errors: KERN_INVALID_ARGUMENT (the right is not guarded: refused without calling the
  // kernel, for which unguarding an unguarded port is a fatal guard exception). On error the
  // right is unchanged.
  result<void> unguard() noexcept;

 private:
  receive_right(mach_port_name_t name, mach_port_context_t guard) noexcept
      : right_handle(name, detail::receive_right_traits{guard}) {}
};

// What receive_right::construct returns: the receive right and, with insert_send_right, a
// send right under the same name (else empty).
struct constructed_port {
  receive_right receive;
  send_right send;
};

// Identity: a send right and the receive right of the same port share one name in a space.
inline bool same_port(const receive_right& r, const send_right& s) noexcept {
  return r.valid() && r.name() == s.name();
}

namespace detail {
// Throws std::invalid_argument if `r` is guarded. A guarded receive right travels only in a
// guarded port descriptor (message_builder::add_guarded_port): a port descriptor would lose the
// guard, and releasing the unsent message would then call mach_port_mod_refs on a guarded port,
// which the kernel refuses (on macOS: a fatal guard exception), leaking the port.
void refuse_guarded(const receive_right& r);
}  // namespace detail

}  // namespace machport

template <>
struct std::hash<machport::receive_right> : machport::detail::right_hash {};
