// message_builder: composes an outgoing message with the layout of wire.hpp.
#include <machport/detail/message_access.hpp>
#include <machport/detail/release.hpp>
#include <machport/detail/wire.hpp>
#include <machport/message_builder.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

namespace machport {

message_builder::~message_builder() { release_all(); }

message_builder::message_builder(message_builder&& other) noexcept
    : id_(other.id_),
      reply_name_(std::exchange(other.reply_name_, MACH_PORT_NULL)),
      reply_disposition_(std::exchange(other.reply_disposition_, std::uint8_t{0})),
      descriptors_(std::move(other.descriptors_)),
      items_(std::move(other.items_)),
      data_(std::move(other.data_)) {
  other.descriptors_.clear();
  other.items_.clear();
  other.data_.clear();
}

message_builder& message_builder::operator=(message_builder&& other) noexcept {
  if (this != &other) {
    release_all();
    id_ = other.id_;
    reply_name_ = std::exchange(other.reply_name_, MACH_PORT_NULL);
    reply_disposition_ = std::exchange(other.reply_disposition_, std::uint8_t{0});
    descriptors_ = std::move(other.descriptors_);
    items_ = std::move(other.items_);
    data_ = std::move(other.data_);
    other.descriptors_.clear();
    other.items_.clear();
    other.data_.clear();
  }
  return *this;
}

void message_builder::release_all() noexcept {
  if (detail::owns_right(reply_disposition_)) detail::release_port(reply_name_, reply_disposition_);
  reply_name_ = MACH_PORT_NULL;
  reply_disposition_ = 0;
  for (auto& d : descriptors_) detail::release_descriptor(d, false);
  descriptors_.clear();
  items_.clear();
  data_.clear();
}

// Appends the descriptor `make()` returns. Room is reserved first, and `make` (which takes the
// right or region out of the caller's object, and must not throw) runs only once nothing can
// fail any more: if the reservation throws, the caller still owns what it passed.
template <class Make>
message_builder& message_builder::append(Make&& make) {
  descriptors_.reserve(descriptors_.size() + 1);
  descriptors_.push_back(make());  // cannot throw: the room is there
  return *this;
}

namespace {
detail::raw_descriptor port_descriptor(mach_port_name_t name, std::uint8_t disposition) noexcept {
  detail::raw_descriptor d;
  d.type = detail::type_port;
  d.disposition = disposition;
  d.name = name;
  return d;
}
}  // namespace

// Replaces the reply port, releasing a previous one the builder owned. Cannot fail.
void message_builder::set_reply(mach_port_name_t name, std::uint8_t disposition) noexcept {
  if (detail::owns_right(reply_disposition_)) detail::release_port(reply_name_, reply_disposition_);
  reply_name_ = name;
  reply_disposition_ = disposition;
}

message_builder& message_builder::reply(send_right&& r) {
  set_reply(r.release(), detail::disp_move_send);
  return *this;
}
message_builder& message_builder::reply(send_once_right&& r) {
  set_reply(r.release(), detail::disp_move_send_once);
  return *this;
}
message_builder& message_builder::reply_copy_send(const send_right& r) {
  set_reply(r.name(), detail::disp_copy_send);
  return *this;
}
message_builder& message_builder::reply_make_send(const receive_right& r) {
  set_reply(r.name(), detail::disp_make_send);
  return *this;
}
message_builder& message_builder::reply_make_send_once(const receive_right& r) {
  set_reply(r.name(), detail::disp_make_send_once);
  return *this;
}

message_builder& message_builder::add_port(send_right&& r) {
  return append([&] { return port_descriptor(r.release(), detail::disp_move_send); });
}
message_builder& message_builder::add_port(send_once_right&& r) {
  return append([&] { return port_descriptor(r.release(), detail::disp_move_send_once); });
}
message_builder& message_builder::add_port(receive_right&& r) {
  detail::refuse_guarded(r);
  return append([&] { return port_descriptor(r.release(), detail::disp_move_receive); });
}
message_builder& message_builder::add_copy_send(const send_right& r) {
  return append([&] { return port_descriptor(r.name(), detail::disp_copy_send); });
}
message_builder& message_builder::add_make_send(const receive_right& r) {
  return append([&] { return port_descriptor(r.name(), detail::disp_make_send); });
}
message_builder& message_builder::add_make_send_once(const receive_right& r) {
  return append([&] { return port_descriptor(r.name(), detail::disp_make_send_once); });
}

message_builder& message_builder::add_guarded_port(receive_right&& r, guarded_arrival arrival) {
  return append([&] {
    detail::raw_descriptor d;
    d.type = detail::type_guarded_port;
    d.disposition = detail::disp_move_receive;
    d.address = r.guarded() ? r.guard() : 0;
    d.flags = static_cast<std::uint16_t>(
        (arrival == guarded_arrival::immovable ? MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE : 0) |
        (r.guarded() ? 0 : MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND));
    d.name = r.release();
    return d;
  });
}

namespace {
void check_ool_size(std::size_t size) {
  if (size > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("machport: OOL region larger than 4 GiB");
  }
}
detail::raw_descriptor ool_descriptor(std::uintptr_t address, std::size_t size, bool deallocate) noexcept {
  detail::raw_descriptor d;
  d.type = detail::type_ool;
  d.address = address;
  d.count = static_cast<std::uint32_t>(size);
  d.deallocate = deallocate ? 1 : 0;
  d.copy = MACH_MSG_VIRTUAL_COPY;
  return d;
}
}  // namespace

message_builder& message_builder::add_ool(ool_buffer&& buffer) {
  check_ool_size(buffer.size());
  return append([&] {
    const auto region = buffer.release();
    return ool_descriptor(region.address, region.size, region.size != 0);
  });
}

message_builder& message_builder::add_ool(std::span<const std::byte> bytes) {
  check_ool_size(bytes.size());
  return append([&] {
    return ool_descriptor(bytes.empty() ? 0 : reinterpret_cast<std::uintptr_t>(bytes.data()),
                          bytes.size(), false);
  });
}

template <class Right>
message_builder& message_builder::add_array(std::span<Right> rights, std::uint8_t disposition) {
  const std::size_t bytes = rights.size() * sizeof(mach_port_name_t);
  check_ool_size(bytes);
  ool_buffer array;
  if (!rights.empty()) {
    auto r = ool_buffer::allocate(bytes);
    if (!r) throw std::bad_alloc();
    array = std::move(r).value();
  }
  return append([&] {
    auto* names = reinterpret_cast<mach_port_name_t*>(array.data());
    for (std::size_t i = 0; i < rights.size(); ++i) {
      if constexpr (std::is_const_v<Right>) {
        names[i] = rights[i].name();  // borrowed (COPY_SEND)
      } else {
        names[i] = rights[i].release();
      }
    }
    detail::raw_descriptor d;
    d.type = detail::type_ool_ports;
    d.disposition = disposition;
    d.count = static_cast<std::uint32_t>(rights.size());
    d.address = array.release().address;
    // The array leaves this task with the message, like an owned ool_buffer.
    d.deallocate = d.address != 0 ? 1 : 0;
    d.copy = MACH_MSG_VIRTUAL_COPY;
    return d;
  });
}

message_builder& message_builder::add_ports(std::vector<send_right>&& rights) {
  add_array(std::span<send_right>(rights), detail::disp_move_send);
  rights.clear();
  return *this;
}
message_builder& message_builder::add_ports(std::vector<send_once_right>&& rights) {
  add_array(std::span<send_once_right>(rights), detail::disp_move_send_once);
  rights.clear();
  return *this;
}
message_builder& message_builder::add_ports(std::vector<receive_right>&& rights) {
  for (const auto& r : rights) detail::refuse_guarded(r);
  add_array(std::span<receive_right>(rights), detail::disp_move_receive);
  rights.clear();
  return *this;
}
message_builder& message_builder::add_ports_copy_send(std::span<const send_right> rights) {
  return add_array(rights, detail::disp_copy_send);
}

message_builder& message_builder::add_data(std::span<const std::byte> bytes, std::size_t alignment) {
  if (!detail::valid_inline_alignment(alignment)) {
    throw std::invalid_argument("machport: inline data alignment must be 1, 2, 4 or 8");
  }
  items_.reserve(items_.size() + 1);  // then the push_back below cannot throw
  data_.insert(data_.end(), bytes.begin(), bytes.end());
  items_.push_back(data_item{bytes.size(), alignment});
  return *this;
}

// The bytes the descriptors take (without msgh_descriptor_count).
std::size_t message_builder::descriptor_bytes() const noexcept {
  std::size_t n = 0;
  for (auto& d : descriptors_) n += detail::descriptor_size(d.type);
  return n;
}

std::size_t message_builder::size() const noexcept {
  detail::inline_cursor cursor(detail::body_start(descriptors_.size(), descriptor_bytes()));
  for (auto& item : items_) (void)cursor.place(item.size, item.alignment);
  return cursor.message_size();
}

message message_builder::build() {
  message m;
  build(m);
  return m;
}

void message_builder::build(message& into) {
  const std::size_t total = size();
  if (total > std::numeric_limits<mach_msg_size_t>::max()) {
    throw std::length_error("machport: message too large");
  }
  std::byte* buf = detail::message_access::prepare(into, total);
  std::memset(buf, 0, total);  // padding and unused descriptor bytes

  const bool complex = !descriptors_.empty();
  mach_msg_header_t h{};
  h.msgh_bits = MACH_MSGH_BITS_SET(0, reply_disposition_, 0, complex ? MACH_MSGH_BITS_COMPLEX : 0);
  h.msgh_size = static_cast<mach_msg_size_t>(total);
  h.msgh_remote_port = MACH_PORT_NULL;
  h.msgh_local_port = reply_name_;
  h.msgh_voucher_port = MACH_PORT_NULL;
  h.msgh_id = id_;
  detail::store_header(buf, h);

  std::size_t off = detail::header_size;
  if (complex) {
    detail::store32(buf + off, static_cast<std::uint32_t>(descriptors_.size()));
    off += detail::body_size;
    for (auto& d : descriptors_) {
      detail::write_descriptor(buf + off, d);
      off += detail::descriptor_size(d.type);
    }
  }
  detail::inline_cursor cursor(off);
  const std::byte* from = data_.data();
  for (auto& item : items_) {
    const std::size_t at = cursor.place(item.size, item.alignment);
    if (item.size != 0) std::memcpy(buf + at, from, item.size);
    from += item.size;
  }

  detail::message_access::set_state(into, message::state::outgoing);
  // Ownership is now the message's; the builder keeps its memory for the next message.
  reply_name_ = MACH_PORT_NULL;
  reply_disposition_ = 0;
  descriptors_.clear();
  items_.clear();
  data_.clear();
}

}  // namespace machport
