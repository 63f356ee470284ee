// Synchronous send and receive (xnu-ipc-semantics.md §4.2, §4.6, §5.2).
#include <machport/detail/message_access.hpp>
#include <machport/detail/release.hpp>
#include <machport/detail/wire.hpp>
#include <machport/receive.hpp>
#include <machport/send.hpp>

#include <algorithm>
#include <limits>

namespace machport {
namespace {

using clock = std::chrono::steady_clock;
using detail::load32;
using detail::store32;

// The timeout argument for mach_msg, and whether to pass the *_TIMEOUT option.
bool timed(std::chrono::milliseconds t) noexcept { return t != no_timeout; }

mach_msg_timeout_t to_mach(std::chrono::milliseconds t) noexcept {
  if (t.count() <= 0) return 0;
  constexpr auto max = std::numeric_limits<mach_msg_timeout_t>::max() - 1;
  return t.count() >= static_cast<long long>(max) ? max : static_cast<mach_msg_timeout_t>(t.count());
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
  const std::uint32_t bits = load32(buf);
  const mach_port_name_t dest = load32(buf + 8);
  store32(buf, bits & ~static_cast<std::uint32_t>(MACH_MSGH_BITS_REMOTE_MASK));
  store32(buf + 8, MACH_PORT_NULL);
  (void)detail::walk(buf, length, [&](const detail::raw_descriptor& d) {
    if (d.type == detail::type_ool || d.type == detail::type_ool_volatile ||
        d.type == detail::type_ool_ports) {
      if (d.address != 0) buf[d.offset + 8] = std::byte{1};
    }
  });
  return (bits & MACH_MSGH_BITS_REMOTE_MASK) != 0 ? dest : MACH_PORT_NULL;
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
  const std::uint32_t bits = load32(buf);
  // Each send names its own destination; the header carries none between sends.
  store32(buf, (bits & ~static_cast<std::uint32_t>(MACH_MSGH_BITS_REMOTE_MASK)) | disposition);
  store32(buf + 8, dest);
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
    store32(buf, bits);
    store32(buf + 8, MACH_PORT_NULL);
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
  const auto deadline = has_deadline ? clock::now() + o.timeout : clock::time_point::max();

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
