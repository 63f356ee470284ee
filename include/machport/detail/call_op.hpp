// call_op: the machinery of async_call (include/machport/async_call.hpp).
//
// A call is one receive_handler_op (detail/async_op.hpp) on a fresh reply port, whose handler
// is a call_handler wrapping the user's: it brings the allocation, work tracking, posting and
// cancellation rules of every receive with it. What the wrapper adds:
//  - the reply port's state (receive right and watch) lives beside the operation, allocated
//    with the handler's associated allocator. The port is detached and destroyed when the
//    receive completes, on the engine's side (receive_handler_op calls on_engine_complete),
//    or when the operation is destroyed unrun; the memory is freed before the user's handler
//    runs. A late reply is destroyed with the port by the kernel, and nothing leaks;
//  - the user's cancellation slot reaches the receive through a filter: terminal and partial
//    cancellation are honoured, total is not (the request has been sent: the server may act
//    on it, so cancelling cannot be free of side effects);
//  - the kernel's send-once notification on the reply port (the request's reply right was
//    destroyed unused) becomes message_errc::request_dropped, when the audit trailer says the
//    kernel sent it. A message with that id from anyone else is the server's reply.
#pragma once

#include <machport/async_receive_options.hpp>
#include <machport/detail/async_op.hpp>
#include <machport/detail/message_access.hpp>
#include <machport/detail/port_engine.hpp>
#include <machport/detail/port_service.hpp>
#include <machport/detail/wire.hpp>
#include <machport/error.hpp>
#include <machport/message.hpp>
#include <machport/receive_right.hpp>
#include <machport/send.hpp>
#include <machport/send_right.hpp>
#include <machport/trailer.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/recycling_allocator.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

namespace machport::detail {

// True if `m` is a send-once notification (MACH_NOTIFY_SEND_ONCE) whose audit trailer is the
// kernel's. A message without an audit trailer is not taken for one.
inline bool is_kernel_send_once(const message& m) noexcept {
  if (m.empty() || m.id() != MACH_NOTIFY_SEND_ONCE) return false;
  const std::span<const std::byte> buf = m.buffer();
  const std::size_t size = m.size();
  if (buf.size() < size || buf.size() - size < min_trailer_size) return false;
  const std::uint32_t tsize = load32(buf.data() + size + trailer_size_offset);
  if (tsize > buf.size() - size) return false;
  const std::optional<audit_token> who = trailer_view(buf.data() + size, tsize).audit();
  return who && who->is_kernel();
}

// Puts a MAKE_SEND_ONCE reply right for `reply` into the header of the outgoing `request`.
// Returns empty_message / bad_header_bits (the request is not an outgoing message, or already
// names a reply port: the call makes its own), request unchanged.
inline boost::system::error_code set_call_reply(message& request,
                                                const receive_right& reply) noexcept {
  if (request.empty()) return message_errc::empty_message;
  if (request.current_state() != message::state::outgoing) return message_errc::bad_header_bits;
  std::byte* buf = message_access::data(request);
  const std::uint32_t bits = load32(buf + header_bits_offset);
  if (local_disposition(bits) != 0 || load32(buf + header_local_offset) != MACH_PORT_NULL)
    return message_errc::bad_header_bits;
  store32(buf + header_bits_offset,
          bits | MACH_MSGH_BITS(0, static_cast<std::uint32_t>(disp_make_send_once)));
  store32(buf + header_local_offset, reply.name());
  return {};
}

// One call's reply port. Lives from the initiation to the completion (or destruction) of the
// call's receive operation; its address is the knote's cookie.
struct call_state {
  watched_port watch;
  receive_right reply;
  port_engine* engine = nullptr;  // null once the port is released
  // Feeds the receive operation's cancellation slot, from the filter in the user's slot.
  boost::asio::cancellation_signal receive_cancel;
  // Set when the call failed before waiting (the receive then only carries this error).
  boost::system::error_code early_error;
  bool filtering = false;  // a filter sits in the user's slot
};

// Emplaced in the user's cancellation slot: passes terminal and partial cancellation on to
// the reply receive.
struct call_cancel_filter {
  explicit call_cancel_filter(call_state* s) noexcept : state(s) {}  // emplace uses ( )
  call_state* state;
  void operator()(boost::asio::cancellation_type type) const {
    using ct = boost::asio::cancellation_type;
    if ((type & (ct::terminal | ct::partial)) != ct::none) state->receive_cancel.emit(type);
  }
};

// The handler of a call's reply receive: void(error_code, message). Owns the call_state.
template <class Handler, class Deliver>
class call_handler {
  using alloc_type =
      boost::asio::associated_allocator_t<Handler, boost::asio::recycling_allocator<void>>;
  using state_alloc_type =
      typename std::allocator_traits<alloc_type>::template rebind_alloc<call_state>;

 public:
  // The receive operation's slot; the user's handler keeps its own (holding the filter).
  using cancellation_slot_type = boost::asio::cancellation_slot;

  // Allocates the state with the handler's allocator. Throws what the allocator throws.
  template <class H>
  call_handler(H&& h, port_engine& engine) : handler_(std::forward<H>(h)) {
    state_alloc_type a(get_alloc());
    state_ = std::allocator_traits<state_alloc_type>::allocate(a, 1);
    std::allocator_traits<state_alloc_type>::construct(a, state_);
    state_->engine = &engine;
  }
  call_handler(call_handler&& other) noexcept
      : handler_(std::move(other.handler_)), state_(std::exchange(other.state_, nullptr)) {}
  call_handler(const call_handler&) = delete;
  call_handler& operator=(const call_handler&) = delete;
  call_handler& operator=(call_handler&&) = delete;
  // Destroyed unrun (the context shut down): the reply port goes all the same.
  ~call_handler() { finish(); }

  call_state& state() noexcept { return *state_; }
  const Handler& handler() const noexcept { return handler_; }
  cancellation_slot_type get_cancellation_slot() const noexcept {
    return state_ ? state_->receive_cancel.slot() : cancellation_slot_type();
  }

  // Puts the filter into the user's slot, if connected.
  void filter_cancellation() {
    auto slot = boost::asio::get_associated_cancellation_slot(handler_);
    if (!slot.is_connected()) return;
    slot.template emplace<call_cancel_filter>(state_);
    state_->filtering = true;
  }

  // Called by receive_handler_op when the receive completes, before the handler is posted
  // (after the engine's mutex is released): the reply port is destroyed now, while the
  // engine is certainly alive. The state's memory stays until the handler runs.
  void on_engine_complete() noexcept { release_port(); }

  // Runs on the user's handler's executor (receive_handler_op dispatched it there).
  void operator()(boost::system::error_code ec, message reply) {
    if (state_->early_error) ec = state_->early_error;
    finish();
    if (!ec && is_kernel_send_once(reply)) {
      reply.reset();
      ec = message_errc::request_dropped;
    }
    Deliver::deliver(handler_, ec, std::move(reply));
  }

 private:
  alloc_type get_alloc() const noexcept {
    return boost::asio::get_associated_allocator(handler_, boost::asio::recycling_allocator<void>());
  }

  // Stops watching and destroys the reply port (a reply still on its way is destroyed with
  // it, by the kernel). Idempotent.
  void release_port() noexcept {
    if (!state_ || !state_->engine) return;
    state_->engine->detach(state_->watch);
    state_->engine = nullptr;
    state_->reply.reset();
  }

  // Takes the filter out of the user's slot, releases the reply port if the receive never
  // completed (the operation is destroyed unrun, with the engine), frees the state.
  void finish() noexcept {
    if (!state_) return;
    if (state_->filtering) boost::asio::get_associated_cancellation_slot(handler_).clear();
    release_port();
    state_alloc_type a(get_alloc());
    std::allocator_traits<state_alloc_type>::destroy(a, state_);
    std::allocator_traits<state_alloc_type>::deallocate(a, state_, 1);
    state_ = nullptr;
  }

  Handler handler_;
  call_state* state_ = nullptr;
};

// Starts a call: makes the reply port, sends `request` to `dest` with a MAKE_SEND_ONCE reply
// right for it (without waiting: timeout zero), and receives the reply on `io_ex`. Every
// outcome, early failures included, completes through the receive operation (posted).
template <class Deliver, class IoExecutor, class Handler>
void start_call(Handler&& handler, const IoExecutor& io_ex, const send_right& dest,
                message&& request) {
  port_engine& engine = boost::asio::use_service<port_service>(
                            boost::asio::query(io_ex, boost::asio::execution::context))
                            .engine();
  using wrapper = call_handler<std::decay_t<Handler>, Deliver>;
  wrapper h(std::forward<Handler>(handler), engine);
  call_state& st = h.state();
  boost::system::error_code ec;
  if (result<receive_right> r = receive_right::allocate(); !r) {
    ec = r.error();
  } else {
    st.reply = std::move(r).value();
    ec = set_call_reply(request, st.reply);
  }
  if (!ec) {
    if (result<void> sent = send(dest, std::move(request), std::chrono::milliseconds::zero()); !sent)
      ec = sent.error();
  }
  request.reset();  // on failure: whatever it still owns (a made send-once right included)
  if (ec) {
    // The watch stays unattached: the receive completes at once, carrying this error.
    st.early_error = ec;
  } else {
    engine.attach(st.watch, st.reply.name());
    h.filter_cancellation();
  }
  receive_handler_op<wrapper, IoExecutor, deliver_message>::start(
      std::move(h), io_ex, engine, st.watch, message{}, async_receive_options{});
}

}  // namespace machport::detail

// The wrapper has the user's handler's executor and allocator (its cancellation slot is its
// own: see call_handler::cancellation_slot_type).
template <template <class, class> class Associator, class Handler, class Deliver, class Default>
struct boost::asio::associator<Associator, machport::detail::call_handler<Handler, Deliver>, Default> {
  using type = typename Associator<Handler, Default>::type;
  static type get(const machport::detail::call_handler<Handler, Deliver>& h) noexcept {
    return Associator<Handler, Default>::get(h.handler());
  }
  static auto get(const machport::detail::call_handler<Handler, Deliver>& h,
                  const Default& d) noexcept -> decltype(Associator<Handler, Default>::get(h.handler(), d)) {
    return Associator<Handler, Default>::get(h.handler(), d);
  }
};
