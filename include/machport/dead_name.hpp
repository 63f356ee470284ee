// dead_name: one uref on a dead name, such as the one a dead-name notification carries.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/result.hpp>

#include <cstddef>
#include <functional>

namespace machport {

// When a port dies, every send or send-once right to it becomes a dead name holding the same
// urefs (send_right and send_once_right keep working and release their share). A dead-name
// notification adds one more uref that nobody owns yet: adopt it in a dead_name so it is
// released. Move-only; destroying it releases one dead-name uref (mach_port_deallocate).
class dead_name {
 public:
  dead_name() noexcept = default;
  ~dead_name() { reset(); }
  dead_name(const dead_name&) = delete;
  dead_name& operator=(const dead_name&) = delete;
  dead_name(dead_name&& other) noexcept : name_(other.name_) { other.name_ = MACH_PORT_NULL; }
  dead_name& operator=(dead_name&& other) noexcept;

  // Takes ownership of one dead-name uref on `name`. Nothing is checked.
  static dead_name adopt(mach_port_name_t name) noexcept {
    dead_name d;
    d.name_ = name;
    return d;
  }
  // Creates a fresh dead name with one uref (mach_port_allocate(DEAD_NAME)).
  static result<dead_name> allocate() noexcept;

  [[nodiscard]] mach_port_name_t release() noexcept {
    mach_port_name_t n = name_;
    name_ = MACH_PORT_NULL;
    return n;
  }
  void reset() noexcept;

  mach_port_name_t name() const noexcept { return name_; }
  bool valid() const noexcept { return MACH_PORT_VALID(name_); }
  explicit operator bool() const noexcept { return valid(); }
  // mach_port_get_refs(DEAD_NAME): all dead-name urefs under the name (not only ours).
  result<mach_port_urefs_t> urefs() const noexcept;

  friend bool operator==(const dead_name& a, const dead_name& b) noexcept {
    return a.name_ == b.name_;
  }

 private:
  mach_port_name_t name_ = MACH_PORT_NULL;
};

}  // namespace machport

template <>
struct std::hash<machport::dead_name> {
  std::size_t operator()(const machport::dead_name& r) const noexcept {
    return std::hash<mach_port_name_t>{}(r.name());
  }
};
