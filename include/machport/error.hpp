// Error codes for Mach calls: boost::system categories that name the Mach constant.
//
// Three Mach code spaces share small integers, so each gets its own category:
//  - kern_category():      kern_return_t (KERN_*, and MIG_* codes returned by MIG routines);
//  - msg_category():       mach_msg_return_t (MACH_SEND_*, MACH_RCV_*), keeping the
//                          MACH_MSG_IPC_SPACE / VM_SPACE / IPC_KERNEL / VM_KERNEL bits in the
//                          value and in the message ("MACH_RCV_BODY_ERROR|MACH_MSG_IPC_SPACE");
//  - bootstrap_category(): BOOTSTRAP_* results of the bootstrap server.
// message_errc is machport's own: a received message that is malformed or does not match
// what the caller expected (parse and typed decode).
#pragma once

#include <machport/detail/platform.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <type_traits>

namespace machport {

const boost::system::error_category& kern_category() noexcept;
const boost::system::error_category& msg_category() noexcept;
const boost::system::error_category& bootstrap_category() noexcept;
const boost::system::error_category& message_category() noexcept;

// Returns a code in kern_category(); KERN_SUCCESS gives a code that tests false.
inline boost::system::error_code make_kern_error(kern_return_t kr) noexcept {
  return {static_cast<int>(kr), kern_category()};
}
// Returns a code in msg_category(); the MACH_MSG_* bits stay in the value.
inline boost::system::error_code make_msg_error(mach_msg_return_t mr) noexcept {
  return {static_cast<int>(mr), msg_category()};
}
// Returns a code in bootstrap_category().
inline boost::system::error_code make_bootstrap_error(kern_return_t kr) noexcept {
  return {static_cast<int>(kr), bootstrap_category()};
}

// Why parse, a typed decode or send refused a message. A message in the wrong state for the
// call (empty_message; bad_header_bits for an outgoing message given to parse or decode, or a
// received one given to send) is left untouched: it still owns everything it carried. For
// every other error the message was a received one, and every right and region it carried
// has been released (for a malformed message, as far as it can be located: see parse).
enum class message_errc {
  success = 0,
  empty_message = 1,          // the message object holds nothing (moved from, or consumed)
  bad_header_size,            // msgh_size < 24, not a multiple of 4, or past the buffer
  // A received message whose reply disposition is not a send / send-once right (released),
  // or a message in the wrong state: outgoing for parse / decode, received for send (untouched).
  bad_header_bits,
  bad_descriptor_count,       // COMPLEX with a count that cannot fit in msgh_size
  descriptor_past_end,        // a descriptor runs past msgh_size
  unknown_descriptor_type,    // descriptor type > MACH_MSG_GUARDED_PORT_DESCRIPTOR
  bad_disposition,            // a right with a disposition a receiver cannot hold
  bad_ool_descriptor,         // OOL memory: address/size inconsistent (null address, size > 0)
  bad_trailer,                // trailer size past the received buffer
  unexpected_id,              // typed decode: msgh_id is not the type's id
  unexpected_size,            // typed decode: inline body size differs from the layout
  unexpected_descriptor_count,// typed decode: number of descriptors differs
  unexpected_descriptor,      // typed decode: descriptor of another type or disposition
  unexpected_complex_bit,     // typed decode: COMPLEX bit differs from the layout
  bad_bool_value,             // typed decode: a top-level bool field holds a byte other than 0 or 1
  not_from_kernel,            // a checked notification decode: the sender is not the kernel
  last_ = not_from_kernel,  // not an error: the highest value, for the name table
};

inline boost::system::error_code make_error_code(message_errc e) noexcept {
  return {static_cast<int>(e), message_category()};
}

}  // namespace machport

namespace boost::system {
template <>
struct is_error_code_enum<machport::message_errc> : std::true_type {};
}  // namespace boost::system
