// Typed messages: a plain aggregate is a message (Boost.PFR; no IDL, no generator).
//
//   struct ping {
//     static constexpr mach_msg_id_t id = 100;
//     std::uint64_t seq;
//     machport::send_right reply_to;
//     machport::ool_buffer payload;
//     std::array<char, 16> tag;
//   };
//   machport::message m = machport::encode(ping{...});
//   machport::result<ping> p = machport::decode<ping>(std::move(received));
//
// In a loop, one message serves every message without allocating: encode(value, msg) writes
// into it, decode<T>(msg) reads it in place and leaves it empty with its buffer.
//
// Field kinds, in declaration order:
//  - send_right → port descriptor MOVE_SEND (arrives as PORT_SEND); send_once_right →
//    MOVE_SEND_ONCE; receive_right → MOVE_RECEIVE; an empty right travels as MACH_PORT_NULL;
//  - ool_buffer → OOL memory descriptor, moved (deallocate = true);
//  - reply_port (at most one) → the header's reply port, not a descriptor: msgh_local_port
//    on send (reply_port::make_send_once lets the kernel make the send-once right in the send),
//    the right in msgh_remote_port on receipt;
//  - anything else must be trivially copyable (and not a pointer): inline data.
// Layout: the message_builder's. Descriptors in field order first (COMPLEX set iff there is at
// least one), then each inline field at the next offset from the start of the message that is a
// multiple of alignof(field) (at most 8), zero padding; msgh_size rounded up to 4. The header
// reply port is the reply_port field; decode releases it if the type has none.
//
// Top-level bool fields are checked to hold 0 or 1 (message_errc::bad_bool_value otherwise:
// any other byte is not a bool value). Other inline fields are copied as bytes:
// use types for which every bit pattern is valid (integers, arrays of them, enums with a
// fixed underlying type).
#pragma once

#include <machport/detail/wire.hpp>
#include <machport/message.hpp>
#include <machport/detail/message_access.hpp>
#include <machport/ool_buffer.hpp>
#include <machport/parse.hpp>
#include <machport/receive_right.hpp>
#include <machport/reply_port.hpp>
#include <machport/result.hpp>
#include <machport/send_once_right.hpp>
#include <machport/send_right.hpp>

#include <boost/pfr.hpp>

#include <array>
#include <cstddef>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace machport {

namespace detail {

// A field that travels as a descriptor.
template <class F>
inline constexpr bool is_right_field_v =
    std::is_same_v<F, send_right> || std::is_same_v<F, send_once_right> ||
    std::is_same_v<F, receive_right> || std::is_same_v<F, ool_buffer>;

// A field that travels in the header.
template <class F>
inline constexpr bool is_reply_field_v = std::is_same_v<F, reply_port>;

template <class F>
constexpr void check_field() {
  static_assert(is_right_field_v<F> || is_reply_field_v<F> ||
                    (std::is_trivially_copyable_v<F> && !std::is_pointer_v<F>),
                "a typed message field must be a right, an ool_buffer, a reply_port, or "
                "trivially copyable data");
  if constexpr (!is_right_field_v<F> && !is_reply_field_v<F>) {
    static_assert(alignof(F) <= max_inline_alignment, "inline fields are aligned to at most 8 bytes");
  }
}

template <class F>
constexpr std::size_t descriptor_size_of() {
  if constexpr (std::is_same_v<F, ool_buffer>) return long_descriptor_size;
  else return port_descriptor_size;
}

// The descriptor type and disposition a right field has on the wire (on receipt the kernel
// reports PORT_* = MOVE_*, so both directions use the same values).
template <class F>
constexpr std::uint8_t wire_type_of() {
  if constexpr (std::is_same_v<F, ool_buffer>) return type_ool;
  else return type_port;
}
template <class F>
constexpr std::uint8_t wire_disposition_of() {
  if constexpr (std::is_same_v<F, send_right>) return disp_move_send;
  else if constexpr (std::is_same_v<F, send_once_right>) return disp_move_send_once;
  else if constexpr (std::is_same_v<F, receive_right>) return disp_move_receive;
  else return 0;
}

// The layout of T, computed at compile time with the layout rule of wire.hpp: where each
// field goes (a descriptor, or inline data; a reply_port takes no room) and the sizes that
// follow.
template <class T>
struct typed_layout {
  static constexpr std::size_t field_count = boost::pfr::tuple_size_v<T>;
  template <std::size_t I>
  using field_t = boost::pfr::tuple_element_t<I, T>;

  struct plan {
    // For a right field: its descriptor's offset; for inline data: the field's offset. Both
    // from the start of the message.
    std::array<std::size_t, field_count> offset{};
    // For a right field: its index among the descriptors.
    std::array<std::size_t, field_count> descriptor{};
    std::size_t descriptors = 0;
    std::size_t replies = 0;  // reply_port fields
    std::size_t body_start = 0;
    std::size_t size = 0;  // msgh_size
  };

  template <std::size_t... I>
  static constexpr plan make(std::index_sequence<I...>) {
    plan p;
    std::size_t off = header_size + body_size;
    auto place_descriptor = [&]<std::size_t J>() {
      if constexpr (is_right_field_v<field_t<J>>) {
        p.descriptor[J] = p.descriptors++;
        p.offset[J] = off;
        off += descriptor_size_of<field_t<J>>();
      } else if constexpr (is_reply_field_v<field_t<J>>) {
        ++p.replies;
      }
    };
    (void)place_descriptor;  // unused for a message without fields
    (place_descriptor.template operator()<I>(), ...);
    p.body_start = detail::body_start(p.descriptors, off - header_size - body_size);
    inline_cursor cursor(p.body_start);
    auto place_field = [&]<std::size_t J>() {
      if constexpr (!is_right_field_v<field_t<J>> && !is_reply_field_v<field_t<J>>) {
        p.offset[J] = cursor.place(sizeof(field_t<J>), alignof(field_t<J>));
      }
    };
    (void)place_field;
    (place_field.template operator()<I>(), ...);
    p.size = cursor.message_size();
    return p;
  }

  static constexpr plan fields = make(std::make_index_sequence<field_count>{});
  static constexpr std::size_t descriptors = fields.descriptors;
  static constexpr std::size_t body_start = fields.body_start;
  static constexpr std::size_t size = fields.size;
  static_assert(fields.replies <= 1, "a typed message has at most one reply_port");
  static constexpr bool has_reply = fields.replies != 0;
};

template <class T>
constexpr void check_message_type() {
  static_assert(std::is_aggregate_v<T>, "a typed message is an aggregate");
  static_assert(std::is_same_v<decltype(T::id), const mach_msg_id_t>,
                "a typed message has `static constexpr mach_msg_id_t id`");
}

// Writes `value` as a message into `buf` (typed_layout<T>::size bytes), moving its rights and
// buffers out. Cannot fail: OOL sizes were checked by the caller.
template <class T>
void encode_into(T& value, std::byte* buf) noexcept {
  using layout = typed_layout<T>;
  std::memset(buf, 0, layout::size);  // padding and unused descriptor bytes
  mach_port_name_t reply = MACH_PORT_NULL;
  std::uint8_t reply_disposition = 0;
  boost::pfr::for_each_field(value, [&](auto& field, auto index) {
    using F = std::remove_cvref_t<decltype(field)>;
    constexpr std::size_t I = decltype(index)::value;
    constexpr std::size_t at = layout::fields.offset[I];
    check_field<F>();
    if constexpr (is_reply_field_v<F>) {
      reply_disposition = static_cast<std::uint8_t>(field.disposition());
      reply = field.release();
      if (reply_disposition == 0) reply = MACH_PORT_NULL;
    } else if constexpr (std::is_same_v<F, ool_buffer>) {
      const auto region = field.release();
      raw_descriptor d;
      d.type = type_ool;
      d.address = region.address;
      d.count = static_cast<std::uint32_t>(region.size);
      d.deallocate = region.size != 0 ? 1 : 0;
      d.copy = MACH_MSG_VIRTUAL_COPY;
      write_descriptor(buf + at, d);
    } else if constexpr (is_right_field_v<F>) {
      raw_descriptor d;
      d.type = type_port;
      d.disposition = wire_disposition_of<F>();
      d.name = field.release();
      write_descriptor(buf + at, d);
    } else {
      std::memcpy(buf + at, static_cast<const void*>(&field), sizeof(F));
    }
  });
  // Field by field into the zeroed header (remote and voucher stay 0): a header assembled on
  // the stack and copied costs a store-forwarding stall.
  store32(buf + header_bits_offset,
          MACH_MSGH_BITS_SET(0, reply_disposition, 0,
                             layout::descriptors != 0 ? MACH_MSGH_BITS_COMPLEX : 0));
  store32(buf + header_size_offset, static_cast<std::uint32_t>(layout::size));
  store32(buf + header_local_offset, reply);
  store32(buf + header_id_offset, static_cast<std::uint32_t>(T::id));
  if constexpr (layout::descriptors != 0) {
    store32(buf + header_size, static_cast<std::uint32_t>(layout::descriptors));
  }
}

// Throws std::length_error if an ool_buffer field of `value` cannot travel (4 GiB or more),
// std::invalid_argument if a receive_right field is guarded (see refuse_guarded).
template <class T>
void check_encodable(const T& value) {
  boost::pfr::for_each_field(value, [](const auto& field) {
    using F = std::remove_cvref_t<decltype(field)>;
    if constexpr (std::is_same_v<F, ool_buffer>) {
      if (field.size() > std::numeric_limits<std::uint32_t>::max()) {
        throw std::length_error("machport: OOL region larger than 4 GiB");
      }
    } else if constexpr (std::is_same_v<F, receive_right>) {
      refuse_guarded(field);
    }
  });
}

}  // namespace detail

// The msgh_size an encoded T has.
template <class T>
constexpr std::size_t encoded_size() {
  return detail::typed_layout<T>::size;
}

// Writes `value` as a message into `into`, reusing its buffer (it grows only when too small),
// moving value's rights and buffers into it (value's right fields are left empty). Whatever
// `into` held before is released first. Allocation failure throws std::bad_alloc, an OOL
// region of 4 GiB or more std::length_error, and a guarded receive_right field
// std::invalid_argument (see detail::refuse_guarded: a guarded right is sent with
// message_builder::add_guarded_port, which typed messages do not use), all before anything
// moves.
template <class T>
void encode(T&& value, message& into) {
  using type = std::remove_cvref_t<T>;
  detail::check_message_type<type>();
  static_assert(!std::is_const_v<std::remove_reference_t<T>> && !std::is_lvalue_reference_v<T>,
                "encode takes the value by rvalue: its rights move into the message");
  detail::check_encodable(value);
  std::byte* buf = detail::message_access::prepare(into, detail::typed_layout<type>::size);
  detail::encode_into(value, buf);
  detail::message_access::set_state(into, message::state::outgoing);
}

// Builds a message from `value` in a buffer of its own (one allocation); see above.
template <class T>
message encode(T&& value) {
  message m;
  encode(std::forward<T>(value), m);
  return m;
}

namespace detail {

// Checks that the received message in `m` has exactly T's shape, then moves its parts into
// `out`. On a mismatch or a malformed message everything it carried is released. Either way
// `m` is empty afterwards and keeps its buffer.
template <class T>
result<void> decode_into(message& m, T& out) {
  using layout = typed_layout<T>;
  if (m.empty()) return message_errc::empty_message;
  if (m.current_state() != message::state::received) return message_errc::bad_header_bits;
  std::byte* buf = message_access::data(m);
  const std::size_t length = message_access::capacity(m);
  auto fail = [&m](message_errc e) -> result<void> {
    m.reset();  // releases everything it carried
    return e;
  };
  std::size_t size = 0, body = header_size;
  // A message that is not complex has no descriptors to walk: checked inline.
  message_errc valid;
  if (length >= header_size && !is_complex(load32(buf + header_bits_offset))) {
    valid = check_received_header(buf, length, size);
    if (valid == message_errc::success) valid = check_received_trailer(buf, length, size);
  } else {
    valid = validate_received(buf, length, size, body);
  }
  if (valid != message_errc::success) return fail(valid);
  const mach_msg_header_t h = load_header(buf);
  if (h.msgh_id != T::id) return fail(message_errc::unexpected_id);
  if (is_complex(h.msgh_bits) != (layout::descriptors != 0)) {
    return fail(message_errc::unexpected_complex_bit);
  }
  if constexpr (layout::descriptors != 0) {
    if (load32(buf + header_size) != layout::descriptors) {
      return fail(message_errc::unexpected_descriptor_count);
    }
  }
  // Descriptor kinds in order (each matched one puts the next at its layout offset).
  bool ok = true;
  boost::pfr::for_each_field(out, [&](auto& field, auto index) {
    using F = std::remove_cvref_t<decltype(field)>;
    if constexpr (is_right_field_v<F>) {
      if (!ok) return;
      raw_descriptor d;
      ok = read_descriptor(buf, size, layout::fields.offset[decltype(index)::value], d) ==
               message_errc::success &&
           d.type == wire_type_of<F>() && d.disposition == wire_disposition_of<F>();
    }
  });
  if (!ok) return fail(message_errc::unexpected_descriptor);
  if (size != layout::size || body != layout::body_start) return fail(message_errc::unexpected_size);
  // Inline fields: validate bools before moving anything.
  boost::pfr::for_each_field(out, [&](auto& field, auto index) {
    using F = std::remove_cvref_t<decltype(field)>;
    if constexpr (std::is_same_v<F, bool>) {
      if (load8(buf + layout::fields.offset[decltype(index)::value]) > 1) ok = false;
    }
  });
  if (!ok) return fail(message_errc::bad_bool_value);

  // Everything matched: move each part out (nothing below can fail).
  const std::uint8_t reply_disposition = remote_disposition(h.msgh_bits);
  if constexpr (!layout::has_reply) {
    if (reply_disposition != 0) release_name(h.msgh_remote_port);
  }
  if (voucher_disposition(h.msgh_bits) == disp_move_send) release_name(h.msgh_voucher_port);
  boost::pfr::for_each_field(out, [&](auto& field, auto index) {
    using F = std::remove_cvref_t<decltype(field)>;
    constexpr std::size_t at = layout::fields.offset[decltype(index)::value];
    if constexpr (is_reply_field_v<F>) {
      field = reply_disposition != 0 ? reply_port::adopt(h.msgh_remote_port, reply_disposition)
                                     : reply_port{};
    } else if constexpr (std::is_same_v<F, ool_buffer>) {
      field = ool_buffer::adopt(static_cast<std::uintptr_t>(load64(buf + at + ool_address_offset)),
                                load32(buf + at + ool_size_offset));
    } else if constexpr (is_right_field_v<F>) {
      field = F::adopt(load32(buf + at + port_name_offset));
    } else {
      std::memcpy(static_cast<void*>(&field), buf + at, sizeof(F));
    }
  });
  message_access::set_state(m, message::state::empty);  // its contents are in `out` now
  return success();
}

template <class T>
struct decoder {
  static result<T> decode(message& m) {
    static_assert(std::is_default_constructible_v<T>, "a typed message is default-constructible");
    T out{};
    BOOST_OUTCOME_TRY(decode_into(m, out));
    return out;
  }
};

template <class... Ts>
struct decoder<std::variant<Ts...>> {
  static result<std::variant<Ts...>> decode(message& m) {
    if (m.empty()) return message_errc::empty_message;
    if (m.current_state() != message::state::received) return message_errc::bad_header_bits;
    if (m.buffer().size() < header_size) {
      m.reset();
      return message_errc::bad_header_size;
    }
    const mach_msg_id_t id = m.id();
    result<std::variant<Ts...>> out = message_errc::unexpected_id;
    bool matched = false;
    auto try_one = [&]<class U>() {
      if (matched || U::id != id) return;
      matched = true;
      auto r = decoder<U>::decode(m);
      if (r) out = std::variant<Ts...>(std::in_place_type<U>, std::move(r).value());
      else out = r.error();
    };
    (try_one.template operator()<Ts>(), ...);
    if (!matched) m.reset();  // nobody wants it: release everything it carries
    return out;
  }
};

}  // namespace detail

// Decodes a received message as T: checks the id, the COMPLEX bit, the number, type and
// disposition of every descriptor, the exact size (message_errc::unexpected_*) and the top-level
// bools (bad_bool_value). Returns the value; on any mismatch, or if the message is malformed
// (see parse), every right and region it carried is released and an error returned. A received
// message is empty afterwards either way, and keeps its buffer for reuse (receive into it,
// encode into it). A message that is not a received one is refused and left untouched, so that
// nothing it owns is lost: empty gives message_errc::empty_message, an outgoing one
// bad_header_bits (it still owns everything; send it or drop it).
// decode<std::variant<A, B, ...>> picks the alternative whose id matches (the first one if
// several share it); an unknown id gives message_errc::unexpected_id.
// Reads the bytes in place: no allocation.
template <class T>
result<T> decode(message& m) {
  return detail::decoder<T>::decode(m);
}
template <class T>
result<T> decode(message&& m) {
  return detail::decoder<T>::decode(m);
}

}  // namespace machport
