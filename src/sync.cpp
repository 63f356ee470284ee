// Synchronous send and receive (xnu-ipc-semantics.md §4.2, §4.6, §5.2).
#include <machport/detail/message_access.hpp>
#include <machport/detail/release.hpp>
#include <machport/detail/wire.hpp>
#include <machport/receive.hpp>
#include <machport/send.hpp>

#include <algorithm>
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
  // Only the header: the kernel checks it before copying anything in.
  if (!detail::is_complex(h.msgh_bits)) return true;
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

// Sends with `dest` / `disposition` as destination. On return, `returned_dest` holds the
// destination name the kernel handed back in a pseudo-receive (or NULL).
result<void> do_send(mach_port_name_t dest, std::uint8_t disposition, message& msg,
                     std::chrono::milliseconds timeout, bool& consumed_dest,
                     mach_port_name_t& returned_dest) {
  consumed_dest = false;
  returned_dest = MACH_PORT_NULL;
  if (msg.empty()) return message_errc::empty_message;
  if (msg.current_state() != message::state::outgoing) return message_errc::bad_header_bits;
  std::byte* buf = detail::message_access::data(msg);
  const std::size_t capacity = detail::message_access::capacity(msg);
  // Refused here, the message and the destination stay untouched and owned by the caller.
  if (!rights_would_copy_in(buf, capacity, dest, disposition)) {
    return make_msg_error(MACH_SEND_INVALID_RIGHT);
  }
  const std::uint32_t bits = load32(buf + detail::header_bits_offset);
  // Each send names its own destination; the header carries none between sends.
  store32(buf + detail::header_bits_offset, detail::with_remote_disposition(bits, disposition));
  store32(buf + detail::header_remote_offset, dest);
  const mach_msg_size_t size = msg.size();

  mach_msg_option_t options = MACH_SEND_MSG;
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

result<message> receive(mach_port_name_t from, const receive_options& o) {
  const std::size_t tsize = trailer_size(o.trailer);
  std::size_t capacity = std::max<std::size_t>(o.buffer_size, detail::header_size + tsize);
  const bool has_deadline = timed(o.timeout);
  const auto deadline = detail::receive_deadline(clock::now(), o.timeout);

  mach_msg_option_t options = MACH_RCV_MSG | MACH_RCV_LARGE |
                              MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
                              MACH_RCV_TRAILER_ELEMENTS(static_cast<unsigned>(o.trailer));
  if (has_deadline) options |= MACH_RCV_TIMEOUT;
  if (o.guarded_descriptors) options |= MACH_RCV_GUARDED_DESC;

  for (;;) {
    if (capacity > std::numeric_limits<mach_msg_size_t>::max()) {
      return make_msg_error(MACH_RCV_TOO_LARGE);
    }
    auto storage = detail::allocate_storage(capacity);
    auto* hdr = reinterpret_cast<mach_msg_header_t*>(storage.get());
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
      continue;
    }
    if (mr == MACH_MSG_SUCCESS || (mr & ~MACH_MSG_MASK) == MACH_RCV_BODY_ERROR) {
      message m;
      detail::message_access::assign(m, std::move(storage), capacity, message::state::received);
      if (mr == MACH_MSG_SUCCESS) return m;
      return make_msg_error(mr);  // m releases the part that arrived
    }
    return make_msg_error(mr);
  }
}

result<message> receive(const receive_right& from, const receive_options& o) {
  return receive(from.name(), o);
}

result<message> receive(const port_set& from, const receive_options& o) {
  return receive(from.name(), o);
}

}  // namespace machport
