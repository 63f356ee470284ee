// Timeouts for synchronous Mach calls.
#pragma once

#include <chrono>

namespace machport {

// Mach timeouts are in milliseconds (mach_msg_timeout_t). no_timeout waits forever;
// zero returns at once (MACH_SEND_TIMEOUT / MACH_RCV_TIMEOUT with 0).
inline constexpr std::chrono::milliseconds no_timeout = std::chrono::milliseconds::max();

}  // namespace machport
