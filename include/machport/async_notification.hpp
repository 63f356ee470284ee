// The kernel's notifications as asynchronous operations.
//
//   co_await machport::async_wait_no_senders(port, asio::use_awaitable);     // last sender gone
//   co_await machport::async_wait_dead_name(to_server, ex, asio::use_awaitable);  // server died
//   machport::receive_right back =
//       co_await machport::async_wait_port_destroyed(lent, ex, asio::use_awaitable);
//
// Each wait makes its own notify port (a fresh receive right, watched by the execution
// context's port service like a receive_port), registers its request with MAKE_SEND_ONCE to
// it, and receives on it until the kernel's notification comes. A message the kernel did not
// send (a forged notification: see sent_by_kernel) is released and ignored; the wait goes on.
// When the wait ends, however it ends, its request is cancelled where the kernel allows it, its
// notify port is drained (a dead-name notification's extra uref is released) and destroyed:
// no name is left behind.
//
// Every operation follows Asio's rules: the handler never runs inside the initiating function,
// its associated executor and allocator are used, outstanding work is held while it waits, and
// its cancellation slot is honoured for terminal, partial and total cancellation. Cancelling
// completes with operation_aborted, unless the notification had already arrived (then it
// completes as if not cancelled: nothing the kernel sent is lost). The kernel work (port,
// request) happens when the operation is launched, not when a deferred operation is made.
// If the execution context is destroyed first, the handler is destroyed without running and
// the wait cleans up as above.
#pragma once

#include <machport/basic_receive_port.hpp>
#include <machport/detail/notify_wait.hpp>
#include <machport/message.hpp>
#include <machport/notification.hpp>
#include <machport/receive_right.hpp>
#include <machport/send_right.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace machport {

namespace detail {

// The kernel state of one wait. Its destructor (the execution context destroyed with the wait
// pending, or a deferred wait never launched) cleans up as finish() does.
template <class Executor>
struct notify_wait_state {
  notify_wait_state(const Executor& ex, notify_wait_kind k) : notify(ex), kind(k) {}
  ~notify_wait_state() { finish(); }
  notify_wait_state(const notify_wait_state&) = delete;
  notify_wait_state& operator=(const notify_wait_state&) = delete;

  // Ends the wait's kernel state: unless a notification already ended the request, cancels it
  // (its send-once right comes back and is deallocated); then drains the notify port (keeping a
  // notification that fired, which a cancellation may have raced) and destroys it. The first
  // drain tells whether the slot still holds our request, so that a request that replaced ours
  // is not cancelled. Idempotent.
  void finish() noexcept {
    if (!notify.is_open()) return;
    notify_drain d;
    drain_notify_port(notify.right(), kind, d);
    if (armed && !d.request_ended) cancel_notify_request(target, kind);
    armed = false;
    drain_notify_port(notify.right(), kind, d);
    if (!fired && d.fired) fired = std::move(d.fired);
    notify.close();
  }

  basic_receive_port<Executor> notify;  // closed until launched
  notify_wait_kind kind;
  mach_port_name_t target = MACH_PORT_NULL;  // the name the request is on
  bool armed = false;                        // our request may still be in the kernel
  std::optional<notification> fired;         // the notification that ended the wait
};

inline async_receive_options notify_receive_options() noexcept {
  async_receive_options o;
  o.trailer = trailer_level::audit;  // enough for sent_by_kernel
  o.buffer_size = 256;               // every notification fits
  return o;
}

// The composed operation behind the three request-based waits. `Request` arms the request:
// result<send_once_right> operator()(const receive_right& notify) const, with `target()`
// naming what it is on. Completion signatures: no_senders void(ec, no_senders_notification);
// dead_name void(ec); port_destroyed void(ec, receive_right).
template <class Executor, notify_wait_kind Kind, class Request>
class notify_wait_op {
 public:
  notify_wait_op(const Executor& ex, Request request)
      : state_(std::make_unique<notify_wait_state<Executor>>(ex, Kind)),
        request_(std::move(request)) {}

  // Launch, and the re-entry after posting an error found at launch.
  template <class Self>
  void operator()(Self& self) {
    if (phase_ == phase::failed) return complete(self, failure_);
    self.reset_cancellation_state(boost::asio::enable_total_cancellation());
    phase_ = phase::waiting;
    if (boost::system::error_code ec = launch()) return fail_later(self, ec);
    if (state_->fired) return fail_later(self, {});  // fired at once (dead name): post it
    state_->notify.async_receive(message{}, notify_receive_options(), std::move(self));
  }

  // A receive on the notify port completed.
  template <class Self>
  void operator()(Self& self, boost::system::error_code ec, message m) {
    if (ec) return complete(self, ec);  // cancelled (operation_aborted), or a receive error
    if (result<notification> n = decode_from_kernel<notification>(m)) {
      switch (classify(n.value(), Kind)) {
        case notify_verdict::fired:
          state_->armed = false;
          state_->fired = std::move(n).value();
          return complete(self, {});
        case notify_verdict::dropped:
          state_->armed = false;
          return complete(self, boost::asio::error::operation_aborted);
        case notify_verdict::ignore: break;
      }
    }
    // Forged (released by decode_from_kernel) or not ours: wait on, unless cancelled meanwhile.
    if (self.cancelled() != boost::asio::cancellation_type::none) {
      return complete(self, boost::asio::error::operation_aborted);
    }
    state_->notify.async_receive(std::move(m), notify_receive_options(), std::move(self));
  }

 private:
  enum class phase : std::uint8_t { launching, waiting, failed };

  // Makes the notify port and the request. Returns the error to complete with.
  boost::system::error_code launch() {
    result<receive_right> port = receive_right::allocate();
    if (!port) return port.error();
    state_->notify.assign(std::move(port).value());
    state_->target = request_.target();
    result<send_once_right> previous = request_(state_->notify.right());
    if (!previous) {
      // A request on a name that is already dead: the wait is over before it began.
      if constexpr (Kind == notify_wait_kind::dead_name) {
        if (is_dead_name(state_->target)) {
          state_->fired = notification{std::in_place_type<send_once_notification>};
          return {};
        }
      }
      return previous.error();  // the kernel destroyed our send-once right: finish() drains
    }
    // `previous` (another request's right) is deallocated here: its owner gets a send-once
    // notification, as when any request replaces another.
    state_->armed = true;
    return {};
  }

  template <class Self>
  void fail_later(Self& self, boost::system::error_code ec) {
    phase_ = phase::failed;
    failure_ = ec;
    auto ex = state_->notify.get_executor();
    boost::asio::post(ex, std::move(self));
  }

  template <class Self>
  void complete(Self& self, boost::system::error_code ec) {
    state_->finish();
    std::optional<notification> fired = std::move(state_->fired);
    state_.reset();
    if (fired) ec = {};  // it fired, even if a cancellation or an error raced it
    if constexpr (Kind == notify_wait_kind::no_senders) {
      no_senders_notification value;
      if (fired) value = std::get<no_senders_notification>(*fired);
      self.complete(ec, value);
    } else if constexpr (Kind == notify_wait_kind::dead_name) {
      fired.reset();  // releases the dead name's extra uref before the handler runs
      self.complete(ec);
    } else {
      receive_right back;
      if (fired) back = std::move(std::get<port_destroyed_notification>(*fired).port);
      self.complete(ec, std::move(back));
    }
  }

  std::unique_ptr<notify_wait_state<Executor>> state_;
  Request request_;
  phase phase_ = phase::launching;
  boost::system::error_code failure_;
};

struct no_senders_request {
  const receive_right* port;
  mach_port_mscount_t sync;
  mach_port_name_t target() const noexcept { return port->name(); }
  result<send_once_right> operator()(const receive_right& notify) const {
    return request_no_senders(*port, sync, notify);
  }
};

struct dead_name_request {
  mach_port_name_t name;
  mach_port_name_t target() const noexcept { return name; }
  result<send_once_right> operator()(const receive_right& notify) const {
    return request_dead_name(name, notify);
  }
};

struct port_destroyed_request {
  const receive_right* port;
  mach_port_name_t target() const noexcept { return port->name(); }
  result<send_once_right> operator()(const receive_right& notify) const {
    return request_port_destroyed(*port, notify);
  }
};

// The send-once wait: receives on the caller's port until a message the kernel did not forge.
template <class Executor>
class send_once_wait_op {
 public:
  using result_type = std::variant<send_once_notification, message>;

  explicit send_once_wait_op(basic_receive_port<Executor>& port) noexcept : port_(&port) {}

  template <class Self>
  void operator()(Self& self) {
    self.reset_cancellation_state(boost::asio::enable_total_cancellation());
    port_->async_receive(message{}, async_receive_options{}, std::move(self));
  }

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec, message m) {
    if (ec) return self.complete(ec, result_type{std::move(m)});
    if (is_notification_id(m.id())) {
      if (sent_by_kernel(m)) {
        if (m.id() == MACH_NOTIFY_SEND_ONCE) {
          m.reset();
          return self.complete(ec, result_type{send_once_notification{}});
        }
      } else {
        m.reset();  // forged: released and ignored
        if (self.cancelled() != boost::asio::cancellation_type::none) {
          return self.complete(boost::asio::error::operation_aborted, result_type{std::move(m)});
        }
        port_->async_receive(std::move(m), async_receive_options{}, std::move(self));
        return;
      }
    }
    self.complete(ec, result_type{std::move(m)});
  }

 private:
  basic_receive_port<Executor>* port_;
};

template <class T>
using executor_of_context = typename T::executor_type;

}  // namespace detail

// Waits until `port` has no send rights: now, or when the last one goes (deallocated, or its
// holder dies). Requests MACH_NOTIFY_NO_SENDERS with `sync` (pass the make-send count you know
// about to wait for the senders made up to it; 0: fire as soon as there are none).
//
// Completion signature: void(error_code, no_senders_notification) (the make-send count when it
// fired). Errors: operation_aborted when cancelled, or when the request went away without
// firing: the port was closed (its receive right destroyed), or another no-senders request on
// the port replaced this one (a port has one: one no-senders wait per port); the errors of
// request_no_senders (KERN_INVALID_NAME for a closed port, ...); of allocating the notify port.
// The port must stay open until the wait completes, and is not received from by the wait.
template <class Executor,
          boost::asio::completion_token_for<void(boost::system::error_code,
                                                 no_senders_notification)>
              Token = boost::asio::default_completion_token_t<Executor>>
auto async_wait_no_senders(basic_receive_port<Executor>& port, mach_port_mscount_t sync,
                           Token&& token = boost::asio::default_completion_token_t<Executor>()) {
  using op = detail::notify_wait_op<Executor, detail::notify_wait_kind::no_senders,
                                    detail::no_senders_request>;
  return boost::asio::async_compose<Token,
                                    void(boost::system::error_code, no_senders_notification)>(
      op(port.get_executor(), detail::no_senders_request{&port.right(), sync}), token,
      port.get_executor());
}
template <class Executor,
          boost::asio::completion_token_for<void(boost::system::error_code,
                                                 no_senders_notification)>
              Token = boost::asio::default_completion_token_t<Executor>>
auto async_wait_no_senders(basic_receive_port<Executor>& port,
                           Token&& token = boost::asio::default_completion_token_t<Executor>()) {
  return async_wait_no_senders(port, 0, std::forward<Token>(token));
}

// Waits until the port `right` names dies (its receive right is destroyed, or its task ends).
// `right` then names a dead name: it is still the caller's to release; the extra uref the
// notification brought is released by the wait. A right that is already dead completes at once
// (successfully).
//
// The kernel has ONE request slot per name, shared by dead-name and send-possible requests:
// this wait replaces whatever request is on `right`'s name (request_dead_name, or an async send
// waiting for room on the same name), whose owner gets its send-once right back; and a later
// request there replaces this one, which then completes with operation_aborted. Keep one user
// of the slot per name.
//
// Completion signature: void(error_code). Errors: operation_aborted when cancelled, when the
// request was replaced, or when `right` lost its send right first (released: port-deleted);
// the errors of request_dead_name (KERN_INVALID_NAME for an empty right, ...).
// `right` must stay valid until the operation is launched.
template <class Executor,
          boost::asio::completion_token_for<void(boost::system::error_code)> Token =
              boost::asio::default_completion_token_t<Executor>>
  requires(!std::is_convertible_v<Executor&, boost::asio::execution_context&>)
auto async_wait_dead_name(const send_right& right, const Executor& ex,
                          Token&& token = boost::asio::default_completion_token_t<Executor>()) {
  using op = detail::notify_wait_op<Executor, detail::notify_wait_kind::dead_name,
                                    detail::dead_name_request>;
  return boost::asio::async_compose<Token, void(boost::system::error_code)>(
      op(ex, detail::dead_name_request{right.name()}), token, ex);
}
template <class ExecutionContext,
          boost::asio::completion_token_for<void(boost::system::error_code)> Token =
              boost::asio::default_completion_token_t<
                  detail::executor_of_context<ExecutionContext>>>
  requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
auto async_wait_dead_name(const send_right& right, ExecutionContext& ctx,
                          Token&& token = boost::asio::default_completion_token_t<
                              detail::executor_of_context<ExecutionContext>>()) {
  return async_wait_dead_name(right, ctx.get_executor(), std::forward<Token>(token));
}

// Arms a port-destroyed request on `port` (which the caller keeps, typically to send it to
// another task) and waits until the receive right is destroyed, wherever it is then (destroyed
// by its holder, its task ended, or the message carrying it destroyed): the kernel then hands
// the receive right back instead of killing the port (reset, under a new name; its queued
// messages and the send rights others hold stay valid).
//
// Completion signature: void(error_code, receive_right): the right, owned. Errors: the errors
// of request_port_destroyed (KERN_FAILURE if the port already has a port-destroyed request,
// KERN_INVALID_RIGHT, KERN_INVALID_NAME for an empty right); operation_aborted when cancelled.
//
// Cancellation: the kernel cannot cancel a port-destroyed request, so a cancelled wait leaves it
// armed and destroys its notify port: when the receive right is destroyed later, the kernel's
// notification finds a dead port, and destroying it destroys the right it carries, so the port
// dies as if no request had been made. If the right was destroyed before the cancellation took
// effect, the wait completes successfully with it instead. A port has one port-destroyed
// request for its life until it fires: after a cancelled wait, a new wait on the same port
// fails with KERN_FAILURE. `port` must stay valid until the operation is launched.
template <class Executor,
          boost::asio::completion_token_for<void(boost::system::error_code, receive_right)>
              Token = boost::asio::default_completion_token_t<Executor>>
  requires(!std::is_convertible_v<Executor&, boost::asio::execution_context&>)
auto async_wait_port_destroyed(
    const receive_right& port, const Executor& ex,
    Token&& token = boost::asio::default_completion_token_t<Executor>()) {
  using op = detail::notify_wait_op<Executor, detail::notify_wait_kind::port_destroyed,
                                    detail::port_destroyed_request>;
  return boost::asio::async_compose<Token, void(boost::system::error_code, receive_right)>(
      op(ex, detail::port_destroyed_request{&port}), token, ex);
}
template <class ExecutionContext,
          boost::asio::completion_token_for<void(boost::system::error_code, receive_right)>
              Token = boost::asio::default_completion_token_t<
                  detail::executor_of_context<ExecutionContext>>>
  requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
auto async_wait_port_destroyed(const receive_right& port, ExecutionContext& ctx,
                               Token&& token = boost::asio::default_completion_token_t<
                                   detail::executor_of_context<ExecutionContext>>()) {
  return async_wait_port_destroyed(port, ctx.get_executor(), std::forward<Token>(token));
}

// What became of a send-once right made to a port: destroyed unused (the kernel's send-once
// notification), or used (the message that came through it, or any other message the port
// received).
using send_once_outcome = std::variant<send_once_notification, message>;

// Receives the next message on `port` that is not a forged notification: a message with a
// notification id that the kernel did not send is released and ignored, and the wait goes on.
// Meant for a port that receives through send-once rights it handed out (a request's reply
// port: port.right().make_send_once(), or reply_port::make_send_once): the kernel's send-once
// notification says a right was destroyed without carrying a message (the server dropped the
// request, or died holding it). No request is made: the kernel sends it for every send-once
// right to the port.
//
// Completion signature: void(error_code, send_once_outcome): send_once_notification, or the
// message (any other one, a kernel notification of another kind included). Errors: those of
// basic_receive_port::async_receive (operation_aborted when cancelled or when the port is
// closed; the message alternative is then empty). The trailer is the receive default (context).
template <class Executor,
          boost::asio::completion_token_for<void(boost::system::error_code, send_once_outcome)>
              Token = boost::asio::default_completion_token_t<Executor>>
auto async_wait_send_once(basic_receive_port<Executor>& port,
                          Token&& token = boost::asio::default_completion_token_t<Executor>()) {
  return boost::asio::async_compose<Token, void(boost::system::error_code, send_once_outcome)>(
      detail::send_once_wait_op<Executor>(port), token, port.get_executor());
}

}  // namespace machport
