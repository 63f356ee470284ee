// async_call: send a request and wait for its reply, as one asynchronous operation.
//
//   // A coroutine: the executor is the coroutine's.
//   machport::message reply = co_await machport::async_call(server, std::move(request),
//                                                            asio::use_awaitable);
//   answer a = co_await machport::async_call<answer>(server, question{42}, asio::use_awaitable);
//   // A callback: the executor is given.
//   machport::async_call(io, server, std::move(request), [](error_code ec, machport::message r) {});
//
// Each call makes a fresh reply port (a receive right), sends the request with a send-once
// right to it made by the kernel in the send itself (MAKE_SEND_ONCE in the header: the
// server's reply right), and receives one message on it. The reply port is destroyed before
// the handler runs, whatever the outcome: a reply that comes after a cancellation is destroyed
// with it by the kernel, and nothing leaks.
//
// A timeout is a cancellation: race the call with a timer (awaitable operators `||`, or
// experimental::parallel_group), or bind a cancellation slot. Terminal and partial
// cancellation are honoured; total is not, because the request has already been sent and the
// server may act on it.
//
// Limitation of this version: the request is sent without waiting (timeout zero), so a server
// whose queue is full fails the call with MACH_SEND_TIMED_OUT.
#pragma once

#include <machport/detail/call_op.hpp>
#include <machport/message.hpp>
#include <machport/send_right.hpp>
#include <machport/typed.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/is_executor.hpp>
#include <boost/asio/system_executor.hpp>

#include <type_traits>
#include <utility>

namespace machport {

// The completion signature of async_call: the reply.
using call_signature = void(boost::system::error_code, message);

namespace detail {

template <class E>
inline constexpr bool is_executor_v =
    boost::asio::execution::is_executor<E>::value || boost::asio::is_executor<E>::value;

// The request as a message: a message is taken as it is, anything else is encoded (a typed
// message). Throws what encode throws.
template <class Request>
message request_message(Request&& request) {
  if constexpr (std::is_same_v<std::remove_cvref_t<Request>, message>) {
    return std::move(request);
  } else {
    return encode(std::forward<Request>(request));
  }
}

// The initiation of a call on a given I/O executor.
template <class Deliver, class Executor>
class initiate_async_call {
 public:
  using executor_type = Executor;
  explicit initiate_async_call(const Executor& ex) : ex_(ex) {}
  executor_type get_executor() const noexcept { return ex_; }

  template <class Handler>
  void operator()(Handler&& handler, const send_right* dest, message&& request) const {
    start_call<Deliver>(std::forward<Handler>(handler), ex_, *dest, std::move(request));
  }

 private:
  Executor ex_;
};

// ... on the handler's associated executor (a coroutine's, or one bound with bind_executor).
template <class Deliver>
struct initiate_async_call_on_handler_executor {
  template <class Handler>
  void operator()(Handler&& handler, const send_right* dest, message&& request) const {
    using executor = boost::asio::associated_executor_t<std::decay_t<Handler>>;
    static_assert(!std::is_same_v<executor, boost::asio::system_executor>,
                  "machport::async_call: this completion handler has no associated executor; "
                  "pass an executor or execution context as the first argument, or bind one "
                  "with boost::asio::bind_executor");
    const executor ex = boost::asio::get_associated_executor(handler);
    start_call<Deliver>(std::forward<Handler>(handler), ex, *dest, std::move(request));
  }
};

}  // namespace detail

// Sends `request` (an outgoing message with no reply port: the call adds its own) to `dest`
// and receives the reply, on the I/O executor `ex`.
//
// Completion signature: void(error_code, message): the reply, a received message owning
// everything it carries. Errors (the message is then empty):
//  - MACH_SEND_INVALID_DEST: `dest` is empty or a dead name (the server is gone);
//  - message_errc::request_dropped: the kernel's send-once notification came instead of a
//    reply (checked with the audit trailer): the server destroyed the request or its reply
//    right unused, or died with the request queued. A message with that id that the kernel
//    did not send is a reply like any other;
//  - operation_aborted: cancelled (terminal or partial), or the execution context is being
//    torn down;
//  - MACH_SEND_TIMED_OUT: the server's queue is full (the request is not waited for);
//  - message_errc::empty_message / bad_header_bits: `request` is empty, is not an outgoing
//    message, or already names a reply port;
//  - the other errors of send() and of making a port (KERN_NO_SPACE).
// The request is consumed: on every error whatever it still carries is released.
//
// `dest` must stay valid until the operation starts (with deferred, until it is launched);
// it is not used after that. Executors, allocation and work as basic_receive_port's
// async_receive (detail/async_op.hpp): the handler never runs inside this call.
template <class Executor, boost::asio::completion_token_for<call_signature> Token =
                              boost::asio::default_completion_token_t<Executor>>
  requires detail::is_executor_v<Executor>
auto async_call(const Executor& ex, const send_right& dest, message&& request,
                Token&& token = boost::asio::default_completion_token_t<Executor>()) {
  return boost::asio::async_initiate<Token, call_signature>(
      detail::initiate_async_call<detail::deliver_message, Executor>(ex), token, &dest,
      std::move(request));
}

// The same on an execution context's executor.
template <class ExecutionContext,
          boost::asio::completion_token_for<call_signature> Token =
              boost::asio::default_completion_token_t<typename ExecutionContext::executor_type>>
  requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
auto async_call(ExecutionContext& ctx, const send_right& dest, message&& request,
                Token&& token = boost::asio::default_completion_token_t<
                    typename ExecutionContext::executor_type>()) {
  return async_call(ctx.get_executor(), dest, std::move(request), std::forward<Token>(token));
}

// The same on the completion handler's associated executor: a coroutine's with
// use_awaitable, or one given with bind_executor. A handler without one does not compile.
template <boost::asio::completion_token_for<call_signature> Token>
auto async_call(const send_right& dest, message&& request, Token&& token) {
  return boost::asio::async_initiate<Token, call_signature>(
      detail::initiate_async_call_on_handler_executor<detail::deliver_message>(), token, &dest,
      std::move(request));
}

// Typed calls: `request` is a typed message (encoded here; a machport::message is sent as it
// is) and the reply is decoded as `Reply` (a typed message or a std::variant of them).
//
// Completion signature: void(error_code, Reply). The errors of the untyped call, and those of
// decode<Reply>: a reply that does not match is released and its error reported with a
// value-initialised Reply. encode's exceptions (std::bad_alloc, std::invalid_argument) come
// out of this call, before anything is sent.
template <class Reply, class Executor, class Request,
          boost::asio::completion_token_for<void(boost::system::error_code, Reply)> Token =
              boost::asio::default_completion_token_t<Executor>>
  requires detail::is_executor_v<Executor>
auto async_call(const Executor& ex, const send_right& dest, Request&& request,
                Token&& token = boost::asio::default_completion_token_t<Executor>()) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code, Reply)>(
      detail::initiate_async_call<detail::deliver_typed<Reply>, Executor>(ex), token, &dest,
      detail::request_message(std::forward<Request>(request)));
}

template <class Reply, class ExecutionContext, class Request,
          boost::asio::completion_token_for<void(boost::system::error_code, Reply)> Token =
              boost::asio::default_completion_token_t<typename ExecutionContext::executor_type>>
  requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
auto async_call(ExecutionContext& ctx, const send_right& dest, Request&& request,
                Token&& token = boost::asio::default_completion_token_t<
                    typename ExecutionContext::executor_type>()) {
  return async_call<Reply>(ctx.get_executor(), dest, std::forward<Request>(request),
                           std::forward<Token>(token));
}

template <class Reply, class Request,
          boost::asio::completion_token_for<void(boost::system::error_code, Reply)> Token>
auto async_call(const send_right& dest, Request&& request, Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code, Reply)>(
      detail::initiate_async_call_on_handler_executor<detail::deliver_typed<Reply>>(), token,
      &dest, detail::request_message(std::forward<Request>(request)));
}

}  // namespace machport
