// Synchronous send and receive (xnu-ipc-semantics.md §4.2, §4.6, §5.2).
#include <machport/detail/message_access.hpp>
#include <machport/detail/release.hpp>
#include <machport/detail/send_attempt.hpp>
#include <machport/detail/wire.hpp>
#include <machport/receive.hpp>
#include <machport/send.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <vector>

namespace machport {
namespace {

using clock = std::chrono::steady_clock;
using detail::load32;
using detail::store32;

// The timeout argument for mach_msg, and whether to pass the *_TIMEOUT option.
bool timed(std::chrono::milliseconds t) noexcept { return t != no_timeout; }

mach_msg_timeout_t to_mach(std::chrono::milliseconds t) noexcept {
  return static_cast<mach_msg_timeout_t>(detail::clamp_timeout(t).count());
}

bool pseudo_received(mach_msg_return_t mr) noexcept {
  switch (mr & ~MACH_MSG_MASK) {
    case MACH_SEND_TIMED_OUT:
    case MACH_SEND_INTERRUPTED:
    case MACH_SEND_NO_BUFFER:
    case MACH_SEND_INVALID_CONTEXT:
      return true;
    default:
      return false;
  }
}

// Errors raised before the header is copied in: the space and the message are untouched.
bool untouched(mach_msg_return_t mr) noexcept {
  switch (mr) {
    case MACH_SEND_MSG_TOO_SMALL:
    case MACH_SEND_TOO_LARGE:
    case MACH_SEND_INVALID_DATA:
    case MACH_SEND_INVALID_TYPE:
    case MACH_SEND_INVALID_HEADER:
    case MACH_SEND_INVALID_VOUCHER:
    case MACH_SEND_INVALID_DEST:
    case MACH_SEND_INVALID_REPLY:
      return true;
    default:
      return false;
  }
}

// After a pseudo-receive the buffer holds the message as the kernel queued it, translated into
// our space: header dispositions and descriptor dispositions are PORT_* (= MOVE_*, rights we
// now own) and OOL regions were mapped afresh for us. Marks those regions owned
// (deallocate = true) so that the message is again a valid outgoing message that owns all of
// it, and takes the destination right out of the header. Returns that destination name.
mach_port_name_t normalize_pseudo_received(std::byte* buf, std::size_t length) noexcept {
  const std::uint32_t bits = load32(buf + detail::header_bits_offset);
  const mach_port_name_t dest = load32(buf + detail::header_remote_offset);
  store32(buf + detail::header_bits_offset, detail::with_remote_disposition(bits, 0));
  store32(buf + detail::header_remote_offset, MACH_PORT_NULL);
  (void)detail::walk(buf, length, [&](const detail::raw_descriptor& d) {
    if (d.type == detail::type_ool || d.type == detail::type_ool_volatile ||
        d.type == detail::type_ool_ports) {
      if (d.address != 0) detail::set_deallocate(buf, d.offset);
    }
  });
  return detail::remote_disposition(bits) != 0 ? dest : MACH_PORT_NULL;
}

// The kernel copies the header rights in before the descriptors, and a descriptor that fails
// then (MACH_SEND_INVALID_RIGHT) leaves the message half destroyed: the header rights and the
// descriptors before it are gone, the rest untouched, and which is which cannot be read back
// reliably. So every port right the message names is checked first, in the kernel's order and
// with the kernel's rules (§4.3), simulating what each copy-in consumes. A message that passes
// can then fail after the header only if another thread changes these names meanwhile, or on
// what user space cannot see (an immovable receive right, a guard mismatch).
class right_checker {
 public:
  // Whether `name` can be copied in with `disposition` after everything checked before it.
  bool take(mach_port_name_t name, std::uint8_t disposition) {
    if (!MACH_PORT_VALID(name)) return true;  // NULL and DEAD pass through with any disposition
    entry* e = find(name);
    if (e == nullptr) return false;
    const bool dead = (e->type & MACH_PORT_TYPE_DEAD_NAME) != 0;
    switch (disposition) {
      case detail::disp_copy_send:
        return dead || ((e->type & MACH_PORT_TYPE_SEND) != 0 && e->urefs > 0);
      case detail::disp_move_send:
        if (!dead && (e->type & MACH_PORT_TYPE_SEND) == 0) return false;
        if (e->urefs == 0) return false;
        if (e->urefs != detail::pegged_urefs) --e->urefs;
        return true;
      case detail::disp_move_send_once:
        if (!dead && (e->type & MACH_PORT_TYPE_SEND_ONCE) == 0) return false;
        if (e->gone) return false;
        e->gone = true;
        return true;
      case detail::disp_make_send:
      case detail::disp_make_send_once:
        return (e->type & MACH_PORT_TYPE_RECEIVE) != 0 && !e->receive_moved;
      case detail::disp_move_receive:
        if ((e->type & MACH_PORT_TYPE_RECEIVE) == 0 || e->receive_moved) return false;
        e->receive_moved = true;
        return true;
      default:
        return false;  // not a disposition the kernel accepts in a descriptor
    }
  }

 private:
  struct entry {
    mach_port_name_t name;
    mach_port_type_t type;
    mach_port_urefs_t urefs;  // send or dead-name urefs still available
    bool gone;                // the send-once right (or dead name) was moved already
    bool receive_moved;
  };

  entry* find(mach_port_name_t name) {
    for (auto& e : entries_) {
      if (e.name == name) return &e;
    }
    mach_port_type_t type = 0;
    if (mach_port_type(mach_task_self(), name, &type) != KERN_SUCCESS) return nullptr;
    mach_port_urefs_t urefs = 0;
    const mach_port_right_t right = (type & MACH_PORT_TYPE_DEAD_NAME) != 0 ? MACH_PORT_RIGHT_DEAD_NAME
                                                                           : MACH_PORT_RIGHT_SEND;
    if ((type & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_DEAD_NAME)) != 0 &&
        mach_port_get_refs(mach_task_self(), name, right, &urefs) != KERN_SUCCESS) {
      return nullptr;
    }
    entries_.push_back(entry{name, type, urefs, false, false});
    return &entries_.back();
  }

  std::vector<entry> entries_;
};

// Checks every descriptor right of an outgoing message sent to `dest` (see right_checker).
bool rights_would_copy_in(const std::byte* buf, std::size_t length, mach_port_name_t dest,
                          std::uint8_t dest_disp) {
  const mach_msg_header_t h = detail::load_header(buf);
  right_checker check;
  const std::uint8_t reply_disp = detail::local_disposition(h.msgh_bits);
  // The kernel checks the destination and reply rights before it copies anything in; they are
  // simulated only for what they take away from the descriptors after them.
  (void)check.take(dest, dest_disp);
  if (reply_disp != 0) (void)check.take(h.msgh_local_port, reply_disp);
  bool ok = true;
  const auto e = detail::walk(buf, length, [&](const detail::raw_descriptor& d) {
    if (!ok) return;
    switch (d.type) {
      case detail::type_port:
      case detail::type_guarded_port:
        ok = check.take(d.name, d.disposition);
        break;
      case detail::type_ool_ports:
        if (d.count > detail::max_port_count) break;  // the kernel refuses it before any copy-in
        detail::for_each_port_name(d.address, d.count, [&](mach_port_name_t n) {
          ok = ok && check.take(n, d.disposition);
        });
        break;
      default:
        break;
    }
  });
  return ok || e != message_errc::success;  // a malformed message: the kernel rejects it first
}

// What a message built from machport's owning types needs checked before it is sent, found
// without a kernel call: whether a descriptor borrows a right (COPY_SEND, MAKE_*: its owner
// lives outside the message and may have dropped it), and whether a send-once or receive right
// is moved twice (two owning objects adopted the same name). The header reply needs nothing:
// the kernel checks it before copying anything in (MACH_SEND_INVALID_REPLY, message untouched).
class owned_rights_scan {
 public:
  enum class verdict { trusted, check_in_kernel, duplicate };

  verdict scan(const std::byte* buf, std::size_t length, mach_port_name_t dest,
               std::uint8_t dest_disp) noexcept {
    const mach_msg_header_t h = detail::load_header(buf);
    if (!detail::is_complex(h.msgh_bits)) return verdict::trusted;
    // The header's rights count only for what they move (the kernel checks them first).
    if (detail::owns_right(dest_disp)) note(dest, dest_disp);
    const std::uint8_t reply_disp = detail::local_disposition(h.msgh_bits);
    if (detail::owns_right(reply_disp)) note(h.msgh_local_port, reply_disp);
    (void)detail::walk(buf, length, [&](const detail::raw_descriptor& d) {
      switch (d.type) {
        case detail::type_port:
        case detail::type_guarded_port:
          note(d.name, d.disposition);
          break;
        case detail::type_ool_ports:
          if (d.count > detail::max_port_count) break;  // the kernel refuses it first
          if (!detail::owns_right(d.disposition)) {
            borrowed_ = true;
          } else if (d.disposition != detail::disp_move_send) {
            detail::for_each_port_name(d.address, d.count,
                                       [&](mach_port_name_t n) { note(n, d.disposition); });
          }
          break;
        default:
          break;
      }
    });
    if (borrowed_ || overflow_) return verdict::check_in_kernel;
    return duplicate_ ? verdict::duplicate : verdict::trusted;
  }

 private:
  void note(mach_port_name_t name, std::uint8_t disposition) noexcept {
    if (disposition == 0 || !MACH_PORT_VALID(name)) return;
    if (!detail::owns_right(disposition)) {
      borrowed_ = true;
      return;
    }
    // Several MOVE_SEND of one name are fine (one uref each); a send-once or receive right
    // can be moved once.
    if (disposition == detail::disp_move_send) return;
    for (std::size_t i = 0; i < count_; ++i) {
      if (unique_[i] == name) duplicate_ = true;
    }
    if (count_ == unique_.size()) {
      overflow_ = true;  // many rights: leave it to the full check
      return;
    }
    unique_[count_++] = name;
  }

  std::array<mach_port_name_t, 16> unique_{};
  std::size_t count_ = 0;
  bool borrowed_ = false;
  bool duplicate_ = false;
  bool overflow_ = false;
};

// Whether the rights of `msg` would all copy in: without a kernel call for a message built
// from owning types, with right_checker for the others (see send.hpp).
bool rights_pass(const message& msg, const std::byte* buf, std::size_t length,
                 mach_port_name_t dest, std::uint8_t dest_disp) {
  if (!detail::message_access::foreign(msg)) {
    switch (owned_rights_scan{}.scan(buf, length, dest, dest_disp)) {
      case owned_rights_scan::verdict::trusted: return true;
      case owned_rights_scan::verdict::duplicate: return false;
      case owned_rights_scan::verdict::check_in_kernel: break;
    }
  } else if (!detail::is_complex(detail::load_header(buf).msgh_bits)) {
    return true;  // only the header: the kernel checks it before copying anything in
  }
  return rights_would_copy_in(buf, length, dest, dest_disp);
}

// Sends with `dest` / `disposition` as destination. On return, `returned_dest` holds the
// destination name the kernel handed back in a pseudo-receive (or NULL). `extra` is or-ed into
// the mach_msg options (MACH_SEND_NOTIFY for the asynchronous send).
result<void> do_send(mach_port_name_t dest, std::uint8_t disposition, message& msg,
                     std::chrono::milliseconds timeout, bool& consumed_dest,
                     mach_port_name_t& returned_dest, mach_msg_option_t extra = 0) {
  consumed_dest = false;
  returned_dest = MACH_PORT_NULL;
  if (msg.empty()) return message_errc::empty_message;
  if (msg.current_state() != message::state::outgoing) return message_errc::bad_header_bits;
  std::byte* buf = detail::message_access::data(msg);
  const std::size_t capacity = detail::message_access::capacity(msg);
  // Refused here, the message and the destination stay untouched and owned by the caller.
  if (!rights_pass(msg, buf, capacity, dest, disposition)) {
    return make_msg_error(MACH_SEND_INVALID_RIGHT);
  }
  const std::uint32_t bits = load32(buf + detail::header_bits_offset);
  // Each send names its own destination; the header carries none between sends.
  store32(buf + detail::header_bits_offset, detail::with_remote_disposition(bits, disposition));
  store32(buf + detail::header_remote_offset, dest);
  const mach_msg_size_t size = msg.size();

  mach_msg_option_t options = MACH_SEND_MSG | extra;
  if (timed(timeout)) options |= MACH_SEND_TIMEOUT;
  mach_msg_return_t mr = mach_msg(reinterpret_cast<mach_msg_header_t*>(buf), options, size, 0,
                                  MACH_PORT_NULL, timed(timeout) ? to_mach(timeout) : 0,
                                  MACH_PORT_NULL);
  if (mr == MACH_MSG_SUCCESS) {
    consumed_dest = true;
    msg.detach();  // the kernel owns it all now
    return success();
  }
  if (pseudo_received(mr)) {
    consumed_dest = true;
    returned_dest = normalize_pseudo_received(buf, capacity);
    detail::message_access::set_foreign(msg, false);  // the kernel inserted every right in it
    return make_msg_error(mr);
  }
  if (untouched(mr)) {
    store32(buf + detail::header_bits_offset, bits);
    store32(buf + detail::header_remote_offset, MACH_PORT_NULL);
    return make_msg_error(mr);
  }
  // The kernel destroyed the header rights (a send-once destination included) and part of
  // the body; nothing in the buffer can be trusted to be ours any more.
  consumed_dest = true;
  msg.detach();
  return make_msg_error(mr);
}

}  // namespace

namespace detail {

result<void> send_without_waiting(mach_port_name_t dest, std::uint8_t disposition, message& msg,
                                  bool& consumed_dest, mach_port_name_t& returned_dest) {
  return do_send(dest, disposition, msg, std::chrono::milliseconds::zero(), consumed_dest,
                 returned_dest, MACH_SEND_NOTIFY);
}

}  // namespace detail

result<void> send(const send_right& dest, message&& msg, std::chrono::milliseconds timeout) {
  bool consumed = false;
  mach_port_name_t returned = MACH_PORT_NULL;
  auto r = do_send(dest.name(), MACH_MSG_TYPE_COPY_SEND, msg, timeout, consumed, returned);
  // A pseudo-receive hands back the copied send right: it is an extra uref we release.
  detail::release_name(returned);
  return r;
}

result<void> send(send_once_right&& dest, message&& msg, std::chrono::milliseconds timeout) {
  bool consumed = false;
  mach_port_name_t returned = MACH_PORT_NULL;
  auto r = do_send(dest.name(), MACH_MSG_TYPE_MOVE_SEND_ONCE, msg, timeout, consumed, returned);
  if (consumed) {
    (void)dest.release();  // the kernel consumed it ...
    if (MACH_PORT_VALID(returned)) dest = send_once_right::adopt(returned);  // ... or gave it back
  }
  return r;
}

result<void> send(reply_port&& dest, message&& msg, std::chrono::milliseconds timeout) {
  bool consumed = false;
  mach_port_name_t returned = MACH_PORT_NULL;
  // An empty reply_port names MACH_PORT_NULL: the kernel refuses it (INVALID_DEST) untouched.
  const auto disposition = dest.disposition() != 0 ? static_cast<std::uint8_t>(dest.disposition())
                                                   : detail::disp_copy_send;
  auto r = do_send(dest.name(), disposition, msg, timeout, consumed, returned);
  if (consumed) {
    (void)dest.release();
    // A pseudo-receive hands back the right the send made or moved: now ours.
    if (MACH_PORT_VALID(returned)) {
      const bool once = disposition == detail::disp_move_send_once ||
                        disposition == detail::disp_make_send_once;
      dest = reply_port::adopt(returned, once ? detail::disp_move_send_once : detail::disp_move_send);
    }
  }
  return r;
}

// The buffer size the last message too large for this thread's buffer needed: a receive
// without a message of its own starts there, so that a size seen once costs one kernel call
// from then on (MACH_RCV_TOO_LARGE at most once per size increase, per thread).
thread_local std::size_t receive_size_hint = 0;

result<void> receive(mach_port_name_t from, message& into, const receive_options& o) {
  const std::size_t tsize = trailer_size(o.trailer);
  std::size_t capacity = std::max({o.buffer_size, detail::header_size + tsize,
                                   detail::message_access::capacity(into)});
  const bool has_deadline = timed(o.timeout);
  const auto deadline = detail::receive_deadline(clock::now(), o.timeout);

  mach_msg_option_t options = MACH_RCV_MSG | MACH_RCV_LARGE |
                              MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
                              MACH_RCV_TRAILER_ELEMENTS(static_cast<unsigned>(o.trailer));
  if (has_deadline) options |= MACH_RCV_TIMEOUT;
  if (o.guarded_descriptors) options |= MACH_RCV_GUARDED_DESC;

  for (;;) {
    if (capacity > std::numeric_limits<mach_msg_size_t>::max()) {
      into.reset();
      return make_msg_error(MACH_RCV_TOO_LARGE);
    }
    // Releases what `into` held; keeps (or grows) its buffer.
    auto* hdr = reinterpret_cast<mach_msg_header_t*>(detail::message_access::prepare(into, capacity));
    capacity = detail::message_access::capacity(into);
    mach_msg_timeout_t ms = 0;
    if (has_deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
      ms = to_mach(left);
    }
    mach_msg_return_t mr = mach_msg(hdr, options, 0, static_cast<mach_msg_size_t>(capacity), from,
                                    ms, MACH_PORT_NULL);
    if (mr == MACH_RCV_TOO_LARGE) {
      // The message stays queued and msgh_size says how big it is (without trailer).
      std::size_t needed = static_cast<std::size_t>(hdr->msgh_size) + tsize;
      capacity = std::max(needed, capacity + 1);
      receive_size_hint = std::max(receive_size_hint, capacity);
      continue;
    }
    if (mr == MACH_MSG_SUCCESS) {
      detail::message_access::set_state(into, message::state::received);
      return success();
    }
    if ((mr & ~MACH_MSG_MASK) == MACH_RCV_BODY_ERROR) {
      detail::message_access::set_state(into, message::state::received);
      into.reset();  // releases the part that arrived
    }
    return make_msg_error(mr);
  }
}

result<message> receive(mach_port_name_t from, const receive_options& o) {
  message m;
  receive_options first = o;
  first.buffer_size = std::max(o.buffer_size, receive_size_hint);
  BOOST_OUTCOME_TRY(receive(from, m, first));
  return m;
}

result<message> receive(const receive_right& from, const receive_options& o) {
  return receive(from.name(), o);
}

result<message> receive(const port_set& from, const receive_options& o) {
  return receive(from.name(), o);
}

result<void> receive(const receive_right& from, message& into, const receive_options& o) {
  return receive(from.name(), into, o);
}

result<void> receive(const port_set& from, message& into, const receive_options& o) {
  return receive(from.name(), into, o);
}

}  // namespace machport
