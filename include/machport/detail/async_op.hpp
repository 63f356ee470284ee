// receive_handler_op: a pending receive that owns the user's completion handler.
//
// It follows Asio's requirements for asynchronous operations:
//  - it is allocated with the handler's associated allocator (recycling_allocator by default,
//    so a steady stream of operations does not reach the heap) and freed before the handler
//    runs;
//  - while pending it holds outstanding work on the I/O executor and on the handler's
//    associated executor, so run() does not return while it waits;
//  - it completes by posting to the I/O executor and dispatching from there to the handler's
//    associated executor: the handler never runs inside the initiating function, on the
//    reactor's thread under its locks, or inside a cancellation signal's emit;
//  - if the handler has a connected cancellation slot, terminal, partial and total
//    cancellation are honoured while the operation is queued (it has no side effects yet);
//    once a message is bound to it, it completes successfully.
#pragma once

#include <machport/detail/port_engine.hpp>
#include <machport/message.hpp>
#include <machport/typed.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/recycling_allocator.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace machport::detail {

// How a received message is handed to a handler of signature void(error_code, message).
struct deliver_message {
  template <class Handler>
  static void deliver(Handler& h, boost::system::error_code ec, message&& m) {
    std::move(h)(ec, std::move(m));
  }
};

// ... of signature void(error_code, T): decoded on the handler's executor. A message that does
// not decode as T is released (every right and region) and its error reported, with T{}.
template <class T>
struct deliver_typed {
  template <class Handler>
  static void deliver(Handler& h, boost::system::error_code ec, message&& m) {
    if (ec) {
      std::move(h)(ec, T{});
      return;
    }
    result<T> r = decode<T>(std::move(m));
    if (!r) {
      std::move(h)(r.error(), T{});
      return;
    }
    std::move(h)(boost::system::error_code{}, std::move(r).value());
  }
};

template <class Handler, class IoExecutor, class Deliver>
class receive_handler_op final : public receive_op {
  using alloc_type = boost::asio::associated_allocator_t<Handler, boost::asio::recycling_allocator<void>>;
  using op_alloc_type =
      typename std::allocator_traits<alloc_type>::template rebind_alloc<receive_handler_op>;
  using handler_executor = boost::asio::associated_executor_t<Handler, IoExecutor>;
  using io_work_type = std::decay_t<decltype(boost::asio::prefer(
      std::declval<const IoExecutor&>(), boost::asio::execution::outstanding_work.tracked))>;
  using handler_work_type = std::decay_t<decltype(boost::asio::prefer(
      std::declval<const handler_executor&>(), boost::asio::execution::outstanding_work.tracked))>;
  using slot_type = boost::asio::associated_cancellation_slot_t<Handler>;

  // Emplaced in the handler's cancellation slot; `key` is compared, never dereferenced.
  struct cancel_handler {
    cancel_handler(port_engine* e, watched_port* p, const receive_op* k) noexcept
        : engine(e), port(p), key(k) {}
    port_engine* engine;
    watched_port* port;
    const receive_op* key;
    void operator()(boost::asio::cancellation_type type) const {
      using ct = boost::asio::cancellation_type;
      if ((type & (ct::terminal | ct::partial | ct::total)) != ct::none) engine->cancel(*port, key);
    }
  };

 public:
  // Allocates an operation for `handler` (which it takes), with `storage` as the buffer to
  // receive into, and starts it on `port`.
  template <class H>
  static void start(H&& handler, const IoExecutor& io_ex, port_engine& engine, watched_port& port,
                    message&& storage, const async_receive_options& options) {
    alloc_type alloc = boost::asio::get_associated_allocator(
        handler, boost::asio::recycling_allocator<void>());
    op_alloc_type op_alloc(alloc);
    receive_handler_op* op = std::allocator_traits<op_alloc_type>::allocate(op_alloc, 1);
    try {
      std::allocator_traits<op_alloc_type>::construct(op_alloc, op, std::forward<H>(handler), io_ex);
    } catch (...) {
      std::allocator_traits<op_alloc_type>::deallocate(op_alloc, op, 1);
      throw;
    }
    op->msg = std::move(storage);
    op->options = options;
    op->slot_ = boost::asio::get_associated_cancellation_slot(op->handler_);
    if (op->slot_.is_connected()) op->slot_.template emplace<cancel_handler>(&engine, &port, op);
    engine.start(port, op);
  }

  template <class H>
  receive_handler_op(H&& h, const IoExecutor& io_ex)
      : receive_op(&receive_handler_op::do_complete, &receive_handler_op::do_destroy),
        handler_(std::forward<H>(h)),
        io_work_(boost::asio::prefer(io_ex, boost::asio::execution::outstanding_work.tracked)),
        handler_work_(boost::asio::prefer(boost::asio::get_associated_executor(handler_, io_ex),
                                          boost::asio::execution::outstanding_work.tracked)) {}

 private:
  // Frees the operation with the handler's allocator (read before the handler moved out).
  static void free(receive_handler_op* op, const alloc_type& alloc) noexcept {
    op_alloc_type op_alloc(alloc);
    std::allocator_traits<op_alloc_type>::destroy(op_alloc, op);
    std::allocator_traits<op_alloc_type>::deallocate(op_alloc, op, 1);
  }

  static void do_complete(receive_op* base) noexcept {
    auto* self = static_cast<receive_handler_op*>(base);
    alloc_type alloc = boost::asio::get_associated_allocator(
        self->handler_, boost::asio::recycling_allocator<void>());
    handler_work_type hex = self->handler_work_;
    io_work_type io_ex = self->io_work_;
    // Runs on the handler's executor (post to the I/O executor, which dispatches to `hex`).
    auto final = [h = std::move(self->handler_), ec = self->ec, m = std::move(self->msg),
                  slot = self->slot_]() mutable {
      // Completed: a later emit must find nothing to cancel.
      if (slot.is_connected()) slot.clear();
      Deliver::deliver(h, ec, std::move(m));
    };
    free(self, alloc);
    // post() keeps work on both executors until the handler has run.
    boost::asio::post(io_ex, boost::asio::bind_executor(
                                 hex, boost::asio::bind_allocator(alloc, std::move(final))));
  }

  static void do_destroy(receive_op* base) noexcept {
    auto* self = static_cast<receive_handler_op*>(base);
    if (self->slot_.is_connected()) self->slot_.clear();
    alloc_type alloc = boost::asio::get_associated_allocator(
        self->handler_, boost::asio::recycling_allocator<void>());
    free(self, alloc);
  }

  Handler handler_;
  io_work_type io_work_;
  handler_work_type handler_work_;
  slot_type slot_;
};

}  // namespace machport::detail
