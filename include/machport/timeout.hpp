// Timeouts for synchronous Mach calls.
#pragma once

#include <machport/detail/platform.hpp>

#include <algorithm>
#include <chrono>
#include <limits>

namespace machport {

// Mach timeouts are in milliseconds (mach_msg_timeout_t). no_timeout waits forever;
// zero returns at once (MACH_SEND_TIMEOUT / MACH_RCV_TIMEOUT with 0).
inline constexpr std::chrono::milliseconds no_timeout = std::chrono::milliseconds::max();

namespace detail {

// The longest timeout mach_msg takes (MACH_MSG_TIMEOUT_NONE, 0, is a poll).
inline constexpr std::chrono::milliseconds max_mach_timeout{
    std::numeric_limits<mach_msg_timeout_t>::max() - 1};

// `t` clamped to what mach_msg can wait: [0, max_mach_timeout].
constexpr std::chrono::milliseconds clamp_timeout(std::chrono::milliseconds t) noexcept {
  return std::clamp(t, std::chrono::milliseconds::zero(), max_mach_timeout);
}

// When a receive with timeout `t` started at `now` gives up (time_point::max() for
// no_timeout). Clamped first: a timeout near milliseconds::max() would overflow the clock's
// nanoseconds and put the deadline in the past.
inline std::chrono::steady_clock::time_point receive_deadline(
    std::chrono::steady_clock::time_point now, std::chrono::milliseconds t) noexcept {
  return t == no_timeout ? std::chrono::steady_clock::time_point::max() : now + clamp_timeout(t);
}

}  // namespace detail

}  // namespace machport
