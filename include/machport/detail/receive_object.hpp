// receive_object: the I/O object plumbing shared by basic_receive_port and
// basic_receive_port_set.
//
// Both are a name watched by the context's port_engine (a receive right, or a port set) plus
// the rights behind it. That state lives apart from the object, in a `State` that holds a
// `watch` (detail::watched_port) whose address is the knote's cookie: moving the object moves
// a pointer, and the knote stays valid. This base keeps the executor, the service and the
// state, and implements what the two objects do alike: construction, move, close on
// destruction, cancel, and the async_receive overloads. How a receive completes differs (a
// set also reports the member); `Completion` says it:
//
//   struct Completion {
//     using signature = void(error_code, ...message);   // of async_receive()
//     using deliver = ...;                               // its policy (detail/async_op.hpp)
//     template <class T> using typed_signature = ...;    // of async_receive<T>()
//     template <class T> using typed_deliver = ...;
//   };
//
// The public documentation of each overload is in the I/O object's header.
#pragma once

#include <machport/async_receive_options.hpp>
#include <machport/detail/async_op.hpp>
#include <machport/detail/port_service.hpp>
#include <machport/message.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/system/system_error.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace machport::detail {

template <class Executor, class State, class Completion>
class receive_object {
 public:
  using executor_type = Executor;
  using native_handle_type = mach_port_name_t;
  // The completion signatures of async_receive() and async_receive<T>().
  using receive_signature = typename Completion::signature;
  template <class T>
  using typed_receive_signature = typename Completion::template typed_signature<T>;

  executor_type get_executor() const noexcept { return executor_; }
  // The watched name (the receive right's, or the set's), or MACH_PORT_NULL when closed.
  native_handle_type native_handle() const noexcept {
    return state_ ? state_->watch.name() : MACH_PORT_NULL;
  }
  bool is_open() const noexcept { return state_ != nullptr; }

  // Completes every pending receive with operation_aborted. Messages stay where they are.
  void cancel() noexcept {
    if (state_) service_->engine().cancel_all(state_->watch);
  }

  // Cancels, stops watching and destroys the rights (queued messages are destroyed with
  // them, by the kernel). Does nothing if closed.
  void close() noexcept { (void)detach(); }

  // Receives one message; the completion as `Completion` says.
  template <boost::asio::completion_token_for<receive_signature> Token =
                boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return async_receive(message{}, async_receive_options{}, std::forward<Token>(token));
  }
  template <boost::asio::completion_token_for<receive_signature> Token =
                boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const async_receive_options& options,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return async_receive(message{}, options, std::forward<Token>(token));
  }
  template <boost::asio::completion_token_for<receive_signature> Token =
                boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(message&& storage, const async_receive_options& options = {},
                     Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return initiate_receive<receive_signature, typename Completion::deliver>(
        std::forward<Token>(token), std::move(storage), options);
  }

  // Receives one message and decodes it as T.
  template <class T, boost::asio::completion_token_for<typed_receive_signature<T>> Token =
                         boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return async_receive<T>(async_receive_options{}, std::forward<Token>(token));
  }
  template <class T, boost::asio::completion_token_for<typed_receive_signature<T>> Token =
                         boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const async_receive_options& options,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return initiate_receive<typed_receive_signature<T>,
                            typename Completion::template typed_deliver<T>>(
        std::forward<Token>(token), message{}, options);
  }

 protected:
  // A closed object.
  explicit receive_object(const executor_type& ex) : executor_(ex), service_(&service_for(ex)) {}
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  explicit receive_object(ExecutionContext& ctx) : receive_object(executor_type(ctx.get_executor())) {}

  // The other object is left closed; its pending operations move with the state.
  receive_object(receive_object&& other) noexcept
      : executor_(other.executor_), service_(other.service_), state_(std::move(other.state_)) {}
  template <class Executor1>
    requires std::is_convertible_v<const Executor1&, executor_type>
  receive_object(receive_object<Executor1, State, Completion>&& other) noexcept
      : executor_(other.executor_), service_(other.service_), state_(std::move(other.state_)) {}

  // Closes this object (its pending operations complete with operation_aborted), then takes
  // the other's state, executor and pending operations.
  receive_object& operator=(receive_object&& other) noexcept {
    if (this != &other) {
      close();
      executor_ = other.executor_;
      service_ = other.service_;
      state_ = std::move(other.state_);
    }
    return *this;
  }

  ~receive_object() { close(); }

  State* state() const noexcept { return state_.get(); }
  port_engine& engine() const noexcept { return service_->engine(); }

  // Opens the object with `s`, watching `name` (which `s` owns). Precondition: closed
  // (callers check with throw_if_open before they move any right into a state).
  void attach(std::unique_ptr<State> s, mach_port_name_t name) noexcept {
    engine().attach(s->watch, name);
    state_ = std::move(s);
  }
  // Throws boost::system::system_error (already_open) if the object is open.
  void throw_if_open(const char* what) const {
    if (state_) throw boost::system::system_error(boost::asio::error::already_open, what);
  }

  // Stops watching (the knote goes before any right can be destroyed or moved away; pending
  // operations complete with operation_aborted) and returns the state, empty if closed.
  std::unique_ptr<State> detach() noexcept {
    if (state_) engine().detach(state_->watch);
    return std::move(state_);
  }

 private:
  template <class, class, class>
  friend class receive_object;

  // Starts a receive on the watched name whose result reaches a handler of `Signature`
  // through `Deliver` (detail/async_op.hpp). A closed object's operation completes with
  // MACH_RCV_INVALID_NAME (posted, like every completion).
  template <class Signature, class Deliver, class Token>
  auto initiate_receive(Token&& token, message&& storage, const async_receive_options& options) {
    return boost::asio::async_initiate<Token, Signature>(initiation<Deliver>(this), token,
                                                         std::move(storage), options);
  }

  template <class Deliver>
  class initiation {
   public:
    using executor_type = Executor;
    explicit initiation(receive_object* self) noexcept : self_(self) {}
    executor_type get_executor() const noexcept { return self_->get_executor(); }

    template <class Handler>
    void operator()(Handler&& handler, message&& storage, const async_receive_options& options) const {
      using op = receive_handler_op<std::decay_t<Handler>, Executor, Deliver>;
      watched_port& watch = self_->state_ ? self_->state_->watch : closed_port();
      op::start(std::forward<Handler>(handler), self_->executor_, self_->engine(), watch,
                std::move(storage), options);
    }

   private:
    receive_object* self_;
  };

  static port_service& service_for(const executor_type& ex) {
    return boost::asio::use_service<port_service>(
        boost::asio::query(ex, boost::asio::execution::context));
  }
  // Never attached: an operation started on it completes with MACH_RCV_INVALID_NAME.
  static watched_port& closed_port() noexcept {
    static watched_port never_attached;
    return never_attached;
  }

  executor_type executor_;
  port_service* service_;
  std::unique_ptr<State> state_;
};

}  // namespace machport::detail
