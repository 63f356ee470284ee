// Serving one MIG request: run a demux function and send its reply, with MIG's rules.
//
// A MIG server is a receive loop around a demux function (the `<subsystem>_server` routine the
// `mig` tool generates, or a hand-written one with the same contract):
//   boolean_t demux(mach_msg_header_t* request, mach_msg_header_t* reply);
// mig_serve_one does what libdispatch's dispatch_mig_server and libsyscall's mach_msg_server do
// between two receives, for one request, so that any receive loop (blocking, or an Asio
// completion handler) can serve MIG requests with it.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/message.hpp>
#include <machport/result.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace machport {

// What mig_serve_one did with a request (when it returns no error).
struct mig_served {
  // The demux returned TRUE (it knew the request's msgh_id). When false, a MIG_BAD_ID reply
  // was prepared (ret_code is MIG_BAD_ID).
  bool recognized = false;
  // The routine's RetCode: read from a simple reply (a mig_reply_error_t); KERN_SUCCESS for a
  // complex reply (which has no RetCode); MIG_NO_REPLY when the routine keeps the reply right
  // to answer later.
  kern_return_t ret_code = KERN_SUCCESS;
  // A reply was sent to the request's reply port. False for MIG_NO_REPLY and for a request
  // without a (live) reply port.
  bool replied = false;
};

namespace detail {
// The demux, called through a pointer (the server logic lives in src/mig_server.cpp).
struct mig_demux_ref {
  void* object;
  bool (*call)(void* object, mach_msg_header_t* request, mach_msg_header_t* reply);
};
result<mig_served> mig_serve_one(message& request, mig_demux_ref demux,
                                 std::size_t max_reply_size, message& reply);
}  // namespace detail

// A demux: called as demux(request, reply) with two mach_msg_header_t*, returning something
// convertible to bool (boolean_t for a MIG-generated function).
template <class Demux>
concept mig_demux = std::is_invocable_v<Demux&, mach_msg_header_t*, mach_msg_header_t*> &&
                    std::is_convertible_v<
                        std::invoke_result_t<Demux&, mach_msg_header_t*, mach_msg_header_t*>, bool>;

// Serves one received request: runs `demux` with a reply buffer of `max_reply_size` bytes
// (raised to sizeof(mig_reply_error_t) if smaller; for a mig-generated subsystem, the size of
// its reply union), then disposes of the request and the reply as MIG servers do. Reuses
// `reply_buffer`'s storage for the reply (whatever it held is released first; afterwards it is
// empty and keeps its buffer), so a loop serving with one request message and one reply buffer
// allocates nothing once both are large enough.
//
// Before the demux runs, the reply holds the header MIG's generated code writes (msgh_bits:
// the request's reply disposition as remote, no local; msgh_remote_port: the request's reply
// port; msgh_local_port null; msgh_size = sizeof(mig_reply_error_t); msgh_id = request id + 100),
// then NDR_record and RetCode = KERN_SUCCESS. The demux reads the request (its trailer
// included) and writes the reply; it must not release or move anything the request owns except
// as below.
//
// What happens to the rights and memory the request carried, by the routine's result:
//  - the demux returns false: the reply is rewritten as a mig_reply_error_t with MIG_BAD_ID
//    (whatever the demux wrote there is dropped unreleased: a demux that does not know the id
//    must not have put rights in the reply); the request's body (descriptors) is released;
//  - RetCode KERN_SUCCESS, or a complex reply: the routine took the request's body (MIG
//    routines own their in-arguments on success); the request releases nothing of it;
//  - RetCode MIG_NO_REPLY: the routine took the body AND the reply right (it answers later,
//    or drops it); nothing is sent and the reply buffer is dropped;
//  - any other RetCode: the request's body is released (mach_msg_destroy without the reply
//    port), and the error reply is sent.
// A voucher the request carried is always released. The reply right (msgh_remote_port) moves
// into the reply, which is sent to it with the disposition the request carried (MOVE_SEND_ONCE,
// or MOVE_SEND), without waiting (timeout 0: a send right's full queue fails the send). With no
// reply right (null, or MACH_PORT_DEAD: the reply port died before the request was received)
// nothing is sent and the reply is destroyed (every right and region it moves is released).
// A reply the routine made owns the rights it moves (MOVE_*) and the OOL regions it marks
// deallocate; COPY_SEND / MAKE_* rights are borrowed from the server's own rights.
//
// On success the request is empty (its buffer kept) and every right has exactly one owner: the
// kernel (sent), the routine, or nobody (released). Errors:
//  - message_errc::empty_message / bad_header_bits: `request` is empty, or not a received
//    message; nothing was done (the request still owns everything, demux not called);
//  - the reply could not be sent (MACH_SEND_INVALID_DEST: the reply port died after the
//    request was received and the kernel has turned the right into a dead name; untouched
//    since, the right still takes the send, which succeeds and the kernel drops the reply;
//    MACH_SEND_TIMED_OUT: a send right's queue is full; any other MACH_SEND_* code; or
//    message_errc::bad_header_size when the demux left an msgh_size that is not a multiple of
//    4, below 24, or past max_reply_size): the request was disposed of as above, and the reply
//    destroyed with its destination right (a live send-once reply right is deallocated, so the
//    client gets a send-once notification instead of a reply).
// std::bad_alloc (the reply buffer) is thrown before the demux runs, with the request untouched.
// An exception from the demux propagates with the request untouched (still owning everything)
// and whatever the reply buffer held dropped unreleased.
//
// Nothing here waits, so an asynchronous receive loop can call it from its completion handler.
// `request` and `reply_buffer` must be distinct objects.
template <mig_demux Demux>
result<mig_served> mig_serve_one(message& request, Demux&& demux, std::size_t max_reply_size,
                                 message& reply_buffer) {
  using D = std::remove_reference_t<Demux>;
  if constexpr (std::is_function_v<D>) {
    D* function = demux;  // a function named directly: call it through its pointer
    return mig_serve_one(request, function, max_reply_size, reply_buffer);
  } else {
    detail::mig_demux_ref ref{
        const_cast<void*>(static_cast<const volatile void*>(std::addressof(demux))),
        [](void* object, mach_msg_header_t* req, mach_msg_header_t* rep) -> bool {
          return static_cast<bool>(std::invoke(*static_cast<D*>(object), req, rep));
        }};
    return detail::mig_serve_one(request, ref, max_reply_size, reply_buffer);
  }
}

// The same with a reply buffer allocated for this call.
template <mig_demux Demux>
result<mig_served> mig_serve_one(message& request, Demux&& demux, std::size_t max_reply_size) {
  message reply_buffer;
  return mig_serve_one(request, std::forward<Demux>(demux), max_reply_size, reply_buffer);
}

}  // namespace machport
