// Bootstrap rendezvous: a server checks a service name in, clients look it up.
//
// These call the bootstrap server of the calling task (`bootstrap_port`: launchd on macOS, the
// emulator's in-process namespace on Linux). Every error is in bootstrap_category(): the
// server's BOOTSTRAP_* codes, and the kern_return_t / mach_msg_return_t codes the calls also
// return (for example MACH_SEND_INVALID_DEST when the task has no bootstrap port). A name the
// server could not hold is refused before any call (see each function).
#pragma once

#include <machport/receive_right.hpp>
#include <machport/result.hpp>
#include <machport/send_right.hpp>

#include <cstddef>
#include <string_view>

namespace machport {

// The longest service name, in bytes: name_t holds BOOTSTRAP_MAX_NAME_LEN (128) characters
// with the terminating NUL.
inline constexpr std::size_t max_service_name_length = 127;

// Checks in `service_name` (bootstrap_check_in) and returns the receive right of the service's
// port; the bootstrap server keeps a send right, which clients get from bootstrap_look_up.
// Destroying the receive right ends the service (the name becomes unknown again).
// Errors (nothing is created): KERN_INVALID_ARGUMENT in kern_category() for a name longer than
// max_service_name_length or containing a NUL byte (refused without calling the server). In
// bootstrap_category(): BOOTSTRAP_SERVICE_ACTIVE (the name is checked in already, by this task
// or another), BOOTSTRAP_NOT_PRIVILEGED (the emulator: the name was registered with
// bootstrap_register; launchd: a name this process may not claim), and whatever else the
// server returns (other BOOTSTRAP_* codes, kern / mach_msg codes).
result<receive_right> bootstrap_check_in(std::string_view service_name);

// Returns a send right to the port checked in (or registered) as `service_name`
// (bootstrap_look_up). In the task that holds the service's receive right, the send right
// shares its name (receive_right and send_right then each own their own right).
// Errors (no right is added): KERN_INVALID_ARGUMENT in kern_category() as above;
// BOOTSTRAP_UNKNOWN_SERVICE (no such service, or its port was destroyed), or a kern / mach_msg
// code, in bootstrap_category().
result<send_right> bootstrap_look_up(std::string_view service_name);

}  // namespace machport
