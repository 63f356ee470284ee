// Error categories: each message names the Mach constant so logs can be grepped.
#include <machport/error.hpp>

#include <cstdio>
#include <iterator>
#include <string>
#include <string_view>

namespace machport {
namespace {

struct entry {
  int value;
  const char* name;
};

const char* lookup(const entry* table, std::size_t n, int value) {
  for (std::size_t i = 0; i < n; ++i) {
    if (table[i].value == value) return table[i].name;
  }
  return nullptr;
}

std::string unknown(const char* what, int value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s 0x%x", what, static_cast<unsigned>(value));
  return buf;
}

constexpr entry kern_names[] = {
    {0, "KERN_SUCCESS"},
    {1, "KERN_INVALID_ADDRESS"},
    {2, "KERN_PROTECTION_FAILURE"},
    {3, "KERN_NO_SPACE"},
    {4, "KERN_INVALID_ARGUMENT"},
    {5, "KERN_FAILURE"},
    {6, "KERN_RESOURCE_SHORTAGE"},
    {7, "KERN_NOT_RECEIVER"},
    {8, "KERN_NO_ACCESS"},
    {9, "KERN_MEMORY_FAILURE"},
    {10, "KERN_MEMORY_ERROR"},
    {11, "KERN_ALREADY_IN_SET"},
    {12, "KERN_NOT_IN_SET"},
    {13, "KERN_NAME_EXISTS"},
    {14, "KERN_ABORTED"},
    {15, "KERN_INVALID_NAME"},
    {16, "KERN_INVALID_TASK"},
    {17, "KERN_INVALID_RIGHT"},
    {18, "KERN_INVALID_VALUE"},
    {19, "KERN_UREFS_OVERFLOW"},
    {20, "KERN_INVALID_CAPABILITY"},
    {21, "KERN_RIGHT_EXISTS"},
    {22, "KERN_INVALID_HOST"},
    {23, "KERN_MEMORY_PRESENT"},
    {24, "KERN_MEMORY_DATA_MOVED"},
    {25, "KERN_MEMORY_RESTART_COPY"},
    {26, "KERN_INVALID_PROCESSOR_SET"},
    {27, "KERN_POLICY_LIMIT"},
    {28, "KERN_INVALID_POLICY"},
    {29, "KERN_INVALID_OBJECT"},
    {30, "KERN_ALREADY_WAITING"},
    {31, "KERN_DEFAULT_SET"},
    {32, "KERN_EXCEPTION_PROTECTED"},
    {33, "KERN_INVALID_LEDGER"},
    {34, "KERN_INVALID_MEMORY_CONTROL"},
    {35, "KERN_INVALID_SECURITY"},
    {36, "KERN_NOT_DEPRESSED"},
    {37, "KERN_TERMINATED"},
    {38, "KERN_LOCK_SET_DESTROYED"},
    {39, "KERN_LOCK_UNSTABLE"},
    {40, "KERN_LOCK_OWNED"},
    {41, "KERN_LOCK_OWNED_SELF"},
    {42, "KERN_SEMAPHORE_DESTROYED"},
    {43, "KERN_RPC_SERVER_TERMINATED"},
    {44, "KERN_RPC_TERMINATE_ORPHAN"},
    {45, "KERN_RPC_CONTINUE_ORPHAN"},
    {46, "KERN_NOT_SUPPORTED"},
    {47, "KERN_NODE_DOWN"},
    {48, "KERN_NOT_WAITING"},
    {49, "KERN_OPERATION_TIMED_OUT"},
    {50, "KERN_CODESIGN_ERROR"},
    {51, "KERN_POLICY_STATIC"},
    {52, "KERN_INSUFFICIENT_BUFFER_SIZE"},
    {53, "KERN_DENIED"},
    {54, "KERN_MISSING_KC"},
    {55, "KERN_INVALID_KC"},
    {56, "KERN_NOT_FOUND"},
    {-300, "MIG_TYPE_ERROR"},
    {-301, "MIG_REPLY_MISMATCH"},
    {-302, "MIG_REMOTE_ERROR"},
    {-303, "MIG_BAD_ID"},
    {-304, "MIG_BAD_ARGUMENTS"},
    {-305, "MIG_NO_REPLY"},
    {-306, "MIG_EXCEPTION"},
    {-307, "MIG_ARRAY_TOO_LARGE"},
    {-308, "MIG_SERVER_DIED"},
    {-309, "MIG_TRAILER_ERROR"},
};

constexpr entry msg_names[] = {
    {0x00000000, "MACH_MSG_SUCCESS"},
    {0x10000001, "MACH_SEND_IN_PROGRESS"},
    {0x10000002, "MACH_SEND_INVALID_DATA"},
    {0x10000003, "MACH_SEND_INVALID_DEST"},
    {0x10000004, "MACH_SEND_TIMED_OUT"},
    {0x10000005, "MACH_SEND_INVALID_VOUCHER"},
    {0x10000007, "MACH_SEND_INTERRUPTED"},
    {0x10000008, "MACH_SEND_MSG_TOO_SMALL"},
    {0x10000009, "MACH_SEND_INVALID_REPLY"},
    {0x1000000a, "MACH_SEND_INVALID_RIGHT"},
    {0x1000000b, "MACH_SEND_INVALID_NOTIFY"},
    {0x1000000c, "MACH_SEND_INVALID_MEMORY"},
    {0x1000000d, "MACH_SEND_NO_BUFFER"},
    {0x1000000e, "MACH_SEND_TOO_LARGE"},
    {0x1000000f, "MACH_SEND_INVALID_TYPE"},
    {0x10000010, "MACH_SEND_INVALID_HEADER"},
    {0x10000011, "MACH_SEND_INVALID_TRAILER"},
    {0x10000012, "MACH_SEND_INVALID_CONTEXT"},
    {0x10000013, "MACH_SEND_INVALID_OPTIONS"},
    {0x10000015, "MACH_SEND_INVALID_RT_OOL_SIZE"},
    {0x10000016, "MACH_SEND_NO_GRANT_DEST"},
    {0x10000017, "MACH_SEND_MSG_FILTERED"},
    {0x10000018, "MACH_SEND_AUX_TOO_SMALL"},
    {0x10000019, "MACH_SEND_AUX_TOO_LARGE"},
    {0x10004001, "MACH_RCV_IN_PROGRESS"},
    {0x10004002, "MACH_RCV_INVALID_NAME"},
    {0x10004003, "MACH_RCV_TIMED_OUT"},
    {0x10004004, "MACH_RCV_TOO_LARGE"},
    {0x10004005, "MACH_RCV_INTERRUPTED"},
    {0x10004006, "MACH_RCV_PORT_CHANGED"},
    {0x10004007, "MACH_RCV_INVALID_NOTIFY"},
    {0x10004008, "MACH_RCV_INVALID_DATA"},
    {0x10004009, "MACH_RCV_PORT_DIED"},
    {0x1000400a, "MACH_RCV_IN_SET"},
    {0x1000400b, "MACH_RCV_HEADER_ERROR"},
    {0x1000400c, "MACH_RCV_BODY_ERROR"},
    {0x1000400d, "MACH_RCV_INVALID_TYPE"},
    {0x1000400e, "MACH_RCV_SCATTER_SMALL"},
    {0x1000400f, "MACH_RCV_INVALID_TRAILER"},
    {0x10004011, "MACH_RCV_IN_PROGRESS_TIMED"},
    {0x10004012, "MACH_RCV_INVALID_REPLY"},
    {0x10004013, "MACH_RCV_INVALID_ARGUMENTS"},
};

constexpr entry msg_bits[] = {
    {0x2000, "MACH_MSG_IPC_SPACE"},
    {0x1000, "MACH_MSG_VM_SPACE"},
    {0x0800, "MACH_MSG_IPC_KERNEL"},
    {0x0400, "MACH_MSG_VM_KERNEL"},
};
constexpr int msg_mask = 0x3e00;

constexpr entry bootstrap_names[] = {
    {0, "BOOTSTRAP_SUCCESS"},
    {1100, "BOOTSTRAP_NOT_PRIVILEGED"},
    {1101, "BOOTSTRAP_NAME_IN_USE"},
    {1102, "BOOTSTRAP_UNKNOWN_SERVICE"},
    {1103, "BOOTSTRAP_SERVICE_ACTIVE"},
    {1104, "BOOTSTRAP_BAD_COUNT"},
    {1105, "BOOTSTRAP_NO_MEMORY"},
    {1106, "BOOTSTRAP_NO_CHILDREN"},
};

constexpr const char* message_names[] = {
    "success",
    "message object is empty",
    "bad header size",
    "bad header bits",
    "descriptor count does not fit the message",
    "descriptor runs past the end of the message",
    "unknown descriptor type",
    "invalid right disposition",
    "invalid out-of-line memory descriptor",
    "trailer runs past the received buffer",
    "unexpected message id",
    "unexpected message size",
    "unexpected descriptor count",
    "unexpected descriptor type or disposition",
    "unexpected COMPLEX bit",
};

template <std::size_t N>
constexpr std::size_t count(const entry (&)[N]) {
  return N;
}

class kern_category_impl final : public boost::system::error_category {
 public:
  constexpr kern_category_impl() noexcept : error_category(0x6d61636870727431ULL) {}
  const char* name() const noexcept override { return "mach.kern"; }
  std::string message(int ev) const override {
    if (const char* n = lookup(kern_names, count(kern_names), ev)) return n;
    return unknown("kern_return_t", ev);
  }
  boost::system::error_condition default_error_condition(int ev) const noexcept override {
    namespace errc = boost::system::errc;
    switch (ev) {
      case 4: return errc::make_error_condition(errc::invalid_argument);    // INVALID_ARGUMENT
      case 6: return errc::make_error_condition(errc::not_enough_memory);   // RESOURCE_SHORTAGE
      case 46: return errc::make_error_condition(errc::not_supported);      // NOT_SUPPORTED
      case 49: return errc::make_error_condition(errc::timed_out);          // OPERATION_TIMED_OUT
      case 53: return errc::make_error_condition(errc::permission_denied);  // DENIED
      default: return {ev, *this};
    }
  }
};

class msg_category_impl final : public boost::system::error_category {
 public:
  constexpr msg_category_impl() noexcept : error_category(0x6d61636870727432ULL) {}
  const char* name() const noexcept override { return "mach.msg"; }
  std::string message(int ev) const override {
    const int base = ev & ~msg_mask;
    std::string out;
    if (const char* n = lookup(msg_names, count(msg_names), base)) {
      out = n;
    } else {
      out = unknown("mach_msg_return_t", base);
    }
    for (const entry& bit : msg_bits) {
      if (ev & bit.value) {
        out += '|';
        out += bit.name;
      }
    }
    return out;
  }
  boost::system::error_condition default_error_condition(int ev) const noexcept override {
    namespace errc = boost::system::errc;
    switch (ev & ~msg_mask) {
      case 0x10000004:  // MACH_SEND_TIMED_OUT
      case 0x10004003:  // MACH_RCV_TIMED_OUT
        return errc::make_error_condition(errc::timed_out);
      case 0x10000007:  // MACH_SEND_INTERRUPTED
      case 0x10004005:  // MACH_RCV_INTERRUPTED
        return errc::make_error_condition(errc::interrupted);
      default:
        return {ev, *this};
    }
  }
};

class bootstrap_category_impl final : public boost::system::error_category {
 public:
  constexpr bootstrap_category_impl() noexcept : error_category(0x6d61636870727433ULL) {}
  const char* name() const noexcept override { return "mach.bootstrap"; }
  std::string message(int ev) const override {
    if (const char* n = lookup(bootstrap_names, count(bootstrap_names), ev)) return n;
    // bootstrap calls also return kern_return_t and mach_msg_return_t codes.
    if (const char* n = lookup(kern_names, count(kern_names), ev)) return n;
    if (const char* n = lookup(msg_names, count(msg_names), ev & ~msg_mask)) return n;
    return unknown("bootstrap error", ev);
  }
};

class message_category_impl final : public boost::system::error_category {
 public:
  constexpr message_category_impl() noexcept : error_category(0x6d61636870727434ULL) {}
  const char* name() const noexcept override { return "machport.message"; }
  std::string message(int ev) const override {
    if (ev >= 0 && static_cast<std::size_t>(ev) < std::size(message_names)) return message_names[ev];
    return unknown("machport message error", ev);
  }
};

const kern_category_impl kern_instance;
const msg_category_impl msg_instance;
const bootstrap_category_impl bootstrap_instance;
const message_category_impl message_instance;

}  // namespace

const boost::system::error_category& kern_category() noexcept { return kern_instance; }
const boost::system::error_category& msg_category() noexcept { return msg_instance; }
const boost::system::error_category& bootstrap_category() noexcept { return bootstrap_instance; }
const boost::system::error_category& message_category() noexcept { return message_instance; }

}  // namespace machport
