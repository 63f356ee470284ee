// Internal: what the builder, the parser and send/receive need from message's internals.
#pragma once

#include <machport/detail/release.hpp>
#include <machport/detail/wire.hpp>
#include <machport/message.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace machport::detail {

// Allocates 8-byte aligned storage of at least `bytes` bytes, zeroed unless `zeroed` is false
// (a receive buffer: the kernel writes what is read).
std::unique_ptr<std::uint64_t[]> allocate_storage(std::size_t bytes, bool zeroed = true);

// Releases what a message in state `st` owns in [buf, buf+length) (see message's comment).
// Malformed parts are skipped: header rights are released whenever the header is readable,
// descriptors up to the first one that is malformed, and descriptors whose disposition a
// message of that state cannot own are left alone.
void release_contents(std::byte* buf, std::size_t length, message::state st) noexcept;

// Releases what one descriptor of a message (`received`: a received one, else an outgoing
// one) or of a builder (an outgoing one) owns; the per-descriptor rule of release_contents.
void release_descriptor(const raw_descriptor& d, bool received) noexcept;

// Releases a right a message or builder owns by its MOVE_* disposition (MOVE_RECEIVE:
// destroys the receive right; MOVE_SEND / MOVE_SEND_ONCE: deallocates the name). Borrowed
// dispositions (COPY_SEND, MAKE_*) and unknown ones release nothing.
void release_port(mach_port_name_t name, std::uint8_t disposition) noexcept;

// With a release hook installed (fuzzing), the names for_each_port_name reports instead of
// reading a port array: at most placeholder_port_count of them, each placeholder_port_name
// (a plausible, valid name that the hook records and never releases).
inline constexpr std::uint32_t placeholder_port_count = 64;
inline constexpr mach_port_name_t placeholder_port_name = 0x1003;

// Calls f(name) for each of the `count` names of the OOL port array at `address` (the
// kernel's or ours), read in place; allocates nothing. With a release hook installed the memory
// is not read (it may not exist: fuzzing): f gets placeholder names instead (above).
template <class F>
void for_each_port_name(std::uint64_t address, std::uint32_t count, F&& f) {
  if (count == 0 || address == 0) return;
  if (current_release_hook() != nullptr) {
    for (std::uint32_t i = 0; i < count && i < placeholder_port_count; ++i) {
      f(placeholder_port_name);
    }
    return;
  }
  const auto* p = reinterpret_cast<const std::byte*>(static_cast<std::uintptr_t>(address));
  for (std::uint32_t i = 0; i < count; ++i) {
    mach_port_name_t name;
    std::memcpy(&name, p + i * sizeof name, sizeof name);  // the kernel's array may be unaligned
    f(name);
  }
}

struct message_access {
  static std::byte* data(message& m) noexcept {
    return reinterpret_cast<std::byte*>(m.storage_.get());
  }
  static std::size_t capacity(const message& m) noexcept { return m.capacity_; }
  static void assign(message& m, std::unique_ptr<std::uint64_t[]> storage, std::size_t capacity,
                     message::state st) noexcept {
    m.reset();
    m.storage_ = std::move(storage);
    m.capacity_ = capacity;
    m.state_ = st;
    m.foreign_ = false;
  }
  static bool foreign(const message& m) noexcept { return m.foreign_; }
  static void set_foreign(message& m, bool foreign) noexcept { m.foreign_ = foreign; }
  static void set_state(message& m, message::state st) noexcept { m.state_ = st; }
  // Releases what `m` holds and returns its buffer, grown first (not zeroed) if it has fewer
  // than `bytes` bytes. `m` is empty, its bytes are the caller's to write; on bad_alloc `m` is
  // unchanged.
  static std::byte* prepare(message& m, std::size_t bytes) {
    if (m.capacity_ < bytes || !m.storage_) {
      auto fresh = allocate_storage(bytes, false);
      m.reset();
      m.storage_ = std::move(fresh);
      m.capacity_ = bytes;
    } else if (owns_nothing(m)) {
      m.state_ = message::state::empty;
    } else {
      m.reset();
    }
    m.foreign_ = false;
    return data(m);
  }

  // True when `m` is empty, or holds a message that names no right and no region (not
  // complex, no header dispositions): emptying it releases nothing, without a call.
  static bool owns_nothing(const message& m) noexcept {
    if (m.state_ == message::state::empty) return true;
    if (m.capacity_ < header_size) return false;
    const std::uint32_t bits = load32(data(const_cast<message&>(m)) + header_bits_offset);
    return (bits & (MACH_MSGH_BITS_COMPLEX | MACH_MSGH_BITS_PORTS_MASK)) == 0;
  }
  // Empties the message without releasing anything and returns its buffer.
  static std::unique_ptr<std::uint64_t[]> take_storage(message& m, std::size_t& capacity) noexcept {
    capacity = m.capacity_;
    auto s = std::move(m.storage_);
    m.capacity_ = 0;
    m.state_ = message::state::empty;
    return s;
  }
};

}  // namespace machport::detail
