// Synchronous receive.
#pragma once

#include <machport/message.hpp>
#include <machport/port_set.hpp>
#include <machport/receive_right.hpp>
#include <machport/result.hpp>
#include <machport/timeout.hpp>
#include <machport/trailer.hpp>

#include <chrono>
#include <cstddef>

namespace machport {

struct receive_options {
  // How long to wait for a message. no_timeout blocks; zero (or negative) polls; anything
  // longer than mach_msg can wait (2^32 - 2 ms, about 49.7 days) waits that long.
  std::chrono::milliseconds timeout = no_timeout;
  // The trailer the kernel appends; the default carries the sender's audit token and the
  // port context.
  trailer_level trailer = trailer_level::context;
  // Smallest first buffer size, in bytes, including the trailer. Larger messages are never
  // dropped: the receive uses MACH_RCV_LARGE, grows the buffer to the size the kernel reports
  // and retries (the queue head may have changed meanwhile; the retry takes whatever is first).
  // The buffer adapts so that a size is not refused twice in a row: a receive into a message
  // keeps the grown buffer; a receive returning a new message starts at the largest size this
  // thread needed before (a per-thread high-water mark).
  std::size_t buffer_size = 1024;
  // MACH_RCV_GUARDED_DESC: receive guarded port descriptors as guarded receive rights
  // (without it the kernel destroys those rights and the descriptor names MACH_PORT_NULL).
  bool guarded_descriptors = false;
};

// Receives one message from the port (or, for a port set, from any member). Returns a
// received message that owns everything it carries. Errors: MACH_RCV_TIMED_OUT,
// MACH_RCV_INVALID_NAME (not a receive right or set), MACH_RCV_PORT_CHANGED (the port or set
// was destroyed or moved while waiting), MACH_RCV_INTERRUPTED, MACH_RCV_HEADER_ERROR|bits
// (the kernel destroyed the message). MACH_RCV_BODY_ERROR|bits: the kernel delivered part of
// the message; what arrived is released and the error returned.
result<message> receive(const receive_right& from, const receive_options& options = {});
result<message> receive(const port_set& from, const receive_options& options = {});
// The same on a raw name (a receive right or a port set the caller holds).
result<message> receive(mach_port_name_t from, const receive_options& options = {});

// The same into `into`, reusing its buffer (no allocation once it is large enough; it grows
// when a message needs more, and keeps that size). Whatever `into` held is released first. On
// success `into` is a received message; on error it is empty (it keeps its buffer).
result<void> receive(const receive_right& from, message& into, const receive_options& options = {});
result<void> receive(const port_set& from, message& into, const receive_options& options = {});
result<void> receive(mach_port_name_t from, message& into, const receive_options& options = {});

}  // namespace machport
