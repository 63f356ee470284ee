// Internal: what the builder, the parser and send/receive need from message's internals.
#pragma once

#include <machport/message.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace machport::detail {

// Allocates 8-byte aligned, zeroed storage of at least `bytes` bytes.
std::unique_ptr<std::uint64_t[]> allocate_storage(std::size_t bytes);

// Releases what a message in state `st` owns in [buf, buf+length) (see message's comment).
// Malformed parts are skipped: header rights are released whenever the header is readable,
// descriptors up to the first one that is malformed, and descriptors whose disposition a
// message of that state cannot own are left alone.
void release_contents(std::byte* buf, std::size_t length, message::state st) noexcept;

// Releases a right a message or builder owns by its MOVE_* disposition (MOVE_RECEIVE:
// destroys the receive right; MOVE_SEND / MOVE_SEND_ONCE: deallocates the name). Borrowed
// dispositions (COPY_SEND, MAKE_*) and unknown ones release nothing.
void release_port(mach_port_name_t name, std::uint8_t disposition) noexcept;

// Reads `count` names from an OOL port array at `address` (the kernel's or ours). With a
// release hook installed the memory is not read (it may not exist) and placeholder names are
// returned instead.
std::vector<mach_port_name_t> read_port_names(std::uint64_t address, std::uint32_t count);

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
  }
  static void set_state(message& m, message::state st) noexcept { m.state_ = st; }
  static void add_side_array(message& m, std::unique_ptr<mach_port_name_t[]> a) {
    m.side_arrays_.push_back(std::move(a));
  }
  // Empties the message without releasing anything and returns its buffer.
  static std::unique_ptr<std::uint64_t[]> take_storage(message& m, std::size_t& capacity) noexcept {
    capacity = m.capacity_;
    auto s = std::move(m.storage_);
    m.capacity_ = 0;
    m.state_ = message::state::empty;
    m.side_arrays_.clear();
    return s;
  }
};

}  // namespace machport::detail
