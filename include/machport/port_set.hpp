// port_set: a set of receive rights that can be received from as one.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/receive_right.hpp>
#include <machport/result.hpp>

#include <cstddef>
#include <functional>

namespace machport {

// Move-only owner of a port set name. Destroying it destroys the set (mod_refs(PORT_SET,-1));
// member ports stay alive and owned by their receive_rights.
class port_set {
 public:
  port_set() noexcept = default;
  ~port_set() { reset(); }
  port_set(const port_set&) = delete;
  port_set& operator=(const port_set&) = delete;
  port_set(port_set&& other) noexcept : name_(other.name_) { other.name_ = MACH_PORT_NULL; }
  port_set& operator=(port_set&& other) noexcept;

  // A new empty set (mach_port_allocate(PORT_SET)).
  static result<port_set> allocate() noexcept;
  static port_set adopt(mach_port_name_t name) noexcept {
    port_set s;
    s.name_ = name;
    return s;
  }
  [[nodiscard]] mach_port_name_t release() noexcept {
    mach_port_name_t n = name_;
    name_ = MACH_PORT_NULL;
    return n;
  }
  void reset() noexcept;

  mach_port_name_t name() const noexcept { return name_; }
  bool valid() const noexcept { return MACH_PORT_VALID(name_); }
  explicit operator bool() const noexcept { return valid(); }

  // Adds the port (mach_port_insert_member); it may be in other sets too.
  // Errors: KERN_ALREADY_IN_SET, KERN_INVALID_RIGHT, KERN_INVALID_NAME.
  result<void> insert(const receive_right& member) const noexcept;
  // Removes it (mach_port_extract_member). Errors: KERN_NOT_IN_SET, ...
  result<void> extract(const receive_right& member) const noexcept;

  friend bool operator==(const port_set& a, const port_set& b) noexcept {
    return a.name_ == b.name_;
  }

 private:
  mach_port_name_t name_ = MACH_PORT_NULL;
};

}  // namespace machport

template <>
struct std::hash<machport::port_set> {
  std::size_t operator()(const machport::port_set& r) const noexcept {
    return std::hash<mach_port_name_t>{}(r.name());
  }
};
