// The 64-bit user layout of Mach messages (§4-§5): the one place that knows where each field lies.
//
// Every offset is named here and checked against the SDK's structs (offsetof / sizeof), and
// every bit against the SDK's macros. Descriptors are decoded with memcpy at these offsets
// rather than through the SDK's bitfield structs: the bytes may come from anyone (a hostile
// sender, a fuzzer), may be misaligned, and every access must be bounds-checked first.
// The positions of the bitfield bytes (disposition, type, flags, deallocate, copy) cannot be
// checked by offsetof; a test compares them with the SDK structs at run time.
//
// The inline-data layout rule (place_inline, round_message_size) is here too: the builder,
// typed encode/decode and body_reader all place inline items with it.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace machport::detail {

// ---- header (mach_msg_header_t) --------------------------------------------------------

inline constexpr std::size_t header_size = sizeof(mach_msg_header_t);
inline constexpr std::size_t header_bits_offset = offsetof(mach_msg_header_t, msgh_bits);
inline constexpr std::size_t header_size_offset = offsetof(mach_msg_header_t, msgh_size);
inline constexpr std::size_t header_remote_offset = offsetof(mach_msg_header_t, msgh_remote_port);
inline constexpr std::size_t header_local_offset = offsetof(mach_msg_header_t, msgh_local_port);
inline constexpr std::size_t header_voucher_offset = offsetof(mach_msg_header_t, msgh_voucher_port);
inline constexpr std::size_t header_id_offset = offsetof(mach_msg_header_t, msgh_id);
static_assert(header_size == 24 && header_bits_offset == 0 && header_size_offset == 4 &&
              header_remote_offset == 8 && header_local_offset == 12 &&
              header_voucher_offset == 16 && header_id_offset == 20);

// msgh_bits: the three dispositions and the COMPLEX flag.
constexpr std::uint8_t remote_disposition(std::uint32_t bits) noexcept {
  return static_cast<std::uint8_t>(MACH_MSGH_BITS_REMOTE(bits));
}
constexpr std::uint8_t local_disposition(std::uint32_t bits) noexcept {
  return static_cast<std::uint8_t>(MACH_MSGH_BITS_LOCAL(bits));
}
constexpr std::uint8_t voucher_disposition(std::uint32_t bits) noexcept {
  return static_cast<std::uint8_t>(MACH_MSGH_BITS_VOUCHER(bits));
}
constexpr bool is_complex(std::uint32_t bits) noexcept {
  return (bits & MACH_MSGH_BITS_COMPLEX) != 0;
}
// `bits` with its remote disposition replaced by `disposition` (0: none).
constexpr std::uint32_t with_remote_disposition(std::uint32_t bits,
                                               std::uint8_t disposition) noexcept {
  return (bits & ~static_cast<std::uint32_t>(MACH_MSGH_BITS_REMOTE_MASK)) |
         (disposition & MACH_MSGH_BITS_REMOTE_MASK);
}
static_assert(remote_disposition(0x00131211) == 0x11 && local_disposition(0x00131211) == 0x12 &&
              voucher_disposition(0x00131211) == 0x13);
static_assert(MACH_MSGH_BITS_COMPLEX == 0x80000000U);

// ---- body and descriptors --------------------------------------------------------------

inline constexpr std::size_t body_size = sizeof(mach_msg_body_t);  // msgh_descriptor_count
inline constexpr std::size_t port_descriptor_size = sizeof(mach_msg_port_descriptor_t);
// OOL memory, OOL ports, volatile and guarded port descriptors all take 16 bytes.
inline constexpr std::size_t long_descriptor_size = sizeof(mach_msg_ool_descriptor64_t);
static_assert(body_size == 4 && port_descriptor_size == 12 && long_descriptor_size == 16);
static_assert(sizeof(mach_msg_ool_ports_descriptor64_t) == long_descriptor_size &&
              sizeof(mach_msg_guarded_port_descriptor64_t) == long_descriptor_size);

// Field offsets inside a descriptor. The last byte of the first 12 is the type for every kind.
inline constexpr std::size_t descriptor_type_offset = 11;
inline constexpr std::size_t descriptor_disposition_offset = 10;  // port, OOL ports, guarded
inline constexpr std::size_t port_name_offset = offsetof(mach_msg_port_descriptor_t, name);
inline constexpr std::size_t ool_address_offset = offsetof(mach_msg_ool_descriptor64_t, address);
inline constexpr std::size_t ool_deallocate_offset = 8;  // OOL, OOL ports
inline constexpr std::size_t ool_copy_offset = 9;        // OOL, OOL ports
inline constexpr std::size_t ool_size_offset = offsetof(mach_msg_ool_descriptor64_t, size);
inline constexpr std::size_t ool_ports_count_offset =
    offsetof(mach_msg_ool_ports_descriptor64_t, count);
inline constexpr std::size_t guarded_context_offset =
    offsetof(mach_msg_guarded_port_descriptor64_t, context);
inline constexpr std::size_t guarded_flags_offset = 8;  // 16 bits, little-endian
inline constexpr std::size_t guarded_name_offset =
    offsetof(mach_msg_guarded_port_descriptor64_t, name);
static_assert(port_name_offset == 0 && ool_address_offset == 0 && ool_size_offset == 12 &&
              ool_ports_count_offset == 12 && guarded_context_offset == 0 &&
              guarded_name_offset == 12);

// Descriptor type codes (mach_msg_descriptor_type_t) and dispositions, as on the wire.
inline constexpr std::uint8_t type_port = MACH_MSG_PORT_DESCRIPTOR,
                              type_ool = MACH_MSG_OOL_DESCRIPTOR,
                              type_ool_ports = MACH_MSG_OOL_PORTS_DESCRIPTOR,
                              type_ool_volatile = MACH_MSG_OOL_VOLATILE_DESCRIPTOR,
                              type_guarded_port = MACH_MSG_GUARDED_PORT_DESCRIPTOR;
static_assert(type_port == 0 && type_ool == 1 && type_ool_ports == 2 && type_ool_volatile == 3 &&
              type_guarded_port == 4);
inline constexpr std::uint8_t disp_move_receive = MACH_MSG_TYPE_MOVE_RECEIVE,
                              disp_move_send = MACH_MSG_TYPE_MOVE_SEND,
                              disp_move_send_once = MACH_MSG_TYPE_MOVE_SEND_ONCE,
                              disp_copy_send = MACH_MSG_TYPE_COPY_SEND,
                              disp_make_send = MACH_MSG_TYPE_MAKE_SEND,
                              disp_make_send_once = MACH_MSG_TYPE_MAKE_SEND_ONCE;
static_assert(disp_move_receive == 16 && disp_move_send == 17 && disp_move_send_once == 18 &&
              disp_copy_send == 19 && disp_make_send == 20 && disp_make_send_once == 21);
// On receipt the kernel reports rights as PORT_* (= the MOVE_* values).
static_assert(MACH_MSG_TYPE_PORT_RECEIVE == disp_move_receive &&
              MACH_MSG_TYPE_PORT_SEND == disp_move_send &&
              MACH_MSG_TYPE_PORT_SEND_ONCE == disp_move_send_once);

// Whether a message owns the right named with `disposition` (it moves it); the others
// (COPY_SEND, MAKE_*) borrow a right the sender keeps.
constexpr bool owns_right(std::uint8_t disposition) noexcept {
  return disposition == disp_move_receive || disposition == disp_move_send ||
         disposition == disp_move_send_once;
}

// XNU's IPC_KMSG_MAX_OOL_PORT_COUNT: no kernel-written port array is longer, and the kernel
// refuses to send a longer one (MACH_SEND_TOO_LARGE) before copying anything in.
inline constexpr std::uint32_t max_port_count = 16383;

// XNU's MACH_PORT_UREFS_MAX: a send or dead-name uref count that reaches it is pegged there
// (copy-in and deallocation no longer lower it).
inline constexpr mach_port_urefs_t pegged_urefs = 0xFFFF;
#ifdef MACH_PORT_UREFS_MAX
static_assert(pegged_urefs == MACH_PORT_UREFS_MAX);
#endif

constexpr std::size_t descriptor_size(std::uint8_t type) noexcept {
  return type == type_port ? port_descriptor_size : long_descriptor_size;
}

// ---- trailer (mach_msg_*_trailer_t, format 0) ------------------------------------------

inline constexpr std::size_t trailer_size_offset =
    offsetof(mach_msg_trailer_t, msgh_trailer_size);
inline constexpr std::size_t trailer_seqno_offset = offsetof(mach_msg_seqno_trailer_t, msgh_seqno);
inline constexpr std::size_t trailer_sender_offset =
    offsetof(mach_msg_security_trailer_t, msgh_sender);
inline constexpr std::size_t trailer_audit_offset = offsetof(mach_msg_audit_trailer_t, msgh_audit);
inline constexpr std::size_t trailer_context_offset =
    offsetof(mach_msg_context_trailer_t, msgh_context);
static_assert(trailer_size_offset == 4 && trailer_seqno_offset == 8 &&
              trailer_sender_offset == 12 && trailer_audit_offset == 20 &&
              trailer_context_offset == 52);
static_assert(sizeof(mach_msg_trailer_t) == 8 && sizeof(security_token_t) == 8 &&
              sizeof(audit_token_t) == 32 && sizeof(mach_port_context_t) == 8);
// The smallest trailer: type and size. A buffer with fewer bytes after msgh_size has none.
inline constexpr std::size_t min_trailer_size = sizeof(mach_msg_trailer_t);

// ---- the inline-data layout rule --------------------------------------------------------

inline constexpr std::size_t max_inline_alignment = 8;

constexpr bool valid_inline_alignment(std::size_t alignment) noexcept {
  return alignment != 0 && alignment <= max_inline_alignment &&
         (alignment & (alignment - 1)) == 0;
}
// Where an inline item with `alignment` goes when the message so far ends at `end`: the next
// offset, from the start of the message, that is a multiple of the alignment.
constexpr std::size_t place_inline(std::size_t end, std::size_t alignment) noexcept {
  return (end + alignment - 1) & ~(alignment - 1);
}
// msgh_size for a message whose last byte ends at `end`: rounded up to a multiple of 4.
constexpr std::size_t round_message_size(std::size_t end) noexcept {
  return (end + 3) & ~std::size_t{3};
}
// Where inline data starts after `count` descriptors taking `descriptor_bytes` in all.
constexpr std::size_t body_start(std::size_t count, std::size_t descriptor_bytes) noexcept {
  return header_size + (count != 0 ? body_size + descriptor_bytes : 0);
}

// Places inline items one after the other with the layout rule; usable at compile time.
class inline_cursor {
 public:
  constexpr explicit inline_cursor(std::size_t start) noexcept : end_(start) {}
  // Returns the offset of an item of `size` bytes aligned to `alignment`, and moves past it.
  constexpr std::size_t place(std::size_t size, std::size_t alignment) noexcept {
    const std::size_t at = place_inline(end_, alignment);
    end_ = at + size;
    return at;
  }
  constexpr std::size_t end() const noexcept { return end_; }
  constexpr std::size_t message_size() const noexcept { return round_message_size(end_); }

 private:
  std::size_t end_;
};

// ---- loads and stores ------------------------------------------------------------------

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
inline std::uint8_t load8(const std::byte* p) noexcept { return static_cast<std::uint8_t>(*p); }
inline void store32(std::byte* p, std::uint32_t v) noexcept { std::memcpy(p, &v, 4); }
inline void store64(std::byte* p, std::uint64_t v) noexcept { std::memcpy(p, &v, 8); }
inline void store8(std::byte* p, std::uint8_t v) noexcept { *p = std::byte{v}; }

// The header of the message at `msg` (which must hold header_size bytes), field by field.
inline mach_msg_header_t load_header(const std::byte* msg) noexcept {
  mach_msg_header_t h;
  std::memcpy(&h, msg, sizeof h);
  return h;
}
inline void store_header(std::byte* msg, const mach_msg_header_t& h) noexcept {
  std::memcpy(msg, &h, sizeof h);
}

// ---- descriptors -----------------------------------------------------------------------

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
  if (off > end || end - off < port_descriptor_size) return message_errc::descriptor_past_end;
  const std::byte* p = msg + off;
  d.type = load8(p + descriptor_type_offset);
  switch (d.type) {
    case type_port:
      d.name = load32(p + port_name_offset);
      d.disposition = load8(p + descriptor_disposition_offset);
      return message_errc::success;
    case type_ool:
    case type_ool_volatile:
    case type_ool_ports:
      if (end - off < long_descriptor_size) return message_errc::descriptor_past_end;
      d.address = load64(p + ool_address_offset);
      d.deallocate = load8(p + ool_deallocate_offset);
      d.copy = load8(p + ool_copy_offset);
      if (d.type == type_ool_ports) d.disposition = load8(p + descriptor_disposition_offset);
      d.count = load32(p + ool_size_offset);
      return message_errc::success;
    case type_guarded_port:
      if (end - off < long_descriptor_size) return message_errc::descriptor_past_end;
      d.address = load64(p + guarded_context_offset);
      d.flags = static_cast<std::uint16_t>(load8(p + guarded_flags_offset) |
                                           (load8(p + guarded_flags_offset + 1) << 8));
      d.disposition = load8(p + descriptor_disposition_offset);
      d.name = load32(p + guarded_name_offset);
      return message_errc::success;
    default:
      return message_errc::unknown_descriptor_type;
  }
}

// Encodes `d` (its offset is ignored) at `p`, which has descriptor_size(d.type) bytes,
// zeroed. The inverse of read_descriptor.
inline void write_descriptor(std::byte* p, const raw_descriptor& d) noexcept {
  store8(p + descriptor_type_offset, d.type);
  switch (d.type) {
    case type_port:
      store32(p + port_name_offset, d.name);
      store8(p + descriptor_disposition_offset, d.disposition);
      break;
    case type_ool:
    case type_ool_volatile:
    case type_ool_ports:
      store64(p + ool_address_offset, d.address);
      store8(p + ool_deallocate_offset, d.deallocate);
      store8(p + ool_copy_offset, d.copy);
      if (d.type == type_ool_ports) store8(p + descriptor_disposition_offset, d.disposition);
      store32(p + ool_size_offset, d.count);
      break;
    case type_guarded_port:
      store64(p + guarded_context_offset, d.address);
      store8(p + guarded_flags_offset, static_cast<std::uint8_t>(d.flags & 0xff));
      store8(p + guarded_flags_offset + 1, static_cast<std::uint8_t>(d.flags >> 8));
      store8(p + descriptor_disposition_offset, d.disposition);
      store32(p + guarded_name_offset, d.name);
      break;
    default:
      break;
  }
}

// Marks the OOL (or OOL ports) descriptor at `off` as owned by the message: deallocate = 1.
inline void set_deallocate(std::byte* msg, std::size_t off) noexcept {
  store8(msg + off + ool_deallocate_offset, 1);
}

// Checks the header against `length` (the bytes available) and returns msgh_size via `size`.
inline message_errc check_header(const std::byte* msg, std::size_t length,
                                 std::size_t& size) noexcept {
  if (length < header_size) return message_errc::bad_header_size;
  size = load32(msg + header_size_offset);
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
  if (is_complex(load32(msg + header_bits_offset))) {
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
