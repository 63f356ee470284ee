// parse: checks a received message and takes it apart into owned rights and regions.
#include <machport/detail/message_access.hpp>
#include <machport/detail/release.hpp>
#include <machport/detail/wire.hpp>
#include <machport/parse.hpp>

#include <utility>

namespace machport {

using detail::load32;

result<std::span<const std::byte>> body_reader::read_bytes(std::size_t n) noexcept {
  if (off_ > msg_.size() || msg_.size() - off_ < n) return message_errc::unexpected_size;
  auto s = msg_.subspan(off_, n);
  off_ += n;
  return s;
}

std::span<const std::byte> parsed_message::message_bytes() const noexcept {
  return {reinterpret_cast<const std::byte*>(storage_.get()), size_};
}

void parsed_message::recycle_buffer(message& m) noexcept {
  detail::message_access::assign(m, std::move(storage_), capacity_, message::state::empty);
  capacity_ = 0;
  size_ = 0;
  body_offset_ = 0;
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

namespace detail {

message_errc validate_received(const std::byte* buf, std::size_t length, std::size_t& size,
                               std::size_t& body_offset) noexcept {
  if (auto e = check_received_header(buf, length, size); e != message_errc::success) return e;
  message_errc bad = message_errc::success;
  auto e = detail::walk(
      buf, length,
      [&](const detail::raw_descriptor& d) {
        if (bad != message_errc::success) return;
        switch (d.type) {
          case detail::type_port:
            if (!detail::owns_right(d.disposition)) bad = message_errc::bad_disposition;
            break;
          case detail::type_ool:
          case detail::type_ool_volatile:
            if (d.count != 0 && d.address == 0) bad = message_errc::bad_ool_descriptor;
            break;
          case detail::type_ool_ports:
            if (!detail::owns_right(d.disposition)) {
              bad = message_errc::bad_disposition;
            } else if (d.count > detail::max_port_count || (d.count != 0 && d.address == 0)) {
              bad = message_errc::bad_ool_descriptor;
            }
            break;
          case detail::type_guarded_port:
            if (d.disposition != detail::disp_move_receive) bad = message_errc::bad_disposition;
            break;
        }
      },
      &body_offset);
  if (e != message_errc::success) return e;
  if (bad != message_errc::success) return bad;
  return check_received_trailer(buf, length, size);
}

}  // namespace detail

namespace {

// An empty port array of `d`'s right type with room for all its names, made before anything
// is taken from the message, so that adopting the names cannot fail.
port_array reserve_array(const detail::raw_descriptor& d) {
  port_array a;
  if (d.disposition == detail::disp_move_receive) a.emplace<std::vector<receive_right>>();
  else if (d.disposition == detail::disp_move_send) a.emplace<std::vector<send_right>>();
  else a.emplace<std::vector<send_once_right>>();
  std::visit([&](auto& v) { v.reserve(d.count); }, a);
  return a;
}

void adopt_all(port_array& a, std::uint64_t address, std::uint32_t count) noexcept {
  std::visit([&](auto& v) {
    using right = typename std::remove_reference_t<decltype(v)>::value_type;
    detail::for_each_port_name(address, count, [&](mach_port_name_t n) { v.push_back(right::adopt(n)); });
  }, a);
}
}  // namespace

result<parsed_message> parse(message&& m) {
  if (m.current_state() == message::state::empty) return message_errc::empty_message;
  if (m.current_state() != message::state::received) return message_errc::bad_header_bits;
  std::byte* buf = detail::message_access::data(m);
  const std::size_t length = detail::message_access::capacity(m);

  std::size_t body_offset = 0, size = 0;
  const message_errc e = detail::validate_received(buf, length, size, body_offset);
  if (e != message_errc::success) {
    m.reset();  // releases what can be located
    return e;
  }

  parsed_message p;
  // Everything is allocated up front, while `m` still owns every right: an allocation failure
  // leaves it unchanged, and nothing below throws.
  const mach_msg_header_t h = detail::load_header(buf);
  const std::size_t count = detail::is_complex(h.msgh_bits) ? load32(buf + detail::header_size) : 0;
  p.descriptors_.reserve(count);
  p.kinds_.reserve(count);
  std::vector<port_array> arrays;
  arrays.reserve(count);
  (void)detail::walk(buf, length, [&](const detail::raw_descriptor& d) {
    if (d.type == detail::type_ool_ports) arrays.push_back(reserve_array(d));
  });
  auto next_array = arrays.begin();
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

  // Validated above: every descriptor is well-formed.
  (void)detail::walk(buf, length, [&](const detail::raw_descriptor& d) {
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
        adopt_all(*next_array, d.address, d.count);
        p.descriptors_.emplace_back(std::move(*next_array++));
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
  });
  return p;
}

}  // namespace machport
