// right_handle: the ownership block every right class shares (adopt, release, reset, move, ==).
//
// In the spirit of Chromium's ScopedGeneric<T, Traits>: the handle owns one name in the
// calling task's IPC space and gives it back with `Traits::free(name)` when reset or destroyed.
// The traits may carry state that travels with the name (receive_right keeps its guard there);
// a default-constructed Traits means "no state", and an emptied handle gets one.
//
// Each public class (send_right, receive_right, ...) derives from right_handle<itself, its
// traits>, keeps its own type, and adds only its own calls.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/result.hpp>

#include <cstddef>
#include <functional>
#include <utility>

namespace machport::detail {

// Traits requirements: default-constructible, copyable, and
//   void free(mach_port_name_t name) const noexcept;  // static is fine
// called only with a valid name (not MACH_PORT_NULL or MACH_PORT_DEAD). free goes through
// detail/release.hpp, which asserts in debug builds that the kernel accepted the release:
// a refused release means two owners held the same name.
template <class Derived, class Traits>
class right_handle {
 public:
  // Takes ownership of what the caller holds under `name`. Nothing is checked.
  static Derived adopt(mach_port_name_t name) noexcept {
    Derived d;
    d.right_handle::name_ = name;
    return d;
  }

  // Gives up ownership: returns the name, which the caller must now release or hand on.
  // The handle becomes empty; the kernel is not called.
  [[nodiscard]] mach_port_name_t release() noexcept {
    traits_ = Traits{};
    return std::exchange(name_, MACH_PORT_NULL);
  }
  // Releases what the handle owns now (Traits::free); the handle becomes empty.
  void reset() noexcept {
    const mach_port_name_t name = std::exchange(name_, MACH_PORT_NULL);
    const Traits traits = std::exchange(traits_, Traits{});
    if (MACH_PORT_VALID(name)) traits.free(name);
  }

  mach_port_name_t name() const noexcept { return name_; }
  // True for a name other than MACH_PORT_NULL and MACH_PORT_DEAD: only then is something owned.
  bool valid() const noexcept { return MACH_PORT_VALID(name_); }
  explicit operator bool() const noexcept { return valid(); }

  // Identity is the name: two handles of one type are equal when they hold the same name.
  friend bool operator==(const Derived& a, const Derived& b) noexcept {
    return a.name() == b.name();
  }

 protected:
  right_handle() noexcept = default;
  right_handle(mach_port_name_t name, Traits traits) noexcept : name_(name), traits_(traits) {}
  ~right_handle() { reset(); }
  right_handle(const right_handle&) = delete;
  right_handle& operator=(const right_handle&) = delete;
  right_handle(right_handle&& other) noexcept
      : name_(std::exchange(other.name_, MACH_PORT_NULL)),
        traits_(std::exchange(other.traits_, Traits{})) {}
  right_handle& operator=(right_handle&& other) noexcept {
    if (this != &other) {
      reset();
      name_ = std::exchange(other.name_, MACH_PORT_NULL);
      traits_ = std::exchange(other.traits_, Traits{});
    }
    return *this;
  }

  // The name for a call that asks the kernel about this right. An empty handle (valid() is
  // false) fails with KERN_INVALID_NAME without calling the kernel, so every call on an empty
  // right of any type gives the same error.
  result<mach_port_name_t> checked_name() const noexcept {
    if (!valid()) return make_kern_error(KERN_INVALID_NAME);
    return name_;
  }

  const Traits& traits() const noexcept { return traits_; }
  Traits& traits() noexcept { return traits_; }

 private:
  mach_port_name_t name_ = MACH_PORT_NULL;
  [[no_unique_address]] Traits traits_{};
};

// std::hash for a right class: the hash of its name. Each class specialises std::hash with
// one line: `template <> struct std::hash<machport::X> : machport::detail::right_hash {};`
struct right_hash {
  template <class Right>
  std::size_t operator()(const Right& r) const noexcept {
    return std::hash<mach_port_name_t>{}(r.name());
  }
};

}  // namespace machport::detail
