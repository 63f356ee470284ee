// port_set: a set of receive rights that can be received from as one.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/detail/release.hpp>
#include <machport/detail/right_handle.hpp>
#include <machport/receive_right.hpp>
#include <machport/result.hpp>

namespace machport {

namespace detail {
struct port_set_traits {
  static void free(mach_port_name_t name) noexcept { release_port_set(name); }
};
}  // namespace detail

// Move-only owner of a port set name. Destroying it destroys the set (mod_refs(PORT_SET,-1));
// member ports stay alive and owned by their receive_rights.
// adopt, release, reset, name, valid and == come from detail/right_handle.hpp.
class port_set : public detail::right_handle<port_set, detail::port_set_traits> {
 public:
  port_set() noexcept = default;

  // Returns a new empty set (mach_port_allocate(PORT_SET)). Errors: KERN_NO_SPACE.
  static result<port_set> allocate() noexcept;

  // Adds the member's port to the set (mach_port_insert_member); a port may be in several
  // sets. Errors: KERN_INVALID_NAME (this set or `member` is empty), KERN_ALREADY_IN_SET,
  // KERN_INVALID_RIGHT. Ownership of both rights is unchanged either way.
  result<void> insert(const receive_right& member) const noexcept;
  // Removes the member's port from the set (mach_port_extract_member). Errors:
  // KERN_INVALID_NAME (this set or `member` is empty), KERN_NOT_IN_SET, KERN_INVALID_RIGHT.
  // Ownership of both rights is unchanged either way.
  result<void> extract(const receive_right& member) const noexcept;
};

}  // namespace machport

template <>
struct std::hash<machport::port_set> : machport::detail::right_hash {};
