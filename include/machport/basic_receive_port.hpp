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
#include <machport/detail/receive_object.hpp>
#include <machport/message.hpp>
#include <machport/receive_right.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution_context.hpp>

#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace machport {

namespace detail {
// What a basic_receive_port watches: its receive right.
struct receive_port_state {
  watched_port watch;
  receive_right right;
};
// How its receives complete: void(error_code, message), or void(error_code, T) decoded.
struct receive_port_completion {
  using signature = void(boost::system::error_code, message);
  using deliver = deliver_message;
  template <class T>
  using typed_signature = void(boost::system::error_code, T);
  template <class T>
  using typed_deliver = deliver_typed<T>;
};
}  // namespace detail

template <class Executor = boost::asio::any_io_executor>
class basic_receive_port
    : public detail::receive_object<Executor, detail::receive_port_state,
                                    detail::receive_port_completion> {
  using base = detail::receive_object<Executor, detail::receive_port_state,
                                      detail::receive_port_completion>;

 public:
  using typename base::executor_type;
  using typename base::native_handle_type;
  using typename base::receive_signature;  // void(error_code, message)

  template <class Executor1>
  struct rebind_executor {
    using other = basic_receive_port<Executor1>;
  };

  // A closed port (no right); assign() gives it one.
  explicit basic_receive_port(const executor_type& ex) : base(ex) {}
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  explicit basic_receive_port(ExecutionContext& ctx) : base(ctx) {}

  // An open port owning `right`. Throws std::invalid_argument for an empty right (the right is
  // then dropped, which releases nothing).
  basic_receive_port(const executor_type& ex, receive_right right) : base(ex) {
    assign(std::move(right));
  }
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
  basic_receive_port(ExecutionContext& ctx, receive_right right) : base(ctx) {
    assign(std::move(right));
  }

  // The other object is left closed; its pending operations move with the right.
  basic_receive_port(basic_receive_port&& other) noexcept = default;
  template <class Executor1>
    requires std::is_convertible_v<const Executor1&, executor_type>
  basic_receive_port(basic_receive_port<Executor1>&& other) noexcept : base(std::move(other)) {}

  // Closes this port (its pending operations complete with operation_aborted), then takes
  // the other's right, executor and pending operations.
  basic_receive_port& operator=(basic_receive_port&& other) noexcept = default;

  // Completes pending operations with operation_aborted and destroys the receive right.
  ~basic_receive_port() = default;

  // get_executor(), native_handle() (the receive right's name, or MACH_PORT_NULL when closed),
  // is_open(), cancel() (completes every pending receive with operation_aborted; messages stay
  // in the port) and close() (cancels, stops watching the port and destroys the receive right:
  // queued messages are destroyed with it, by the kernel) come from detail::receive_object.

  // The receive right, for the synchronous calls (make_send, queue_limit, receive, ...).
  // Never move it away or destroy it through its name: release() does that.
  const receive_right& right() const noexcept {
    return this->state() ? this->state()->right : empty_right();
  }

  // Opens the port with `right`. Throws boost::system::system_error (already_open) if the port
  // is open, std::invalid_argument if `right` is empty; `right` then stays with the caller.
  void assign(receive_right&& right) {
    this->throw_if_open("machport: assign");
    if (!right.valid()) throw std::invalid_argument("machport: assign: empty receive_right");
    auto p = std::make_unique<detail::receive_port_state>();
    p->right = std::move(right);
    const mach_port_name_t name = p->right.name();
    this->attach(std::move(p), name);
  }

  // Cancels, stops watching the port and gives the receive right back (queued messages stay
  // in it). Returns an empty right if closed.
  receive_right release() noexcept {
    auto p = this->detach();
    return p ? std::move(p->right) : receive_right{};
  }

  // Receiving (the overloads are defined in detail::receive_object):
  //
  //   async_receive([options,] token)                     -> void(error_code, message)
  //   async_receive(message&& storage, [options,] token)  -> void(error_code, message)
  //   async_receive<T>([options,] token)                  -> void(error_code, T)
  //
  // async_receive receives one message. On success the message is a received message owning
  // every right and region it carries. Errors: operation_aborted (cancelled, or the port was
  // closed / released / moved-to); MACH_RCV_INVALID_NAME (the port is closed);
  // MACH_RCV_PORT_DIED (the right left the task behind this object's back); the errors of the
  // synchronous receive other than a timeout. A message is taken from the port only for an
  // operation that is still pending, so a cancelled receive never loses one.
  //
  // Several pending receives complete in the order they were started, each with the next
  // message. Large messages are never dropped (MACH_RCV_LARGE, then a retry with a buffer of
  // the size the kernel reports). `options`: trailer level, first buffer size, guarded
  // descriptors.
  //
  // With `storage`, the message is received into it: whatever it held is released and its
  // buffer reused (hand back the message of the previous completion and a steady stream of
  // receives allocates nothing). On error the message passed to the handler is empty but
  // keeps the buffer.
  //
  // async_receive<T> decodes the message as T (a typed message, or a std::variant of typed
  // messages: the alternative whose id matches). The errors of async_receive(), and those of
  // decode<T>: a message that does not match is released (every right and region it carried)
  // and its error reported with a value-initialised T.
  //
  // Cancellation (the handler's associated cancellation slot): terminal, partial and total are
  // honoured while no message is bound to the operation; it then completes with
  // operation_aborted and the port keeps its messages.
  //
  // The handler never runs inside the initiating call: it is posted to the port's executor and
  // dispatched to the handler's associated executor. The operation holds outstanding work on
  // both, and allocates its state with the handler's associated allocator.

 private:
  static const receive_right& empty_right() noexcept {
    static const receive_right none;
    return none;
  }
};

}  // namespace machport
