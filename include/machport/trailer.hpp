// The trailer the kernel appends to a received message: which one to ask for, and how to read it.
#pragma once

#include <machport/detail/platform.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include <sys/types.h>  // pid_t, uid_t, gid_t

namespace machport {

// Which trailer a receive asks the kernel for (MACH_RCV_TRAILER_ELEMENTS). Each level
// includes the previous ones.
enum class trailer_level : std::uint8_t {
  none = 0,      //  8 bytes: type and size only
  seqno = 1,     // 12 bytes: + sequence number
  sender = 2,    // 20 bytes: + security token (uid, gid)
  audit = 3,     // 52 bytes: + audit token (pid, euid, egid, ...)
  context = 4,   // 60 bytes: + the receiving port's context
  all = 7,       // 68 bytes: + (always zero) MAC fields
};

// The number of bytes the kernel writes for `level`.
constexpr std::size_t trailer_size(trailer_level level) noexcept {
  switch (level) {
    case trailer_level::none: return sizeof(mach_msg_trailer_t);
    case trailer_level::seqno: return sizeof(mach_msg_seqno_trailer_t);
    case trailer_level::sender: return sizeof(mach_msg_security_trailer_t);
    case trailer_level::audit: return sizeof(mach_msg_audit_trailer_t);
    case trailer_level::context: return sizeof(mach_msg_context_trailer_t);
    default: return sizeof(mach_msg_max_trailer_t);
  }
}
static_assert(trailer_size(trailer_level::none) == 8 &&
              trailer_size(trailer_level::seqno) == 12 &&
              trailer_size(trailer_level::sender) == 20 &&
              trailer_size(trailer_level::audit) == 52 &&
              trailer_size(trailer_level::context) == 60 &&
              trailer_size(trailer_level::all) == 68);

// The sender's audit token (TASK_AUDIT_TOKEN): val[0] auid, [1] euid, [2] egid, [3] ruid,
// [4] rgid, [5] pid, [6] asid, [7] pid version. All zero for the kernel.
struct audit_token {
  std::array<std::uint32_t, 8> val{};
  pid_t pid() const noexcept { return static_cast<pid_t>(val[5]); }
  uid_t euid() const noexcept { return static_cast<uid_t>(val[1]); }
  gid_t egid() const noexcept { return static_cast<gid_t>(val[2]); }
  uid_t ruid() const noexcept { return static_cast<uid_t>(val[3]); }
  gid_t rgid() const noexcept { return static_cast<gid_t>(val[4]); }
  std::uint32_t pid_version() const noexcept { return val[7]; }
  bool is_kernel() const noexcept {
    for (auto v : val) if (v != 0) return false;
    return true;
  }
};

// Read access to the trailer the kernel appended. Each accessor returns nullopt if the
// trailer received is too short to hold the field (the receive asked for a lower level).
class trailer_view {
 public:
  trailer_view() noexcept = default;
  trailer_view(const std::byte* data, std::size_t size) noexcept : data_(data), size_(size) {}
  std::size_t size() const noexcept { return size_; }
  std::optional<mach_port_seqno_t> seqno() const noexcept;
  // The security token: {uid, gid} of the sender ({0, 1} for the kernel).
  std::optional<std::array<std::uint32_t, 2>> sender() const noexcept;
  std::optional<audit_token> audit() const noexcept;
  // The receiving port's context (its guard when guarded) at dequeue time.
  std::optional<mach_port_context_t> context() const noexcept;

 private:
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace machport
