// reply_port: the reply right of a message, carried in its header rather than in a descriptor.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/receive_right.hpp>
#include <machport/send_once_right.hpp>
#include <machport/send_right.hpp>

#include <cstdint>

namespace machport {

// The reply right of a typed message (a field of this type, at most one per message). On send
// it goes into msgh_local_port, so that a request/reply costs what hand-written code costs:
// make_send_once() lets the kernel make the send-once right in the send itself (no kernel call
// of its own, no descriptor, and the message is not complex). On receipt decode fills it with
// the right the header carried (msgh_remote_port): send-once or send, owned; empty if none.
//
// Move-only. An owned right is released when the object is destroyed unsent (a send-once right
// is deallocated: the port gets a send-once notification); a borrowed one (make_send_once) is
// not, and its receive right must outlive the send.
class reply_port {
 public:
  reply_port() noexcept = default;
  // MOVE_SEND_ONCE / MOVE_SEND: the right moves into the message.
  reply_port(send_once_right&& r) noexcept;  // NOLINT(google-explicit-constructor)
  reply_port(send_right&& r) noexcept;       // NOLINT(google-explicit-constructor)
  // MAKE_SEND_ONCE from `port`, which is borrowed.
  static reply_port make_send_once(const receive_right& port) noexcept;
  // Takes ownership of `name` holding a right of the kind MACH_MSG_TYPE_MOVE_SEND /
  // _MOVE_SEND_ONCE (= PORT_SEND / PORT_SEND_ONCE) says; other dispositions are not owned.
  static reply_port adopt(mach_port_name_t name, mach_msg_type_name_t disposition) noexcept;

  ~reply_port() { reset(); }
  reply_port(const reply_port&) = delete;
  reply_port& operator=(const reply_port&) = delete;
  reply_port(reply_port&& other) noexcept;
  reply_port& operator=(reply_port&& other) noexcept;

  mach_port_name_t name() const noexcept { return name_; }
  // The header disposition: MACH_MSG_TYPE_MOVE_SEND_ONCE, _MOVE_SEND, _MAKE_SEND_ONCE, or 0.
  mach_msg_type_name_t disposition() const noexcept { return disposition_; }
  bool valid() const noexcept { return MACH_PORT_VALID(name_) && disposition_ != 0; }
  explicit operator bool() const noexcept { return valid(); }
  bool is_send_once() const noexcept;  // an owned send-once right
  bool is_send() const noexcept;       // an owned send right

  // Takes the owned right out (empty if this holds another kind, or nothing).
  send_once_right take_send_once() noexcept;
  send_right take_send() noexcept;
  // Gives up ownership: returns the name; the caller now owns what disposition() said.
  [[nodiscard]] mach_port_name_t release() noexcept;
  // Releases an owned right; the object becomes empty.
  void reset() noexcept;

 private:
  mach_port_name_t name_ = MACH_PORT_NULL;
  mach_msg_type_name_t disposition_ = 0;
};

}  // namespace machport
