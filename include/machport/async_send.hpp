// async_send: send a message without ever blocking a thread, waiting for room in the
// destination's queue if needed.
//
//   auto [ec, unsent] = co_await machport::async_send(io, server, std::move(msg),
//                                                     asio::as_tuple(asio::use_awaitable));
//   if (ec) ...  // `unsent` is the message, intact: send it again later or drop it
//
// Free functions taking an executor or an execution context, like asio::post: a send right is
// not an I/O object (it can be copied, and sends to one port come from anywhere), and the
// state a waiting send needs lives in a per-context service. The handler runs through the
// given executor unless it has an associated executor of its own.
//
// How it works: the message is sent at once with a zero timeout. If the destination's queue
// is full, the kernel hands the message back and the operation waits, holding no thread and
// never polling, for the kernel's send-possible notification, then sends it again (a spurious
// notification costs one more attempt). Sends waiting on one destination name are sent in the
// order they were started: a send started while others wait for the same name queues behind
// them, so each sender's order is kept.
//
// Send-possible and dead-name requests: the kernel keeps one request slot per name, shared by
// both kinds. While sends to a destination name wait, machport owns that slot: it replaces any
// send-possible or dead-name request another part of the program registered on the name (that
// request's send-once right is deallocated, so its owner receives a send-once notification),
// and cancels its own request when the last send leaves.
//
// Limitation: the kernel notifies nobody when a port's queue limit is raised (or when a
// message is destroyed without being received), so a send waiting on such a port waits until
// the next message is received from it, its destination dies, or it is cancelled.
#pragma once

#include <machport/detail/send_op.hpp>
#include <machport/detail/send_service.hpp>
#include <machport/message.hpp>
#include <machport/send_once_right.hpp>
#include <machport/send_right.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/is_executor.hpp>
#include <boost/asio/query.hpp>

#include <type_traits>
#include <utility>

namespace machport {

// The completion signature of async_send: the error, and the message (empty on success).
using send_signature = void(boost::system::error_code, message);

namespace detail {

template <class Executor>
concept send_executor =
    boost::asio::execution::executor<Executor> || boost::asio::is_executor<Executor>::value;

template <class ExecutionContext>
concept send_context = std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>;

template <class Executor>
class initiate_async_send {
 public:
  using executor_type = Executor;
  explicit initiate_async_send(const Executor& ex) : ex_(ex) {}
  executor_type get_executor() const noexcept { return ex_; }

  template <class Handler>
  void operator()(Handler&& handler, mach_port_name_t dest, message msg) const {
    using op = send_handler_op<std::decay_t<Handler>, Executor>;
    send_engine& engine = service().engine();
    op::start(op::create(std::forward<Handler>(handler), ex_, std::move(msg)), engine, dest);
  }
  template <class Handler>
  void operator()(Handler&& handler, send_once_right dest, message msg) const {
    using op = send_handler_op<std::decay_t<Handler>, Executor>;
    send_engine& engine = service().engine();
    op::start(op::create(std::forward<Handler>(handler), ex_, std::move(msg)), engine,
              std::move(dest));
  }

 private:
  send_service& service() const {
    return boost::asio::use_service<send_service>(
        boost::asio::query(ex_, boost::asio::execution::context));
  }

  Executor ex_;
};

}  // namespace detail

// Sends `msg` (an outgoing message) to the port `dest` names, copying the send right
// (COPY_SEND). The right is borrowed only until the operation is initiated (with a deferred
// token: until it is launched; its name is taken when async_send is called); a send that
// waits holds a send uref of its own, so `dest` may then be destroyed.
//
// Completion signature: void(error_code, message).
//  - Success: the kernel queued the message; the message passed to the handler is empty.
//  - operation_aborted: cancelled while waiting for room; the message is handed back intact
//    and was not sent.
//  - MACH_SEND_INVALID_DEST: `dest` names no send right, or the destination died (before the
//    call, or while the message waited); the message is handed back intact.
//  - the errors of the synchronous send (send.hpp) other than a timeout, with the message
//    handed back or not as described there.
// A message is never both sent and reported failed, and never sent twice.
//
// Cancellation (the handler's associated cancellation slot): terminal, partial and total are
// honoured while the message waits for room. A send that has found room completes
// successfully.
//
// The handler never runs inside this call: it is posted to `ex` and dispatched to the
// handler's associated executor. The operation holds outstanding work on both, and allocates
// its state with the handler's associated allocator.
//
// Thread safety: any thread may start sends, to the same or different destinations; a send
// waiting for a destination is queued in the context's send service under its mutex.
template <detail::send_executor Executor,
          boost::asio::completion_token_for<send_signature> Token =
              boost::asio::default_completion_token_t<Executor>>
auto async_send(const Executor& ex, const send_right& dest, message&& msg,
                Token&& token = boost::asio::default_completion_token_t<Executor>()) {
  return boost::asio::async_initiate<Token, send_signature>(
      detail::initiate_async_send<Executor>(ex), token, dest.name(), std::move(msg));
}

// The same with the execution context's executor.
template <detail::send_context ExecutionContext,
          boost::asio::completion_token_for<send_signature> Token =
              boost::asio::default_completion_token_t<typename ExecutionContext::executor_type>>
auto async_send(ExecutionContext& ctx, const send_right& dest, message&& msg,
                Token&& token = boost::asio::default_completion_token_t<
                    typename ExecutionContext::executor_type>()) {
  return async_send(ctx.get_executor(), dest, std::move(msg), std::forward<Token>(token));
}

// Sends `msg` through the send-once right `dest` (MOVE_SEND_ONCE), which the operation takes.
// The queue limit does not apply to send-once rights, so this never waits; it is
// asynchronous so that it composes with the other operations.
//
// Completion signature: void(error_code, message), the message empty on success. The right is
// consumed on every path: on success by the kernel; on an error it is deallocated (its port
// receives a send-once notification) and the message handed back as the synchronous send
// hands it back (send.hpp). MACH_SEND_INVALID_DEST: `dest` is empty or its port died.
// Not cancellable (it completes at once). Executors, allocation and thread safety as above.
template <detail::send_executor Executor,
          boost::asio::completion_token_for<send_signature> Token =
              boost::asio::default_completion_token_t<Executor>>
auto async_send(const Executor& ex, send_once_right&& dest, message&& msg,
                Token&& token = boost::asio::default_completion_token_t<Executor>()) {
  return boost::asio::async_initiate<Token, send_signature>(
      detail::initiate_async_send<Executor>(ex), token, std::move(dest), std::move(msg));
}

// The same with the execution context's executor.
template <detail::send_context ExecutionContext,
          boost::asio::completion_token_for<send_signature> Token =
              boost::asio::default_completion_token_t<typename ExecutionContext::executor_type>>
auto async_send(ExecutionContext& ctx, send_once_right&& dest, message&& msg,
                Token&& token = boost::asio::default_completion_token_t<
                    typename ExecutionContext::executor_type>()) {
  return async_send(ctx.get_executor(), std::move(dest), std::move(msg),
                    std::forward<Token>(token));
}

}  // namespace machport
