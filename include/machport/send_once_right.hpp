// send_once_right: a send-once right, consumed by exactly one message.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/result.hpp>

#include <cstddef>
#include <functional>

namespace machport {

// Move-only owner of a send-once right. Sending a message with it as destination (or moving it
// into a message) consumes it. Destroying an unused one deallocates it, and the kernel then
// delivers MACH_NOTIFY_SEND_ONCE to the port: the receiver learns the reply will never come.
class send_once_right {
 public:
  send_once_right() noexcept = default;
  ~send_once_right() { reset(); }
  send_once_right(const send_once_right&) = delete;
  send_once_right& operator=(const send_once_right&) = delete;
  send_once_right(send_once_right&& other) noexcept : name_(other.name_) {
    other.name_ = MACH_PORT_NULL;
  }
  send_once_right& operator=(send_once_right&& other) noexcept;

  // Takes ownership of the send-once right the caller holds under `name`. Nothing is checked.
  static send_once_right adopt(mach_port_name_t name) noexcept {
    send_once_right r;
    r.name_ = name;
    return r;
  }
  // Gives up ownership: returns the name, which the caller must now use or deallocate.
  [[nodiscard]] mach_port_name_t release() noexcept {
    mach_port_name_t n = name_;
    name_ = MACH_PORT_NULL;
    return n;
  }
  // Deallocates now (the port receives a send-once notification); the right becomes empty.
  void reset() noexcept;

  mach_port_name_t name() const noexcept { return name_; }
  bool valid() const noexcept { return MACH_PORT_VALID(name_); }
  explicit operator bool() const noexcept { return valid(); }
  // True if the name is MACH_PORT_DEAD or the port died (the entry is now a dead name).
  bool is_dead() const noexcept;
  result<mach_port_type_t> type() const noexcept;

  friend bool operator==(const send_once_right& a, const send_once_right& b) noexcept {
    return a.name_ == b.name_;
  }

 private:
  mach_port_name_t name_ = MACH_PORT_NULL;
};

}  // namespace machport

template <>
struct std::hash<machport::send_once_right> {
  std::size_t operator()(const machport::send_once_right& r) const noexcept {
    return std::hash<mach_port_name_t>{}(r.name());
  }
};
