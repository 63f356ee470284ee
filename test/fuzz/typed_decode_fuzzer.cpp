// libFuzzer harness: arbitrary bytes as a received message, decoded as one of several typed
// messages (every field kind). A decode must succeed only on an exact match and release
// everything otherwise; nothing may crash or hit undefined behaviour.
#include "fuzz_support.hpp"

#include <machport/typed.hpp>

#include <array>
#include <span>
#include <variant>

namespace {

enum class mode : std::uint8_t { a, b };

struct inline_only {
  static constexpr mach_msg_id_t id = 1;
  std::uint8_t a;
  std::uint64_t b;
  bool flag;
  mode m;
  std::array<char, 5> tag;
};

struct with_rights {
  static constexpr mach_msg_id_t id = 2;
  machport::send_right s;
  std::uint32_t n;
  machport::send_once_right so;
  machport::receive_right r;
};

struct with_memory {
  static constexpr mach_msg_id_t id = 3;
  machport::ool_buffer mem;
  std::uint16_t x;
  machport::send_right s;
};

struct empty {
  static constexpr mach_msg_id_t id = 4;
};

struct with_reply {
  static constexpr mach_msg_id_t id = 5;
  machport::reply_port reply;
  std::uint32_t n;
  machport::send_once_right so;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  machport_fuzz::dry_run hook;
  auto bytes = std::as_bytes(std::span(data, size));
  {
    auto r = machport::decode<std::variant<inline_only, with_rights, with_memory, empty>>(
        machport::message::adopt_received(bytes));
    (void)r;
  }
  {
    auto r = machport::decode<with_rights>(machport::message::adopt_received(bytes));
    (void)r;
  }
  {
    // Into a reused message, whose buffer may be larger than the bytes.
    static machport::message reused;
    reused.assign_received(bytes);
    auto r = machport::decode<with_reply>(reused);
    (void)r;
  }
  return 0;
}
