// Serving one MIG request (libdispatch's dispatch_mig_server, libsyscall's mach_msg_server).
#include <machport/detail/message_access.hpp>
#include <machport/detail/wire.hpp>
#include <machport/mig_server.hpp>
#include <machport/reply_port.hpp>
#include <machport/send.hpp>

#include <mach/mig_errors.h>

#include <boost/assert.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace machport::detail {
namespace {

inline constexpr std::size_t ndr_offset = offsetof(mig_reply_error_t, NDR);
inline constexpr std::size_t ret_code_offset = offsetof(mig_reply_error_t, RetCode);
static_assert(ndr_offset == header_size && ret_code_offset == 32 &&
              sizeof(mig_reply_error_t) == 36);

// Writes the reply MIG's generated code starts from: the header of a simple reply to the
// request's reply port, NDR_record and RetCode `ret`.
void prepare_reply(std::byte* reply, const mach_msg_header_t& request, kern_return_t ret) noexcept {
  mach_msg_header_t h{};
  h.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(request.msgh_bits), 0);
  h.msgh_size = sizeof(mig_reply_error_t);
  h.msgh_remote_port = request.msgh_remote_port;
  h.msgh_local_port = MACH_PORT_NULL;
  h.msgh_voucher_port = MACH_PORT_NULL;
  // MIG adds 100; wrap rather than overflow on an id near the top of the range.
  h.msgh_id = static_cast<mach_msg_id_t>(static_cast<std::uint32_t>(request.msgh_id) + 100u);
  store_header(reply, h);
  std::memcpy(reply + ndr_offset, &NDR_record, sizeof NDR_record);
  store32(reply + ret_code_offset, static_cast<std::uint32_t>(ret));
}

}  // namespace

result<mig_served> mig_serve_one(message& request, mig_demux_ref demux,
                                 std::size_t max_reply_size, message& reply) {
  BOOST_ASSERT(&request != &reply);
  if (request.empty()) return message_errc::empty_message;
  if (request.current_state() != message::state::received) return message_errc::bad_header_bits;

  const std::size_t reply_size = std::max(max_reply_size, sizeof(mig_reply_error_t));
  std::byte* rep = message_access::prepare(reply, reply_size);  // may throw: nothing done yet
  std::byte* req = message_access::data(request);
  const mach_msg_header_t req_header = load_header(req);
  prepare_reply(rep, req_header, KERN_SUCCESS);

  mig_served out;
  out.recognized = demux.call(demux.object, reinterpret_cast<mach_msg_header_t*>(req),
                              reinterpret_cast<mach_msg_header_t*>(rep));
  if (!out.recognized) {
    prepare_reply(rep, req_header, MIG_BAD_ID);
    out.ret_code = MIG_BAD_ID;
  } else if (is_complex(load32(rep + header_bits_offset))) {
    out.ret_code = KERN_SUCCESS;  // no RetCode in a complex reply: the routine succeeded
  } else {
    out.ret_code = static_cast<kern_return_t>(load32(rep + ret_code_offset));
  }

  // Take the reply right out of the request: from here on it belongs to the reply (or, with
  // MIG_NO_REPLY, to the routine). Read after the demux, as the MIG servers do. A received
  // header names only a send or send-once right there; anything else is not a right we own.
  std::uint32_t bits = load32(req + header_bits_offset);
  const mach_port_name_t reply_name = load32(req + header_remote_offset);
  const std::uint8_t reply_disp = remote_disposition(bits);
  const bool has_reply_right = (reply_disp == disp_move_send || reply_disp == disp_move_send_once);
  bits = with_remote_disposition(bits, 0);
  store32(req + header_remote_offset, MACH_PORT_NULL);

  // The request's body: the routine's now, or released. Clearing COMPLEX makes reset() release
  // only what is left in the header (a voucher).
  const bool body_taken = out.ret_code == KERN_SUCCESS || out.ret_code == MIG_NO_REPLY;
  if (body_taken) bits &= ~static_cast<std::uint32_t>(MACH_MSGH_BITS_COMPLEX);
  store32(req + header_bits_offset, bits);
  request.reset();

  if (out.ret_code == MIG_NO_REPLY) {
    // The routine keeps the reply right; a MIG_NO_REPLY reply is simple and owns nothing.
    reply.detach();
    return out;
  }

  reply_port dest = has_reply_right ? reply_port::adopt(reply_name, reply_disp) : reply_port{};
  // The reply becomes an outgoing message without a destination (send() names it): it owns
  // what it moves. The header remote the demux may have rewritten is ours to set.
  std::uint32_t rbits = load32(rep + header_bits_offset);
  store32(rep + header_bits_offset, with_remote_disposition(rbits, 0));
  store32(rep + header_remote_offset, MACH_PORT_NULL);
  message_access::set_state(reply, message::state::outgoing);

  std::size_t size = 0;
  if (const auto e = check_header(rep, reply_size, size);
      e != message_errc::success) {
    reply.reset();  // releases what can be located; dest is released on return
    return e;
  }
  if (!MACH_PORT_VALID(dest.name())) {
    reply.reset();  // nowhere to send it: destroy it, as mach_msg_server does
    return out;
  }
  // Zero timeout: a send-once right is never subject to the queue limit; a send right whose
  // queue is full fails rather than block the server.
  if (auto r = send(std::move(dest), std::move(reply), std::chrono::milliseconds(0)); !r) {
    reply.reset();  // what the kernel gave back, if anything
    return r.error();  // dest, handed back by send, is released on return
  }
  out.replied = true;
  return out;
}

}  // namespace machport::detail
