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
      data_(std::move(other.data_)) {
  other.descriptors_.clear();
  other.data_.clear();
}

message_builder& message_builder::operator=(message_builder&& other) noexcept {
  if (this != &other) {
    release_all();
    id_ = other.id_;
    reply_name_ = std::exchange(other.reply_name_, MACH_PORT_NULL);
    reply_disposition_ = std::exchange(other.reply_disposition_, std::uint8_t{0});
    descriptors_ = std::move(other.descriptors_);
    data_ = std::move(other.data_);
    other.descriptors_.clear();
    other.data_.clear();
  }
  return *this;
}

void message_builder::release_all() noexcept {
  if (reply_disposition_ == detail::disp_move_send ||
      reply_disposition_ == detail::disp_move_send_once) {
    detail::release_name(reply_name_);
  }
  reply_name_ = MACH_PORT_NULL;
  reply_disposition_ = 0;
  for (auto& d : descriptors_) {
    switch (d.type) {
      case detail::type_port:
        detail::release_port(d.name, d.disposition);
        break;
      case detail::type_ool:
        if (d.deallocate) detail::release_memory(d.address, d.count);
        break;
      case detail::type_ool_ports:
        for (auto n : d.names) detail::release_port(n, d.disposition);
        break;
      case detail::type_guarded_port:
        detail::release_receive(d.name, true, d.address);
        break;
      default:
        break;
    }
  }
  descriptors_.clear();
  data_.clear();
}

namespace {
template <class Right>
void set_reply(mach_port_name_t& name, std::uint8_t& disp, mach_port_name_t new_name,
               std::uint8_t new_disp) {
  if (disp == detail::disp_move_send || disp == detail::disp_move_send_once) {
    detail::release_name(name);
  }
  name = new_name;
  disp = new_disp;
}
}  // namespace

message_builder& message_builder::reply(send_right&& r) {
  set_reply<send_right>(reply_name_, reply_disposition_, r.release(), detail::disp_move_send);
  return *this;
}
message_builder& message_builder::reply(send_once_right&& r) {
  set_reply<send_once_right>(reply_name_, reply_disposition_, r.release(),
                             detail::disp_move_send_once);
  return *this;
}
message_builder& message_builder::reply_copy_send(const send_right& r) {
  set_reply<void>(reply_name_, reply_disposition_, r.name(), detail::disp_copy_send);
  return *this;
}
message_builder& message_builder::reply_make_send(const receive_right& r) {
  set_reply<void>(reply_name_, reply_disposition_, r.name(), detail::disp_make_send);
  return *this;
}
message_builder& message_builder::reply_make_send_once(const receive_right& r) {
  set_reply<void>(reply_name_, reply_disposition_, r.name(), detail::disp_make_send_once);
  return *this;
}

message_builder& message_builder::add_port(send_right&& r) {
  descriptors_.reserve(descriptors_.size() + 1);
  pending_descriptor d;
  d.type = detail::type_port;
  d.disposition = detail::disp_move_send;
  d.name = r.release();
  descriptors_.push_back(std::move(d));
  return *this;
}
message_builder& message_builder::add_port(send_once_right&& r) {
  descriptors_.reserve(descriptors_.size() + 1);
  pending_descriptor d;
  d.type = detail::type_port;
  d.disposition = detail::disp_move_send_once;
  d.name = r.release();
  descriptors_.push_back(std::move(d));
  return *this;
}
message_builder& message_builder::add_port(receive_right&& r) {
  descriptors_.reserve(descriptors_.size() + 1);
  pending_descriptor d;
  d.type = detail::type_port;
  d.disposition = detail::disp_move_receive;
  d.name = r.release();
  descriptors_.push_back(std::move(d));
  return *this;
}
message_builder& message_builder::add_copy_send(const send_right& r) {
  pending_descriptor d;
  d.type = detail::type_port;
  d.disposition = detail::disp_copy_send;
  d.name = r.name();
  descriptors_.push_back(std::move(d));
  return *this;
}
message_builder& message_builder::add_make_send(const receive_right& r) {
  pending_descriptor d;
  d.type = detail::type_port;
  d.disposition = detail::disp_make_send;
  d.name = r.name();
  descriptors_.push_back(std::move(d));
  return *this;
}
message_builder& message_builder::add_make_send_once(const receive_right& r) {
  pending_descriptor d;
  d.type = detail::type_port;
  d.disposition = detail::disp_make_send_once;
  d.name = r.name();
  descriptors_.push_back(std::move(d));
  return *this;
}

message_builder& message_builder::add_guarded_port(receive_right&& r, bool immovable) {
  descriptors_.reserve(descriptors_.size() + 1);
  pending_descriptor d;
  d.type = detail::type_guarded_port;
  d.disposition = detail::disp_move_receive;
  d.guarded_right = r.guarded();
  d.address = r.guarded() ? r.guard() : 0;
  d.flags = static_cast<std::uint16_t>(
      (immovable ? MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE : 0) |
      (r.guarded() ? 0 : MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND));
  d.name = r.release();
  descriptors_.push_back(std::move(d));
  return *this;
}

message_builder& message_builder::add_ool(ool_buffer&& buffer) {
  if (buffer.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("machport: OOL region larger than 4 GiB");
  }
  descriptors_.reserve(descriptors_.size() + 1);
  pending_descriptor d;
  d.type = detail::type_ool;
  auto region = buffer.release();
  d.address = region.address;
  d.count = static_cast<std::uint32_t>(region.size);
  d.deallocate = region.size != 0;
  descriptors_.push_back(std::move(d));
  return *this;
}

message_builder& message_builder::add_ool(std::span<const std::byte> bytes) {
  if (bytes.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("machport: OOL region larger than 4 GiB");
  }
  pending_descriptor d;
  d.type = detail::type_ool;
  d.address = bytes.empty() ? 0 : reinterpret_cast<std::uintptr_t>(bytes.data());
  d.count = static_cast<std::uint32_t>(bytes.size());
  d.deallocate = false;
  descriptors_.push_back(std::move(d));
  return *this;
}

template <class Right>
message_builder& message_builder::add_array(std::vector<Right>&& rights, std::uint8_t disp) {
  pending_descriptor d;
  d.type = detail::type_ool_ports;
  d.disposition = disp;
  d.names.reserve(rights.size());
  descriptors_.reserve(descriptors_.size() + 1);
  for (auto& r : rights) d.names.push_back(r.release());
  d.count = static_cast<std::uint32_t>(d.names.size());
  rights.clear();
  descriptors_.push_back(std::move(d));
  return *this;
}

message_builder& message_builder::add_ports(std::vector<send_right>&& rights) {
  return add_array(std::move(rights), detail::disp_move_send);
}
message_builder& message_builder::add_ports(std::vector<send_once_right>&& rights) {
  return add_array(std::move(rights), detail::disp_move_send_once);
}
message_builder& message_builder::add_ports(std::vector<receive_right>&& rights) {
  return add_array(std::move(rights), detail::disp_move_receive);
}
message_builder& message_builder::add_ports_copy_send(std::span<const send_right> rights) {
  pending_descriptor d;
  d.type = detail::type_ool_ports;
  d.disposition = detail::disp_copy_send;
  for (auto& r : rights) d.names.push_back(r.name());
  d.count = static_cast<std::uint32_t>(d.names.size());
  descriptors_.push_back(std::move(d));
  return *this;
}

message_builder& message_builder::add_data(std::span<const std::byte> bytes, std::size_t alignment) {
  if (!detail::valid_inline_alignment(alignment)) {
    throw std::invalid_argument("machport: inline data alignment must be 1, 2, 4 or 8");
  }
  data_.push_back(data_item{std::vector<std::byte>(bytes.begin(), bytes.end()), alignment});
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
  for (auto& item : data_) (void)cursor.place(item.bytes.size(), item.alignment);
  return cursor.message_size();
}

message message_builder::build() {
  const std::size_t total = size();
  if (total > std::numeric_limits<mach_msg_size_t>::max()) {
    throw std::length_error("machport: message too large");
  }
  message m;
  auto storage = detail::allocate_storage(total);
  std::byte* buf = reinterpret_cast<std::byte*>(storage.get());
  std::vector<std::unique_ptr<mach_port_name_t[]>> arrays;

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
      detail::raw_descriptor w;
      w.type = d.type;
      w.disposition = d.disposition;
      w.name = d.name;
      w.address = d.address;
      w.count = d.count;
      w.flags = d.flags;
      w.deallocate = d.deallocate ? 1 : 0;
      if (d.type == detail::type_ool || d.type == detail::type_ool_ports) {
        w.copy = MACH_MSG_VIRTUAL_COPY;
      }
      if (d.type == detail::type_ool_ports) {
        w.address = 0;
        if (!d.names.empty()) {
          auto a = std::make_unique<mach_port_name_t[]>(d.names.size());
          std::copy(d.names.begin(), d.names.end(), a.get());
          w.address = reinterpret_cast<std::uintptr_t>(a.get());
          arrays.push_back(std::move(a));
        }
        w.deallocate = 0;  // the array lives in the message; the kernel copies it
      }
      detail::write_descriptor(buf + off, w);
      off += detail::descriptor_size(d.type);
    }
  }
  detail::inline_cursor cursor(off);
  for (auto& item : data_) {
    const std::size_t at = cursor.place(item.bytes.size(), item.alignment);
    if (!item.bytes.empty()) std::memcpy(buf + at, item.bytes.data(), item.bytes.size());
  }

  detail::message_access::assign(m, std::move(storage), total, message::state::outgoing);
  for (auto& a : arrays) detail::message_access::add_side_array(m, std::move(a));
  // Ownership is now the message's.
  reply_name_ = MACH_PORT_NULL;
  reply_disposition_ = 0;
  descriptors_.clear();
  data_.clear();
  return m;
}

}  // namespace machport
