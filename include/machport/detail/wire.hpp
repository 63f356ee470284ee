// The 64-bit user layout of Mach messages, read and written byte by byte.
//
// Descriptors are decoded with memcpy at fixed offsets rather than through the SDK's bitfield
// structs: the bytes may come from anyone (a hostile sender, a fuzzer), may be misaligned, and
// every access must be bounds-checked first.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace machport::detail {

inline constexpr std::size_t header_size = 24;       // mach_msg_header_t
inline constexpr std::size_t body_size = 4;          // mach_msg_body_t (descriptor count)
inline constexpr std::size_t port_descriptor_size = 12;
inline constexpr std::size_t long_descriptor_size = 16;  // OOL, OOL ports, volatile, guarded

// Descriptor type codes (mach_msg_descriptor_type_t) and dispositions, as on the wire.
inline constexpr std::uint8_t type_port = 0, type_ool = 1, type_ool_ports = 2,
                              type_ool_volatile = 3, type_guarded_port = 4;
inline constexpr std::uint8_t disp_move_receive = 16, disp_move_send = 17,
                              disp_move_send_once = 18, disp_copy_send = 19,
                              disp_make_send = 20, disp_make_send_once = 21;

inline std::uint32_t load32(const std::byte* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline std::uint64_t load64(const std::byte* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void store32(std::byte* p, std::uint32_t v) noexcept { std::memcpy(p, &v, 4); }
inline void store64(std::byte* p, std::uint64_t v) noexcept { std::memcpy(p, &v, 8); }

// One descriptor, whatever its type. Fields that a type does not have are 0.
struct raw_descriptor {
  std::size_t offset = 0;        // from the start of the message
  std::uint8_t type = 0;
  std::uint8_t disposition = 0;  // port, OOL ports, guarded
  mach_port_name_t name = 0;     // port, guarded
  std::uint64_t address = 0;     // OOL, OOL ports; the context for guarded
  std::uint32_t count = 0;       // OOL: size in bytes; OOL ports: number of names
  std::uint8_t deallocate = 0;   // OOL, OOL ports
  std::uint8_t copy = 0;         // OOL, OOL ports
  std::uint16_t flags = 0;       // guarded
};

// Decodes the descriptor at `off`, which must end at or before `end`.
// Returns success, descriptor_past_end or unknown_descriptor_type.
inline message_errc read_descriptor(const std::byte* msg, std::size_t end, std::size_t off,
                                    raw_descriptor& d) noexcept {
  d = raw_descriptor{};
  d.offset = off;
  // The type is the last byte of the first 12 for every descriptor kind.
  if (off > end || end - off < port_descriptor_size) return message_errc::descriptor_past_end;
  const std::byte* p = msg + off;
  d.type = static_cast<std::uint8_t>(p[11]);
  switch (d.type) {
    case type_port:
      d.name = load32(p);
      d.disposition = static_cast<std::uint8_t>(p[10]);
      return message_errc::success;
    case type_ool:
    case type_ool_volatile:
    case type_ool_ports:
      if (end - off < long_descriptor_size) return message_errc::descriptor_past_end;
      d.address = load64(p);
      d.deallocate = static_cast<std::uint8_t>(p[8]);
      d.copy = static_cast<std::uint8_t>(p[9]);
      if (d.type == type_ool_ports) d.disposition = static_cast<std::uint8_t>(p[10]);
      d.count = load32(p + 12);
      return message_errc::success;
    case type_guarded_port:
      if (end - off < long_descriptor_size) return message_errc::descriptor_past_end;
      d.address = load64(p);
      d.flags = static_cast<std::uint16_t>(static_cast<unsigned>(p[8]) |
                                           (static_cast<unsigned>(p[9]) << 8));
      d.disposition = static_cast<std::uint8_t>(p[10]);
      d.name = load32(p + 12);
      return message_errc::success;
    default:
      return message_errc::unknown_descriptor_type;
  }
}

inline std::size_t descriptor_size(std::uint8_t type) noexcept {
  return type == type_port ? port_descriptor_size : long_descriptor_size;
}

// Checks the header against `length` (the bytes available) and returns msgh_size via `size`.
inline message_errc check_header(const std::byte* msg, std::size_t length,
                                 std::size_t& size) noexcept {
  if (length < header_size) return message_errc::bad_header_size;
  size = load32(msg + 4);
  if (size < header_size || size % 4 != 0 || size > length) return message_errc::bad_header_size;
  return message_errc::success;
}

// Walks the descriptors of the message in [msg, msg+length): calls f(const raw_descriptor&)
// for each well-formed one, in order, and stops at the first malformed one. Returns success
// or why the structure is malformed; `body_offset` gets the end of the descriptors.
template <class F>
message_errc walk(const std::byte* msg, std::size_t length, F&& f,
                  std::size_t* body_offset = nullptr) {
  std::size_t size = 0;
  if (auto e = check_header(msg, length, size); e != message_errc::success) return e;
  std::size_t off = header_size;
  const std::uint32_t bits = load32(msg);
  if (bits & MACH_MSGH_BITS_COMPLEX) {
    if (size < header_size + body_size) return message_errc::bad_descriptor_count;
    const std::uint32_t count = load32(msg + header_size);
    off += body_size;
    // Each descriptor takes at least 12 bytes: reject impossible counts before walking.
    if (count > (size - off) / port_descriptor_size) return message_errc::bad_descriptor_count;
    for (std::uint32_t i = 0; i < count; ++i) {
      raw_descriptor d;
      if (auto e = read_descriptor(msg, size, off, d); e != message_errc::success) return e;
      f(d);
      off += descriptor_size(d.type);
    }
  }
  if (body_offset) *body_offset = off;
  return message_errc::success;
}

}  // namespace machport::detail
