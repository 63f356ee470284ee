// Bootstrap rendezvous: bootstrap_check_in / bootstrap_look_up with owning results.
#include <machport/bootstrap.hpp>

#include <servers/bootstrap.h>

#include <cstring>

namespace machport {
namespace {

static_assert(max_service_name_length + 1 == sizeof(name_t), "name_t holds the name and its NUL");

// Copies `name` into a NUL-terminated name_t. The C calls read a C string, so a longer name
// would be read past its end by the server's copy (or cut), and an embedded NUL would silently
// name another service: both are refused.
bool to_name(std::string_view name, name_t& out) noexcept {
  if (name.size() > max_service_name_length) return false;
  if (name.find('\0') != std::string_view::npos) return false;
  std::memcpy(out, name.data(), name.size());
  out[name.size()] = '\0';
  return true;
}

}  // namespace

result<receive_right> bootstrap_check_in(std::string_view service_name) {
  name_t name;
  if (!to_name(service_name, name)) return make_kern_error(KERN_INVALID_ARGUMENT);
  mach_port_t port = MACH_PORT_NULL;
  const kern_return_t kr = ::bootstrap_check_in(bootstrap_port, name, &port);
  if (kr != BOOTSTRAP_SUCCESS) return make_bootstrap_error(kr);
  return receive_right::adopt(port);
}

result<send_right> bootstrap_look_up(std::string_view service_name) {
  name_t name;
  if (!to_name(service_name, name)) return make_kern_error(KERN_INVALID_ARGUMENT);
  mach_port_t port = MACH_PORT_NULL;
  const kern_return_t kr = ::bootstrap_look_up(bootstrap_port, name, &port);
  if (kr != BOOTSTRAP_SUCCESS) return make_bootstrap_error(kr);
  return send_right::adopt(port);
}

}  // namespace machport
