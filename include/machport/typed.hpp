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
// Top-level bool fields are checked to hold 0 or 1. Other inline fields are copied as bytes:
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
    static_assert(alignof(F) <= 8, "inline fields are aligned to at most 8 bytes");
  }
}

template <class F>
constexpr std::size_t descriptor_size_of() {
  if constexpr (std::is_same_v<F, ool_buffer>) return long_descriptor_size;
  else if constexpr (is_right_field_v<F>) return port_descriptor_size;
  else return 0;
}

// The layout of T as computed at compile time.
template <class T>
struct typed_layout {
  template <std::size_t... I>
  static constexpr std::size_t count_descriptors(std::index_sequence<I...>) {
    return (std::size_t{0} + ... +
            (is_right_field_v<boost::pfr::tuple_element_t<I, T>> ? std::size_t{1} : std::size_t{0}));
  }
  template <std::size_t... I>
  static constexpr std::size_t descriptor_bytes(std::index_sequence<I...>) {
    return (std::size_t{0} + ... + descriptor_size_of<boost::pfr::tuple_element_t<I, T>>());
  }
  template <std::size_t... I>
  static constexpr std::size_t total(std::index_sequence<I...>, std::size_t start) {
    std::size_t off = start;
    auto place = [&off](std::size_t size, std::size_t align, bool inline_field) {
      if (inline_field) off = ((off + align - 1) & ~(align - 1)) + size;
    };
    (void)place;  // unused for a message without fields
    (place(sizeof(boost::pfr::tuple_element_t<I, T>), alignof(boost::pfr::tuple_element_t<I, T>),
           !is_right_field_v<boost::pfr::tuple_element_t<I, T>>),
     ...);
    return (off + 3) & ~std::size_t{3};
  }
  using seq = std::make_index_sequence<boost::pfr::tuple_size_v<T>>;
  static constexpr std::size_t descriptors = count_descriptors(seq{});
  static constexpr std::size_t body_start =
      detail::body_start(descriptors, descriptor_bytes(seq{}));
  static constexpr std::size_t size = total(seq{}, body_start);
};

}  // namespace detail

// The msgh_size an encoded T has.
template <class T>
constexpr std::size_t encoded_size() {
  return detail::typed_layout<T>::size;
}

// Builds a message from `value`, moving its rights and buffers into it (value's right fields
// are left empty). Never fails; allocation failure throws std::bad_alloc.
template <class T>
message encode(T&& value) {
  using type = std::remove_cvref_t<T>;
  static_assert(std::is_aggregate_v<type>, "a typed message is an aggregate");
  static_assert(std::is_same_v<decltype(type::id), const mach_msg_id_t>,
                "a typed message has `static constexpr mach_msg_id_t id`");
  static_assert(!std::is_const_v<std::remove_reference_t<T>> && !std::is_lvalue_reference_v<T>,
                "encode takes the value by rvalue: its rights move into the message");
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
template <class T>
result<void> fill(parsed_message& p, T& out) {
  using layout = typed_layout<T>;
  if (p.id() != T::id) return message_errc::unexpected_id;
  const bool complex = (p.bits() & MACH_MSGH_BITS_COMPLEX) != 0;
  if (complex != (layout::descriptors != 0)) return message_errc::unexpected_complex_bit;
  if (p.descriptors().size() != layout::descriptors) return message_errc::unexpected_descriptor_count;
  // Descriptor kinds first (nothing is moved until everything matched).
  std::size_t i = 0;
  bool ok = true;
  const auto* raw = p.message_bytes().data();
  boost::pfr::for_each_field(out, [&](auto& field) {
    using F = std::remove_cvref_t<decltype(field)>;
    if constexpr (is_right_field_v<F>) {
      if (!ok) return;  // offsets below are only right while every earlier one matched
      auto& d = p.descriptors()[i];
      // (parse checked that every descriptor lies within msgh_size.)
      // The descriptor type byte tells a plain port from a guarded one (both parse as rights).
      std::size_t off = 28;
      for (std::size_t k = 0; k < i; ++k) {
        off += std::holds_alternative<ool_buffer>(p.descriptors()[k]) ? 16 : 12;
      }
      const auto type = static_cast<std::uint8_t>(raw[off + 11]);
      const bool want_ool = std::is_same_v<F, ool_buffer>;
      if (!std::holds_alternative<F>(d) || type != (want_ool ? type_ool : type_port)) ok = false;
      ++i;
    }
  });
  if (!ok) return message_errc::unexpected_descriptor;
  if (p.message_bytes().size() != layout::size || p.body_offset() != layout::body_start) {
    return message_errc::unexpected_size;
  }
  // Inline fields: validate bools before moving anything.
  std::size_t off = layout::body_start;
  auto bytes = p.message_bytes();
  boost::pfr::for_each_field(out, [&](auto& field) {
    using F = std::remove_cvref_t<decltype(field)>;
    if constexpr (!is_right_field_v<F>) {
      off = (off + alignof(F) - 1) & ~(alignof(F) - 1);
      if constexpr (std::is_same_v<F, bool>) {
        auto v = static_cast<unsigned char>(bytes[off]);
        if (v > 1) ok = false;
      }
      off += sizeof(F);
    }
  });
  if (!ok) return message_errc::unexpected_size;
  i = 0;
  off = layout::body_start;
  boost::pfr::for_each_field(out, [&](auto& field) {
    using F = std::remove_cvref_t<decltype(field)>;
    if constexpr (is_right_field_v<F>) {
      (void)take_descriptor(p.descriptors()[i++], field);
    } else {
      off = (off + alignof(F) - 1) & ~(alignof(F) - 1);
      std::memcpy(static_cast<void*>(&field), bytes.data() + off, sizeof(F));
      off += sizeof(F);
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
    if (m.buffer().size() < 24) {
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
// disposition of every descriptor, and the exact size (message_errc::unexpected_*). On any
// mismatch, or if the message is malformed (see parse), every right and region it carried is
// released and an error returned. `m` is empty afterwards either way.
// decode<std::variant<A, B, ...>> picks the alternative whose id matches (the first one if
// several share it); an unknown id gives message_errc::unexpected_id.
template <class T>
result<T> decode(message&& m) {
  return detail::decoder<T>::decode(std::move(m));
}

}  // namespace machport
