// message: an owning Mach message buffer, and the release of what it owns.
#include <machport/detail/message_access.hpp>
#include <machport/detail/release.hpp>
#include <machport/detail/wire.hpp>
#include <machport/message.hpp>

#include <algorithm>
#include <cstring>
#include <utility>

namespace machport {
namespace detail {

std::unique_ptr<std::uint64_t[]> allocate_storage(std::size_t bytes, bool zeroed) {
  const std::size_t words = std::max<std::size_t>((bytes + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t), 1);
  if (zeroed) return std::unique_ptr<std::uint64_t[]>(new std::uint64_t[words]());
  return std::unique_ptr<std::uint64_t[]>(new std::uint64_t[words]);
}

void release_port(mach_port_name_t name, std::uint8_t disposition) noexcept {
  switch (disposition) {
    case disp_move_receive: release_receive(name, std::nullopt); break;
    case disp_move_send:
    case disp_move_send_once: release_name(name); break;
    default: break;  // COPY_SEND / MAKE_*: borrowed; anything else: not a right we hold
  }
}

void release_contents(std::byte* buf, std::size_t length, message::state st) noexcept {
  if (st == message::state::empty || buf == nullptr || length < header_size) return;
  const bool received = st == message::state::received;
  const mach_msg_header_t h = load_header(buf);
  const std::uint8_t remote_disp = remote_disposition(h.msgh_bits);
  const std::uint8_t local_disp = local_disposition(h.msgh_bits);
  if (remote_disp == disp_move_send || remote_disp == disp_move_send_once) {
    release_name(h.msgh_remote_port);
  }
  // On receipt msgh_local_port is our receive right, which the message does not own.
  if (!received && (local_disp == disp_move_send || local_disp == disp_move_send_once)) {
    release_name(h.msgh_local_port);
  }
  if (voucher_disposition(h.msgh_bits) == disp_move_send) release_name(h.msgh_voucher_port);

  (void)walk(buf, length, [&](const raw_descriptor& d) { release_descriptor(d, received); });
}

void release_descriptor(const raw_descriptor& d, bool received) noexcept {
  switch (d.type) {
    case type_port:
      release_port(d.name, d.disposition);
      break;
    case type_ool:
    case type_ool_volatile:
      if (received || d.deallocate) release_memory(d.address, d.count);
      break;
    case type_ool_ports: {
      // No kernel writes a longer array: such a received descriptor was never the kernel's,
      // and neither its names nor its memory are trusted. An outgoing one is ours.
      if (received && d.count > max_port_count) break;
      if (owns_right(d.disposition)) {
        for_each_port_name(d.address, d.count,
                           [&](mach_port_name_t n) { release_port(n, d.disposition); });
      }
      if (received || d.deallocate) {
        release_memory(d.address, static_cast<std::size_t>(d.count) * sizeof(mach_port_name_t));
      }
      break;
    }
    case type_guarded_port:
      // mach_port_destruct ignores the guard of an unguarded port, so it fits both cases.
      if (d.disposition == disp_move_receive) {
        release_receive(d.name, static_cast<mach_port_context_t>(d.address));
      }
      break;
    default:
      break;
  }
}

}  // namespace detail

message::message(message&& other) noexcept
    : storage_(std::move(other.storage_)),
      capacity_(other.capacity_),
      state_(other.state_),
      foreign_(other.foreign_) {
  other.capacity_ = 0;
  other.state_ = state::empty;
}

message& message::operator=(message&& other) noexcept {
  if (this != &other) {
    reset();
    storage_ = std::move(other.storage_);
    capacity_ = other.capacity_;
    state_ = other.state_;
    foreign_ = other.foreign_;
    other.capacity_ = 0;
    other.state_ = state::empty;
  }
  return *this;
}

message message::adopt_received(std::span<const std::byte> bytes) {
  message m;
  auto storage = detail::allocate_storage(bytes.size());
  if (!bytes.empty()) std::memcpy(storage.get(), bytes.data(), bytes.size());
  detail::message_access::assign(m, std::move(storage), bytes.size(), state::received);
  return m;
}

void message::assign_received(std::span<const std::byte> bytes) {
  // A reused buffer may be larger: the bytes after `bytes` are zeroed, so that the receiver
  // sees no trailer there unless `bytes` has one (see adopt_received).
  std::byte* buf = detail::message_access::prepare(*this, bytes.size());
  if (!bytes.empty()) std::memcpy(buf, bytes.data(), bytes.size());
  std::memset(buf + bytes.size(), 0, capacity_ - bytes.size());
  state_ = state::received;
}

message message::adopt_outgoing(std::span<const std::byte> bytes) {
  message m = adopt_received(bytes);
  m.state_ = state::outgoing;
  m.foreign_ = true;
  return m;
}

void message::reset() noexcept {
  if (state_ != state::empty) {
    detail::release_contents(reinterpret_cast<std::byte*>(storage_.get()), capacity_, state_);
  }
  detach();
}

void message::detach() noexcept {
  state_ = state::empty;  // the buffer stays, for reuse
  foreign_ = false;
}

void message::reserve(std::size_t bytes) {
  if (bytes <= capacity_ && storage_) return;
  auto fresh = detail::allocate_storage(bytes);
  if (state_ != state::empty) std::memcpy(fresh.get(), storage_.get(), capacity_);
  storage_ = std::move(fresh);
  capacity_ = bytes;
}

void message::release_buffer() noexcept {
  reset();
  storage_.reset();
  capacity_ = 0;
}

}  // namespace machport
