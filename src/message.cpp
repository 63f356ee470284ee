// message, message_builder and parse (xnu-ipc-semantics.md §4-§5 for the layouts).
#include <machport/detail/message_access.hpp>
#include <machport/detail/release.hpp>
#include <machport/detail/wire.hpp>
#include <machport/message.hpp>
#include <machport/message_builder.hpp>
#include <machport/parse.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

namespace machport {
namespace detail {

std::unique_ptr<std::uint64_t[]> allocate_storage(std::size_t bytes) {
  const std::size_t words = (bytes + 7) / 8;
  return std::unique_ptr<std::uint64_t[]>(new std::uint64_t[words == 0 ? 1 : words]());
}

namespace {
// Releases a right the message or builder owns by its MOVE_* disposition.
void release_port(mach_port_name_t name, std::uint8_t disposition) noexcept {
  switch (disposition) {
    case disp_move_receive: release_receive(name, false, 0); break;
    case disp_move_send:
    case disp_move_send_once: release_name(name); break;
    default: break;  // COPY_SEND / MAKE_*: borrowed; anything else: not a right we hold
  }
}
}  // namespace

std::vector<mach_port_name_t> read_port_names(std::uint64_t address, std::uint32_t count) {
  std::vector<mach_port_name_t> names;
  if (count == 0 || address == 0) return names;
  if (current_release_hook() != nullptr) {
    // Fuzzing: the address is random bytes. Produce plausible names instead of reading.
    names.assign(std::min<std::uint32_t>(count, 64), static_cast<mach_port_name_t>(0x1003));
    return names;
  }
  names.resize(count);
  std::memcpy(names.data(), reinterpret_cast<const void*>(static_cast<std::uintptr_t>(address)),
              count * sizeof(mach_port_name_t));
  return names;
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

  try {
    (void)walk(buf, length, [&](const raw_descriptor& d) {
      switch (d.type) {
        case type_port:
          release_port(d.name, d.disposition);
          break;
        case type_ool:
        case type_ool_volatile:
          if (received || d.deallocate) release_memory(d.address, d.count);
          break;
        case type_ool_ports: {
          // No kernel writes a longer array: such a descriptor was never the kernel's, and
          // neither its names nor its memory are trusted.
          if (d.count > max_port_count) break;
          const bool movable = d.disposition >= disp_move_receive && d.disposition <= disp_move_send_once;
          if (movable) {
            for (mach_port_name_t n : read_port_names(d.address, d.count)) release_port(n, d.disposition);
          }
          if (received || d.deallocate) {
            release_memory(d.address, static_cast<std::size_t>(d.count) * sizeof(mach_port_name_t));
          }
          break;
        }
        case type_guarded_port:
          // mach_port_destruct ignores the guard of an unguarded port, so it fits both cases.
          if (d.disposition == disp_move_receive) release_receive(d.name, true, d.address);
          break;
        default:
          break;
      }
    });
  } catch (...) {
    // Only read_port_names can throw (allocation); nothing more can be released then.
  }
}

}  // namespace detail

using detail::load32;
using detail::store32;
using detail::store64;

// ---- message ---------------------------------------------------------------------------

message::message(message&& other) noexcept
    : storage_(std::move(other.storage_)),
      capacity_(other.capacity_),
      state_(other.state_),
      side_arrays_(std::move(other.side_arrays_)) {
  other.capacity_ = 0;
  other.state_ = state::empty;
}

message& message::operator=(message&& other) noexcept {
  if (this != &other) {
    reset();
    storage_ = std::move(other.storage_);
    capacity_ = other.capacity_;
    state_ = other.state_;
    side_arrays_ = std::move(other.side_arrays_);
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

message message::adopt_outgoing(std::span<const std::byte> bytes) {
  message m = adopt_received(bytes);
  m.state_ = state::outgoing;
  return m;
}

std::span<const std::byte> message::bytes() const noexcept {
  if (!storage_ || capacity_ < detail::header_size) return {};
  std::size_t n = std::min<std::size_t>(size(), capacity_);
  return {reinterpret_cast<const std::byte*>(storage_.get()), n};
}

void message::reset() noexcept {
  if (state_ != state::empty) {
    detail::release_contents(reinterpret_cast<std::byte*>(storage_.get()), capacity_, state_);
  }
  detach();
}

void message::detach() noexcept {
  storage_.reset();
  capacity_ = 0;
  state_ = state::empty;
  side_arrays_.clear();
}

// ---- message_builder -------------------------------------------------------------------

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
    store32(buf + off, static_cast<std::uint32_t>(descriptors_.size()));
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

// ---- parse -----------------------------------------------------------------------------

std::optional<mach_port_seqno_t> trailer_view::seqno() const noexcept {
  if (size_ < trailer_size(trailer_level::seqno)) return std::nullopt;
  return load32(data_ + detail::trailer_seqno_offset);
}

std::optional<std::array<std::uint32_t, 2>> trailer_view::sender() const noexcept {
  if (size_ < trailer_size(trailer_level::sender)) return std::nullopt;
  const std::byte* p = data_ + detail::trailer_sender_offset;
  return std::array<std::uint32_t, 2>{load32(p), load32(p + 4)};
}

std::optional<audit_token> trailer_view::audit() const noexcept {
  if (size_ < trailer_size(trailer_level::audit)) return std::nullopt;
  audit_token t;
  static_assert(sizeof(t.val) == sizeof(audit_token_t));
  std::memcpy(t.val.data(), data_ + detail::trailer_audit_offset, sizeof(t.val));
  return t;
}

std::optional<mach_port_context_t> trailer_view::context() const noexcept {
  if (size_ < trailer_size(trailer_level::context)) return std::nullopt;
  return static_cast<mach_port_context_t>(detail::load64(data_ + detail::trailer_context_offset));
}

result<std::span<const std::byte>> body_reader::read_bytes(std::size_t n) noexcept {
  if (off_ > msg_.size() || msg_.size() - off_ < n) return message_errc::unexpected_size;
  auto s = msg_.subspan(off_, n);
  off_ += n;
  return s;
}

std::span<const std::byte> parsed_message::message_bytes() const noexcept {
  return {reinterpret_cast<const std::byte*>(storage_.get()), size_};
}

std::span<const std::byte> parsed_message::body() const noexcept {
  return message_bytes().subspan(body_offset_);
}

trailer_view parsed_message::trailer() const noexcept {
  const std::byte* buf = reinterpret_cast<const std::byte*>(storage_.get());
  if (capacity_ < size_ + detail::min_trailer_size) return {};
  const std::uint32_t tsize = load32(buf + size_ + detail::trailer_size_offset);
  return {buf + size_, tsize};
}

namespace {
bool receivable(std::uint8_t disp) noexcept {
  return disp == detail::disp_move_receive || disp == detail::disp_move_send ||
         disp == detail::disp_move_send_once;
}

message_errc validate_received(const std::byte* buf, std::size_t length,
                               std::vector<detail::raw_descriptor>& out, std::size_t& body_offset,
                               std::size_t& size) {
  if (auto e = detail::check_header(buf, length, size); e != message_errc::success) return e;
  const std::uint8_t remote_disp = detail::remote_disposition(load32(buf + detail::header_bits_offset));
  if (remote_disp != 0 && remote_disp != detail::disp_move_send &&
      remote_disp != detail::disp_move_send_once) {
    return message_errc::bad_header_bits;
  }
  message_errc bad = message_errc::success;
  auto e = detail::walk(
      buf, length,
      [&](const detail::raw_descriptor& d) {
        if (bad != message_errc::success) return;
        switch (d.type) {
          case detail::type_port:
            if (!receivable(d.disposition)) bad = message_errc::bad_disposition;
            break;
          case detail::type_ool:
          case detail::type_ool_volatile:
            if (d.count != 0 && d.address == 0) bad = message_errc::bad_ool_descriptor;
            break;
          case detail::type_ool_ports:
            if (!receivable(d.disposition)) {
              bad = message_errc::bad_disposition;
            } else if (d.count > detail::max_port_count || (d.count != 0 && d.address == 0)) {
              bad = message_errc::bad_ool_descriptor;
            }
            break;
          case detail::type_guarded_port:
            if (d.disposition != detail::disp_move_receive) bad = message_errc::bad_disposition;
            break;
        }
        out.push_back(d);
      },
      &body_offset);
  if (e != message_errc::success) return e;
  if (bad != message_errc::success) return bad;
  // The trailer, if the buffer has room for one, must fit in it.
  if (length - size >= detail::min_trailer_size) {
    const std::uint32_t tsize = load32(buf + size + detail::trailer_size_offset);
    if (tsize > length - size) return message_errc::bad_trailer;
  }
  return message_errc::success;
}

template <class Right>
std::vector<Right> adopt_all(const std::vector<mach_port_name_t>& names) {
  std::vector<Right> v;
  v.reserve(names.size());
  for (auto n : names) v.push_back(Right::adopt(n));
  return v;
}
}  // namespace

result<parsed_message> parse(message&& m) {
  if (m.current_state() == message::state::empty) return message_errc::empty_message;
  if (m.current_state() != message::state::received) return message_errc::bad_header_bits;
  std::byte* buf = detail::message_access::data(m);
  const std::size_t length = detail::message_access::capacity(m);

  std::vector<detail::raw_descriptor> raw;
  std::size_t body_offset = 0, size = 0;
  const message_errc e = validate_received(buf, length, raw, body_offset, size);
  if (e != message_errc::success) {
    m.reset();  // releases what can be located
    return e;
  }

  parsed_message p;
  // Reserved up front: from here on only a port array's name vector can fail to allocate
  // (and then the rights not yet adopted are lost with the out-of-memory error).
  p.descriptors_.reserve(raw.size());
  p.kinds_.reserve(raw.size());
  const mach_msg_header_t h = detail::load_header(buf);
  p.id_ = h.msgh_id;
  p.bits_ = h.msgh_bits;
  p.local_ = h.msgh_local_port;
  p.size_ = size;
  p.body_offset_ = body_offset;
  std::size_t capacity = 0;
  auto storage = detail::message_access::take_storage(m, capacity);
  buf = reinterpret_cast<std::byte*>(storage.get());
  p.storage_ = std::move(storage);
  p.capacity_ = capacity;

  const std::uint8_t remote_disp = detail::remote_disposition(h.msgh_bits);
  if (remote_disp == detail::disp_move_send) {
    p.reply_ = send_right::adopt(h.msgh_remote_port);
  } else if (remote_disp == detail::disp_move_send_once) {
    p.reply_ = send_once_right::adopt(h.msgh_remote_port);
  }
  if (detail::voucher_disposition(h.msgh_bits) == detail::disp_move_send) {
    detail::release_name(h.msgh_voucher_port);
  }

  for (auto& d : raw) {
    p.kinds_.push_back(descriptor_info{static_cast<descriptor_kind>(d.type), d.disposition});
    switch (d.type) {
      case detail::type_port:
        if (d.disposition == detail::disp_move_receive) {
          p.descriptors_.emplace_back(receive_right::adopt(d.name));
        } else if (d.disposition == detail::disp_move_send) {
          p.descriptors_.emplace_back(send_right::adopt(d.name));
        } else {
          p.descriptors_.emplace_back(send_once_right::adopt(d.name));
        }
        break;
      case detail::type_ool:
      case detail::type_ool_volatile:
        p.descriptors_.emplace_back(ool_buffer::adopt(static_cast<std::uintptr_t>(d.address), d.count));
        break;
      case detail::type_ool_ports: {
        // The array memory is ours: hold it while the names are adopted, then free it.
        ool_buffer array = ool_buffer::adopt(static_cast<std::uintptr_t>(d.address),
                                             static_cast<std::size_t>(d.count) * sizeof(mach_port_name_t));
        std::vector<mach_port_name_t> names = detail::read_port_names(d.address, d.count);
        if (d.disposition == detail::disp_move_receive) {
          p.descriptors_.emplace_back(port_array{adopt_all<receive_right>(names)});
        } else if (d.disposition == detail::disp_move_send) {
          p.descriptors_.emplace_back(port_array{adopt_all<send_right>(names)});
        } else {
          p.descriptors_.emplace_back(port_array{adopt_all<send_once_right>(names)});
        }
        break;
      }
      case detail::type_guarded_port:
        if (MACH_PORT_VALID(d.name)) {
          p.descriptors_.emplace_back(receive_right::adopt_guarded(d.name, d.address));
        } else {
          p.descriptors_.emplace_back(receive_right{});
        }
        break;
    }
  }
  return p;
}

}  // namespace machport
