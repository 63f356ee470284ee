// Error categories: each message names the Mach constant so logs can be grepped.
#include <machport/error.hpp>

#include <servers/bootstrap.h>
#include <mach/mig_errors.h>

#include <cstdio>
#include <iterator>
#include <string>
#include <string_view>

namespace machport {
namespace {

// A Mach constant and its name. The tables below are keyed by the SDK's own constants.
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
    {KERN_SUCCESS, "KERN_SUCCESS"},
    {KERN_INVALID_ADDRESS, "KERN_INVALID_ADDRESS"},
    {KERN_PROTECTION_FAILURE, "KERN_PROTECTION_FAILURE"},
    {KERN_NO_SPACE, "KERN_NO_SPACE"},
    {KERN_INVALID_ARGUMENT, "KERN_INVALID_ARGUMENT"},
    {KERN_FAILURE, "KERN_FAILURE"},
    {KERN_RESOURCE_SHORTAGE, "KERN_RESOURCE_SHORTAGE"},
    {KERN_NOT_RECEIVER, "KERN_NOT_RECEIVER"},
    {KERN_NO_ACCESS, "KERN_NO_ACCESS"},
    {KERN_MEMORY_FAILURE, "KERN_MEMORY_FAILURE"},
    {KERN_MEMORY_ERROR, "KERN_MEMORY_ERROR"},
    {KERN_ALREADY_IN_SET, "KERN_ALREADY_IN_SET"},
    {KERN_NOT_IN_SET, "KERN_NOT_IN_SET"},
    {KERN_NAME_EXISTS, "KERN_NAME_EXISTS"},
    {KERN_ABORTED, "KERN_ABORTED"},
    {KERN_INVALID_NAME, "KERN_INVALID_NAME"},
    {KERN_INVALID_TASK, "KERN_INVALID_TASK"},
    {KERN_INVALID_RIGHT, "KERN_INVALID_RIGHT"},
    {KERN_INVALID_VALUE, "KERN_INVALID_VALUE"},
    {KERN_UREFS_OVERFLOW, "KERN_UREFS_OVERFLOW"},
    {KERN_INVALID_CAPABILITY, "KERN_INVALID_CAPABILITY"},
    {KERN_RIGHT_EXISTS, "KERN_RIGHT_EXISTS"},
    {KERN_INVALID_HOST, "KERN_INVALID_HOST"},
    {KERN_MEMORY_PRESENT, "KERN_MEMORY_PRESENT"},
    {KERN_MEMORY_DATA_MOVED, "KERN_MEMORY_DATA_MOVED"},
    {KERN_MEMORY_RESTART_COPY, "KERN_MEMORY_RESTART_COPY"},
    {KERN_INVALID_PROCESSOR_SET, "KERN_INVALID_PROCESSOR_SET"},
    {KERN_POLICY_LIMIT, "KERN_POLICY_LIMIT"},
    {KERN_INVALID_POLICY, "KERN_INVALID_POLICY"},
    {KERN_INVALID_OBJECT, "KERN_INVALID_OBJECT"},
    {KERN_ALREADY_WAITING, "KERN_ALREADY_WAITING"},
    {KERN_DEFAULT_SET, "KERN_DEFAULT_SET"},
    {KERN_EXCEPTION_PROTECTED, "KERN_EXCEPTION_PROTECTED"},
    {KERN_INVALID_LEDGER, "KERN_INVALID_LEDGER"},
    {KERN_INVALID_MEMORY_CONTROL, "KERN_INVALID_MEMORY_CONTROL"},
    {KERN_INVALID_SECURITY, "KERN_INVALID_SECURITY"},
    {KERN_NOT_DEPRESSED, "KERN_NOT_DEPRESSED"},
    {KERN_TERMINATED, "KERN_TERMINATED"},
    {KERN_LOCK_SET_DESTROYED, "KERN_LOCK_SET_DESTROYED"},
    {KERN_LOCK_UNSTABLE, "KERN_LOCK_UNSTABLE"},
    {KERN_LOCK_OWNED, "KERN_LOCK_OWNED"},
    {KERN_LOCK_OWNED_SELF, "KERN_LOCK_OWNED_SELF"},
    {KERN_SEMAPHORE_DESTROYED, "KERN_SEMAPHORE_DESTROYED"},
    {KERN_RPC_SERVER_TERMINATED, "KERN_RPC_SERVER_TERMINATED"},
    {KERN_RPC_TERMINATE_ORPHAN, "KERN_RPC_TERMINATE_ORPHAN"},
    {KERN_RPC_CONTINUE_ORPHAN, "KERN_RPC_CONTINUE_ORPHAN"},
    {KERN_NOT_SUPPORTED, "KERN_NOT_SUPPORTED"},
    {KERN_NODE_DOWN, "KERN_NODE_DOWN"},
    {KERN_NOT_WAITING, "KERN_NOT_WAITING"},
    {KERN_OPERATION_TIMED_OUT, "KERN_OPERATION_TIMED_OUT"},
    {KERN_CODESIGN_ERROR, "KERN_CODESIGN_ERROR"},
    {KERN_POLICY_STATIC, "KERN_POLICY_STATIC"},
    {KERN_INSUFFICIENT_BUFFER_SIZE, "KERN_INSUFFICIENT_BUFFER_SIZE"},
    {KERN_DENIED, "KERN_DENIED"},
    {KERN_MISSING_KC, "KERN_MISSING_KC"},
    {KERN_INVALID_KC, "KERN_INVALID_KC"},
    {KERN_NOT_FOUND, "KERN_NOT_FOUND"},
    {MIG_TYPE_ERROR, "MIG_TYPE_ERROR"},
    {MIG_REPLY_MISMATCH, "MIG_REPLY_MISMATCH"},
    {MIG_REMOTE_ERROR, "MIG_REMOTE_ERROR"},
    {MIG_BAD_ID, "MIG_BAD_ID"},
    {MIG_BAD_ARGUMENTS, "MIG_BAD_ARGUMENTS"},
    {MIG_NO_REPLY, "MIG_NO_REPLY"},
    {MIG_EXCEPTION, "MIG_EXCEPTION"},
    {MIG_ARRAY_TOO_LARGE, "MIG_ARRAY_TOO_LARGE"},
    {MIG_SERVER_DIED, "MIG_SERVER_DIED"},
    {MIG_TRAILER_ERROR, "MIG_TRAILER_ERROR"},
};

constexpr entry msg_names[] = {
    {MACH_MSG_SUCCESS, "MACH_MSG_SUCCESS"},
    {MACH_SEND_IN_PROGRESS, "MACH_SEND_IN_PROGRESS"},
    {MACH_SEND_INVALID_DATA, "MACH_SEND_INVALID_DATA"},
    {MACH_SEND_INVALID_DEST, "MACH_SEND_INVALID_DEST"},
    {MACH_SEND_TIMED_OUT, "MACH_SEND_TIMED_OUT"},
    {MACH_SEND_INVALID_VOUCHER, "MACH_SEND_INVALID_VOUCHER"},
    {MACH_SEND_INTERRUPTED, "MACH_SEND_INTERRUPTED"},
    {MACH_SEND_MSG_TOO_SMALL, "MACH_SEND_MSG_TOO_SMALL"},
    {MACH_SEND_INVALID_REPLY, "MACH_SEND_INVALID_REPLY"},
    {MACH_SEND_INVALID_RIGHT, "MACH_SEND_INVALID_RIGHT"},
    {MACH_SEND_INVALID_NOTIFY, "MACH_SEND_INVALID_NOTIFY"},
    {MACH_SEND_INVALID_MEMORY, "MACH_SEND_INVALID_MEMORY"},
    {MACH_SEND_NO_BUFFER, "MACH_SEND_NO_BUFFER"},
    {MACH_SEND_TOO_LARGE, "MACH_SEND_TOO_LARGE"},
    {MACH_SEND_INVALID_TYPE, "MACH_SEND_INVALID_TYPE"},
    {MACH_SEND_INVALID_HEADER, "MACH_SEND_INVALID_HEADER"},
    {MACH_SEND_INVALID_TRAILER, "MACH_SEND_INVALID_TRAILER"},
    {MACH_SEND_INVALID_CONTEXT, "MACH_SEND_INVALID_CONTEXT"},
    {MACH_SEND_INVALID_OPTIONS, "MACH_SEND_INVALID_OPTIONS"},
    {MACH_SEND_INVALID_RT_OOL_SIZE, "MACH_SEND_INVALID_RT_OOL_SIZE"},
    {MACH_SEND_NO_GRANT_DEST, "MACH_SEND_NO_GRANT_DEST"},
    {MACH_SEND_MSG_FILTERED, "MACH_SEND_MSG_FILTERED"},
    {MACH_SEND_AUX_TOO_SMALL, "MACH_SEND_AUX_TOO_SMALL"},
    {MACH_SEND_AUX_TOO_LARGE, "MACH_SEND_AUX_TOO_LARGE"},
    {MACH_RCV_IN_PROGRESS, "MACH_RCV_IN_PROGRESS"},
    {MACH_RCV_INVALID_NAME, "MACH_RCV_INVALID_NAME"},
    {MACH_RCV_TIMED_OUT, "MACH_RCV_TIMED_OUT"},
    {MACH_RCV_TOO_LARGE, "MACH_RCV_TOO_LARGE"},
    {MACH_RCV_INTERRUPTED, "MACH_RCV_INTERRUPTED"},
    {MACH_RCV_PORT_CHANGED, "MACH_RCV_PORT_CHANGED"},
    {MACH_RCV_INVALID_NOTIFY, "MACH_RCV_INVALID_NOTIFY"},
    {MACH_RCV_INVALID_DATA, "MACH_RCV_INVALID_DATA"},
    {MACH_RCV_PORT_DIED, "MACH_RCV_PORT_DIED"},
    {MACH_RCV_IN_SET, "MACH_RCV_IN_SET"},
    {MACH_RCV_HEADER_ERROR, "MACH_RCV_HEADER_ERROR"},
    {MACH_RCV_BODY_ERROR, "MACH_RCV_BODY_ERROR"},
    {MACH_RCV_INVALID_TYPE, "MACH_RCV_INVALID_TYPE"},
    {MACH_RCV_SCATTER_SMALL, "MACH_RCV_SCATTER_SMALL"},
    {MACH_RCV_INVALID_TRAILER, "MACH_RCV_INVALID_TRAILER"},
    {MACH_RCV_IN_PROGRESS_TIMED, "MACH_RCV_IN_PROGRESS_TIMED"},
    {MACH_RCV_INVALID_REPLY, "MACH_RCV_INVALID_REPLY"},
    {MACH_RCV_INVALID_ARGUMENTS, "MACH_RCV_INVALID_ARGUMENTS"},
};

constexpr entry msg_bits[] = {
    {MACH_MSG_IPC_SPACE, "MACH_MSG_IPC_SPACE"},
    {MACH_MSG_VM_SPACE, "MACH_MSG_VM_SPACE"},
    {MACH_MSG_IPC_KERNEL, "MACH_MSG_IPC_KERNEL"},
    {MACH_MSG_VM_KERNEL, "MACH_MSG_VM_KERNEL"},
};
constexpr int msg_mask = MACH_MSG_MASK;
static_assert(MACH_MSG_MASK == 0x3e00);

constexpr entry bootstrap_names[] = {
    {BOOTSTRAP_SUCCESS, "BOOTSTRAP_SUCCESS"},
    {BOOTSTRAP_NOT_PRIVILEGED, "BOOTSTRAP_NOT_PRIVILEGED"},
    {BOOTSTRAP_NAME_IN_USE, "BOOTSTRAP_NAME_IN_USE"},
    {BOOTSTRAP_UNKNOWN_SERVICE, "BOOTSTRAP_UNKNOWN_SERVICE"},
    {BOOTSTRAP_SERVICE_ACTIVE, "BOOTSTRAP_SERVICE_ACTIVE"},
    {BOOTSTRAP_BAD_COUNT, "BOOTSTRAP_BAD_COUNT"},
    {BOOTSTRAP_NO_MEMORY, "BOOTSTRAP_NO_MEMORY"},
    {BOOTSTRAP_NO_CHILDREN, "BOOTSTRAP_NO_CHILDREN"},
};

struct message_entry {
  message_errc value;
  const char* text;
};
// Indexed by message_errc: entry i names value i (checked below).
constexpr message_entry message_names[] = {
    {message_errc::success, "success"},
    {message_errc::empty_message, "message object is empty"},
    {message_errc::bad_header_size, "bad header size"},
    {message_errc::bad_header_bits, "bad header bits"},
    {message_errc::bad_descriptor_count, "descriptor count does not fit the message"},
    {message_errc::descriptor_past_end, "descriptor runs past the end of the message"},
    {message_errc::unknown_descriptor_type, "unknown descriptor type"},
    {message_errc::bad_disposition, "invalid right disposition"},
    {message_errc::bad_ool_descriptor, "invalid out-of-line memory descriptor"},
    {message_errc::bad_trailer, "trailer runs past the received buffer"},
    {message_errc::unexpected_id, "unexpected message id"},
    {message_errc::unexpected_size, "unexpected message size"},
    {message_errc::unexpected_descriptor_count, "unexpected descriptor count"},
    {message_errc::unexpected_descriptor, "unexpected descriptor type or disposition"},
    {message_errc::unexpected_complex_bit, "unexpected COMPLEX bit"},
    {message_errc::bad_bool_value, "bool field holds a byte other than 0 or 1"},
    {message_errc::not_from_kernel, "message was not sent by the kernel"},
};
constexpr bool message_names_complete() {
  std::size_t i = 0;
  for (const auto& e : message_names) {
    if (static_cast<std::size_t>(e.value) != i++) return false;
  }
  return i == static_cast<std::size_t>(message_errc::last_) + 1;
}
static_assert(message_names_complete(), "every message_errc has a name, in order");

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
      case KERN_INVALID_ARGUMENT: return errc::make_error_condition(errc::invalid_argument);
      case KERN_RESOURCE_SHORTAGE: return errc::make_error_condition(errc::not_enough_memory);
      case KERN_NOT_SUPPORTED: return errc::make_error_condition(errc::not_supported);
      case KERN_OPERATION_TIMED_OUT: return errc::make_error_condition(errc::timed_out);
      case KERN_DENIED: return errc::make_error_condition(errc::permission_denied);
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
      case MACH_SEND_TIMED_OUT:
      case MACH_RCV_TIMED_OUT:
        return errc::make_error_condition(errc::timed_out);
      case MACH_SEND_INTERRUPTED:
      case MACH_RCV_INTERRUPTED:
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
    if (ev >= 0 && static_cast<std::size_t>(ev) < std::size(message_names)) return message_names[ev].text;
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
