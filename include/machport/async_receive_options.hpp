// Options of an asynchronous receive (basic_receive_port, basic_receive_port_set).
#pragma once

#include <machport/receive.hpp>
#include <machport/trailer.hpp>

#include <cstddef>

namespace machport {

// The synchronous receive_options without a timeout: an asynchronous receive waits until a
// message comes or the operation is cancelled (bind a cancellation slot, or race a timer with
// awaitable operators / parallel_group to time it out).
struct async_receive_options {
  // The trailer the kernel appends; the default carries the sender's audit token and the
  // port context.
  trailer_level trailer = trailer_level::context;
  // Smallest first buffer size in bytes, trailer included, when the operation has no message
  // storage of its own. A larger message is never dropped (MACH_RCV_LARGE: the buffer grows to
  // the size the kernel reports and the receive is retried).
  std::size_t buffer_size = 1024;
  // MACH_RCV_GUARDED_DESC, as in receive_options.
  bool guarded_descriptors = false;

  // The matching synchronous options, polling (timeout zero).
  receive_options polling() const noexcept {
    receive_options o;
    o.timeout = std::chrono::milliseconds::zero();
    o.trailer = trailer;
    o.buffer_size = buffer_size;
    o.guarded_descriptors = guarded_descriptors;
    return o;
  }
};

}  // namespace machport
