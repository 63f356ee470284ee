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
// Field kinds, in declaration order:
//  - send_right → port descriptor MOVE_SEND (arrives as PORT_SEND); send_once_right →
//    MOVE_SEND_ONCE; receive_right → MOVE_RECEIVE; an empty right travels as MACH_PORT_NULL;
//  - ool_buffer → OOL memory descriptor, moved (deallocate = true);
//  - anything else must be trivially copyable (and not a pointer): inline data.
// Layout: the message_builder's. Descriptors in field order first (COMPLEX set iff there is at
// least one), then each inline field at the next offset from the start of the message that is a
// multiple of alignof(field) (at most 8), zero padding; msgh_size rounded up to 4. The header
// reply port is not part of the type: decode releases one if the message carries it.
//
// Top-level bool fields are checked to hold 0 or 1 (message_errc::bad_bool_value otherwise:
// any other byte is not a bool value). Other inline fields are copied as bytes:
// use types for which every bit pattern is valid (integers, arrays of them, enums with a
// fixed underlying type).
#pragma once

#include <machport/detail/wire.hpp>
#include <machport/message.hpp>
#include <machport/message_builder.hpp>
#include <machport/ool_buffer.hpp>
#include <machport/parse.hpp>
#include <machport/receive_right.hpp>
#include <machport/result.hpp>
#include <machport/send_once_right.hpp>
#include <machport/send_right.hpp>

#include <boost/pfr.hpp>

#include <array>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <utility>
#include <variant>

namespace machport {

namespace detail {

template <class F>
inline constexpr bool is_right_field_v =
    std::is_same_v<F, send_right> || std::is_same_v<F, send_once_right> ||
    std::is_same_v<F, receive_right> || std::is_same_v<F, ool_buffer>;

template <class F>
constexpr void check_field() {
  static_assert(is_right_field_v<F> || (std::is_trivially_copyable_v<F> && !std::is_pointer_v<F>),
                "a typed message field must be a right, an ool_buffer, or trivially copyable data");
  if constexpr (!is_right_field_v<F>) {
    static_assert(alignof(F) <= max_inline_alignment, "inline fields are aligned to at most 8 bytes");
  }
}

template <class F>
constexpr std::size_t descriptor_size_of() {
  if constexpr (std::is_same_v<F, ool_buffer>) return long_descriptor_size;
  else return port_descriptor_size;
}

// The layout of T, computed at compile time with the layout rule of wire.hpp: where each
// field goes (a descriptor, or inline data) and the sizes that follow.
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
      }
    };
    (void)place_descriptor;  // unused for a message without fields
    (place_descriptor.template operator()<I>(), ...);
    p.body_start = detail::body_start(p.descriptors, off - header_size - body_size);
    inline_cursor cursor(p.body_start);
    auto place_field = [&]<std::size_t J>() {
      if constexpr (!is_right_field_v<field_t<J>>) {
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
};

}  // namespace detail

// The msgh_size an encoded T has.
template <class T>
constexpr std::size_t encoded_size() {
  return detail::typed_layout<T>::size;
}

// Builds a message from `value`, moving its rights and buffers into it (value's right fields
// are left empty). Allocation failure throws std::bad_alloc. A guarded receive_right field
// throws std::invalid_argument before anything moves (see detail::refuse_guarded): a guarded
// right is sent with message_builder::add_guarded_port, which typed messages do not use.
template <class T>
message encode(T&& value) {
  using type = std::remove_cvref_t<T>;
  static_assert(std::is_aggregate_v<type>, "a typed message is an aggregate");
  static_assert(std::is_same_v<decltype(type::id), const mach_msg_id_t>,
                "a typed message has `static constexpr mach_msg_id_t id`");
  static_assert(!std::is_const_v<std::remove_reference_t<T>> && !std::is_lvalue_reference_v<T>,
                "encode takes the value by rvalue: its rights move into the message");
  boost::pfr::for_each_field(value, [](const auto& field) {
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(field)>, receive_right>) {
      detail::refuse_guarded(field);
    }
  });
  message_builder b(type::id);
  boost::pfr::for_each_field(value, [&b](auto& field) {
    using F = std::remove_cvref_t<decltype(field)>;
    detail::check_field<F>();
    if constexpr (detail::is_right_field_v<F>) {
      if constexpr (std::is_same_v<F, ool_buffer>) b.add_ool(std::move(field));
      else b.add_port(std::move(field));
    }
  });
  boost::pfr::for_each_field(value, [&b](auto& field) {
    using F = std::remove_cvref_t<decltype(field)>;
    if constexpr (!detail::is_right_field_v<F>) b.add(field);
  });
  return b.build();
}

namespace detail {

template <class F>
bool take_descriptor(descriptor& d, F& field) {
  if constexpr (std::is_same_v<F, ool_buffer> || std::is_same_v<F, send_right> ||
                std::is_same_v<F, send_once_right> || std::is_same_v<F, receive_right>) {
    F* p = std::get_if<F>(&d);
    if (!p) return false;
    field = std::move(*p);
    return true;
  }
  return false;
}

// Checks that the parsed message has exactly T's shape, then moves its parts into `out`.
// Returns success, or the first mismatch (nothing is moved then).
template <class T>
result<void> fill(parsed_message& p, T& out) {
  using layout = typed_layout<T>;
  if (p.id() != T::id) return message_errc::unexpected_id;
  if (is_complex(p.bits()) != (layout::descriptors != 0)) return message_errc::unexpected_complex_bit;
  if (p.descriptors().size() != layout::descriptors) return message_errc::unexpected_descriptor_count;
  // Descriptor kinds first (nothing is moved until everything matched).
  const auto& kinds = p.descriptor_kinds();
  bool ok = true;
  boost::pfr::for_each_field(out, [&](auto& field, auto index) {
    using F = std::remove_cvref_t<decltype(field)>;
    if constexpr (is_right_field_v<F>) {
      constexpr std::size_t i = layout::fields.descriptor[decltype(index)::value];
      constexpr descriptor_kind want =
          std::is_same_v<F, ool_buffer> ? descriptor_kind::ool : descriptor_kind::port;
      if (kinds[i].kind != want || !std::holds_alternative<F>(p.descriptors()[i])) ok = false;
    }
  });
  if (!ok) return message_errc::unexpected_descriptor;
  if (p.message_bytes().size() != layout::size || p.body_offset() != layout::body_start) {
    return message_errc::unexpected_size;
  }
  // Inline fields: validate bools before moving anything.
  const auto bytes = p.message_bytes();
  boost::pfr::for_each_field(out, [&](auto& field, auto index) {
    using F = std::remove_cvref_t<decltype(field)>;
    if constexpr (std::is_same_v<F, bool>) {
      constexpr std::size_t at = layout::fields.offset[decltype(index)::value];
      if (static_cast<unsigned char>(bytes[at]) > 1) ok = false;
    }
  });
  if (!ok) return message_errc::bad_bool_value;
  boost::pfr::for_each_field(out, [&](auto& field, auto index) {
    using F = std::remove_cvref_t<decltype(field)>;
    constexpr std::size_t I = decltype(index)::value;
    if constexpr (is_right_field_v<F>) {
      (void)take_descriptor(p.descriptors()[layout::fields.descriptor[I]], field);
    } else {
      std::memcpy(static_cast<void*>(&field), bytes.data() + layout::fields.offset[I], sizeof(F));
    }
  });
  return success();
}

template <class T>
struct decoder {
  static result<T> decode(message&& m) {
    static_assert(std::is_default_constructible_v<T>, "a typed message is default-constructible");
    BOOST_OUTCOME_TRY(auto p, parse(std::move(m)));
    T out{};
    BOOST_OUTCOME_TRY(fill(p, out));
    return out;  // p releases the header reply right, if any
  }
};

template <class... Ts>
struct decoder<std::variant<Ts...>> {
  static result<std::variant<Ts...>> decode(message&& m) {
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
      auto r = decoder<U>::decode(std::move(m));
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
// message is empty afterwards either way. A message that is not a received one is refused and
// left untouched, so that nothing it owns is lost: empty gives message_errc::empty_message, an
// outgoing one bad_header_bits (it still owns everything; send it or drop it).
// decode<std::variant<A, B, ...>> picks the alternative whose id matches (the first one if
// several share it); an unknown id gives message_errc::unexpected_id.
template <class T>
result<T> decode(message&& m) {
  return detail::decoder<T>::decode(std::move(m));
}

}  // namespace machport
