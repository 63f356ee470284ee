// basic_receive_port: a Mach receive right as an Asio I/O object.
//
//   machport::receive_port port(io, machport::receive_right::allocate().value());
//   auto [ec, msg] = co_await port.async_receive(asio::as_tuple(asio::use_awaitable));
//
// Thread safety: distinct objects are safe. A shared object is safe for concurrent
// async_receive, cancel and the handlers' own cancellation slots (one mutex per execution
// context guards the queues); close, release, assign and move need exclusive access, as with
// every Asio I/O object. The execution context must outlive the object.
#pragma once

#include <machport/async_receive_options.hpp>
#include <machport/detail/async_op.hpp>
#include <machport/detail/port_service.hpp>
#include <machport/message.hpp>
#include <machport/receive_right.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/system/system_error.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace machport {

template <class Executor = boost::asio::any_io_executor>
class basic_receive_port {
  // The knote's cookie is the watched_port's address, so it lives apart from the object
  // (moving the object moves the pointer).
  struct impl {
    detail::watched_port watch;
    receive_right right;
  };

 public:
  using executor_type = Executor;
  using native_handle_type = mach_port_name_t;
  // The completion signature of async_receive().
  using receive_signature = void(boost::system::error_code, message);

  template <class Executor1>
  struct rebind_executor {
    using other = basic_receive_port<Executor1>;
  };

  // A closed port (no right); assign() gives it one.
  explicit basic_receive_port(const executor_type& ex)
      : executor_(ex), service_(&service_for(ex)) {}
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  explicit basic_receive_port(ExecutionContext& ctx)
      : basic_receive_port(executor_type(ctx.get_executor())) {}

  // An open port owning `right`. Throws std::invalid_argument for an empty right (the right is
  // then dropped, which releases nothing).
  basic_receive_port(const executor_type& ex, receive_right right) : basic_receive_port(ex) {
    assign(std::move(right));
  }
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  basic_receive_port(ExecutionContext& ctx, receive_right right)
      : basic_receive_port(executor_type(ctx.get_executor()), std::move(right)) {}

  // The other object is left closed; its pending operations move with the right.
  basic_receive_port(basic_receive_port&& other) noexcept
      : executor_(other.executor_), service_(other.service_), impl_(std::move(other.impl_)) {}
  template <class Executor1>
    requires std::is_convertible_v<const Executor1&, executor_type>
  basic_receive_port(basic_receive_port<Executor1>&& other) noexcept
      : executor_(other.executor_), service_(other.service_), impl_(std::move(other.impl_)) {}

  // Closes this port (its pending operations complete with operation_aborted), then takes
  // the other's right, executor and pending operations.
  basic_receive_port& operator=(basic_receive_port&& other) noexcept {
    if (this != &other) {
      close();
      executor_ = other.executor_;
      service_ = other.service_;
      impl_ = std::move(other.impl_);
    }
    return *this;
  }

  // Completes pending operations with operation_aborted and destroys the receive right.
  ~basic_receive_port() { close(); }

  executor_type get_executor() const noexcept { return executor_; }
  // The receive right's name, or MACH_PORT_NULL when closed.
  native_handle_type native_handle() const noexcept { return impl_ ? impl_->right.name() : MACH_PORT_NULL; }
  // The receive right, for the synchronous calls (make_send, queue_limit, receive, ...).
  // Never move it away or destroy it through its name: release() does that.
  const receive_right& right() const noexcept { return impl_ ? impl_->right : empty_right(); }
  bool is_open() const noexcept { return impl_ != nullptr; }

  // Opens the port with `right`. Throws boost::system::system_error (already_open) if the port
  // is open, std::invalid_argument if `right` is empty; `right` then stays with the caller.
  void assign(receive_right&& right) {
    if (impl_) throw boost::system::system_error(boost::asio::error::already_open, "machport: assign");
    if (!right.valid()) throw std::invalid_argument("machport: assign: empty receive_right");
    auto p = std::make_unique<impl>();
    p->right = std::move(right);
    service_->engine().attach(p->watch, p->right.name());
    impl_ = std::move(p);
  }

  // Completes every pending receive with operation_aborted. Messages stay in the port.
  void cancel() noexcept {
    if (impl_) service_->engine().cancel_all(impl_->watch);
  }

  // Cancels, stops watching the port and destroys the receive right (queued messages are
  // destroyed with it, by the kernel). Does nothing if closed.
  void close() noexcept { (void)release(); }

  // Cancels, stops watching the port and gives the receive right back (queued messages stay
  // in it). Returns an empty right if closed.
  receive_right release() noexcept {
    if (!impl_) return {};
    // The knote goes before the right can be destroyed or moved away.
    service_->engine().detach(impl_->watch);
    receive_right r = std::move(impl_->right);
    impl_.reset();
    return r;
  }

  // Receives one message.
  //
  // Completion signature: void(error_code, message). On success the message is a received
  // message owning every right and region it carries. Errors: operation_aborted (cancelled,
  // or the port was closed / released / moved-to); MACH_RCV_INVALID_NAME (the port is closed);
  // MACH_RCV_PORT_DIED (the right left the task behind this object's back); the errors of the
  // synchronous receive other than a timeout. A message is taken from the port only for an
  // operation that is still pending, so a cancelled receive never loses one.
  //
  // Several pending receives complete in the order they were started, each with the next
  // message. Large messages are never dropped (MACH_RCV_LARGE, then a retry with a buffer of
  // the size the kernel reports).
  //
  // Cancellation (the handler's associated cancellation slot): terminal, partial and total are
  // honoured while no message is bound to the operation; it then completes with
  // operation_aborted and the port keeps its messages.
  //
  // The handler never runs inside this call: it is posted to the port's executor and
  // dispatched to the handler's associated executor. The operation holds outstanding work on
  // both, and allocates its state with the handler's associated allocator.
  template <boost::asio::completion_token_for<receive_signature> Token =
                boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return async_receive(message{}, async_receive_options{}, std::forward<Token>(token));
  }
  // The same with options (trailer level, first buffer size, guarded descriptors).
  template <boost::asio::completion_token_for<receive_signature> Token =
                boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const async_receive_options& options,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return async_receive(message{}, options, std::forward<Token>(token));
  }
  // The same, receiving into `storage`: whatever it held is released and its buffer reused
  // (hand back the message of the previous completion and a steady stream of receives
  // allocates nothing). On error the message passed to the handler is empty but keeps the
  // buffer.
  template <boost::asio::completion_token_for<receive_signature> Token =
                boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(message&& storage, const async_receive_options& options = {},
                     Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return boost::asio::async_initiate<Token, receive_signature>(
        initiate_async_receive<detail::deliver_message>(this), token, std::move(storage), options);
  }

  // Receives one message and decodes it as T (a typed message, or a std::variant of typed
  // messages: the alternative whose id matches).
  //
  // Completion signature: void(error_code, T). The errors of async_receive(), and those of
  // decode<T>: a message that does not match is released (every right and region it carried)
  // and its error reported with a value-initialised T. Cancellation, executors and thread
  // safety as async_receive().
  template <class T, boost::asio::completion_token_for<void(boost::system::error_code, T)> Token =
                         boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return async_receive<T>(async_receive_options{}, std::forward<Token>(token));
  }
  template <class T, boost::asio::completion_token_for<void(boost::system::error_code, T)> Token =
                         boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const async_receive_options& options,
                     Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, T)>(
        initiate_async_receive<detail::deliver_typed<T>>(this), token, message{}, options);
  }

 private:
  template <class>
  friend class basic_receive_port;

  template <class Deliver>
  class initiate_async_receive {
   public:
    using executor_type = Executor;
    explicit initiate_async_receive(basic_receive_port* self) noexcept : self_(self) {}
    executor_type get_executor() const noexcept { return self_->get_executor(); }

    template <class Handler>
    void operator()(Handler&& handler, message&& storage, const async_receive_options& options) const {
      using op = detail::receive_handler_op<std::decay_t<Handler>, Executor, Deliver>;
      // A closed port has no watched_port: an unattached one makes the operation complete
      // with MACH_RCV_INVALID_NAME (posted, like every completion).
      detail::watched_port& watch = self_->impl_ ? self_->impl_->watch : closed_port();
      op::start(std::forward<Handler>(handler), self_->executor_, self_->service_->engine(), watch,
                std::move(storage), options);
    }

   private:
    basic_receive_port* self_;
  };

  static detail::port_service& service_for(const executor_type& ex) {
    return boost::asio::use_service<detail::port_service>(
        boost::asio::query(ex, boost::asio::execution::context));
  }
  static detail::watched_port& closed_port() noexcept {
    static detail::watched_port never_attached;
    return never_attached;
  }
  static const receive_right& empty_right() noexcept {
    static const receive_right none;
    return none;
  }

  executor_type executor_;
  detail::port_service* service_;
  std::unique_ptr<impl> impl_;
};

}  // namespace machport
