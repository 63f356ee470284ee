// reply_port: a reply right carried in the message header.
#include <machport/detail/message_access.hpp>
#include <machport/detail/wire.hpp>
#include <machport/reply_port.hpp>

#include <utility>

namespace machport {

reply_port::reply_port(send_once_right&& r) noexcept
    : name_(r.release()), disposition_(detail::disp_move_send_once) {}

reply_port::reply_port(send_right&& r) noexcept
    : name_(r.release()), disposition_(detail::disp_move_send) {}

reply_port reply_port::make_send_once(const receive_right& port) noexcept {
  reply_port r;
  r.name_ = port.name();
  r.disposition_ = detail::disp_make_send_once;
  return r;
}

reply_port reply_port::adopt(mach_port_name_t name, mach_msg_type_name_t disposition) noexcept {
  reply_port r;
  r.name_ = name;
  r.disposition_ = disposition;
  return r;
}

reply_port::reply_port(reply_port&& other) noexcept
    : name_(std::exchange(other.name_, MACH_PORT_NULL)),
      disposition_(std::exchange(other.disposition_, 0)) {}

reply_port& reply_port::operator=(reply_port&& other) noexcept {
  if (this != &other) {
    reset();
    name_ = std::exchange(other.name_, MACH_PORT_NULL);
    disposition_ = std::exchange(other.disposition_, 0);
  }
  return *this;
}

bool reply_port::is_send_once() const noexcept {
  return disposition_ == detail::disp_move_send_once && name_ != MACH_PORT_NULL;
}

bool reply_port::is_send() const noexcept {
  return disposition_ == detail::disp_move_send && name_ != MACH_PORT_NULL;
}

send_once_right reply_port::take_send_once() noexcept {
  if (!is_send_once()) return {};
  disposition_ = 0;
  return send_once_right::adopt(std::exchange(name_, MACH_PORT_NULL));
}

send_right reply_port::take_send() noexcept {
  if (!is_send()) return {};
  disposition_ = 0;
  return send_right::adopt(std::exchange(name_, MACH_PORT_NULL));
}

mach_port_name_t reply_port::release() noexcept {
  disposition_ = 0;
  return std::exchange(name_, MACH_PORT_NULL);
}

void reply_port::reset() noexcept {
  const mach_port_name_t name = std::exchange(name_, MACH_PORT_NULL);
  const auto disposition = static_cast<std::uint8_t>(std::exchange(disposition_, 0));
  if (MACH_PORT_VALID(name)) detail::release_port(name, disposition);
}

}  // namespace machport
