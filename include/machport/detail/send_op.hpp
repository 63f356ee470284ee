// send_handler_op: a pending async_send that owns the user's completion handler.
//
// The same rules as receive_handler_op (detail/async_op.hpp): allocated with the handler's
// associated allocator (recycling_allocator by default) and freed before the handler runs;
// outstanding work on the I/O executor and on the handler's associated executor while
// pending; completion posted to the I/O executor and dispatched from there to the handler's
// executor, so the handler never runs inside the initiating function or under the engine's
// lock; terminal, partial and total cancellation honoured while the message waits for room
// (it is then in this process, not in the kernel: cancelling hands it back, never sends it).
#pragma once

#include <machport/detail/send_engine.hpp>
#include <machport/message.hpp>

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

template <class Handler, class IoExecutor>
class send_handler_op final : public send_op {
  using alloc_type = boost::asio::associated_allocator_t<Handler, boost::asio::recycling_allocator<void>>;
  using op_alloc_type =
      typename std::allocator_traits<alloc_type>::template rebind_alloc<send_handler_op>;
  using handler_executor = boost::asio::associated_executor_t<Handler, IoExecutor>;
  using io_work_type = std::decay_t<decltype(boost::asio::prefer(
      std::declval<const IoExecutor&>(), boost::asio::execution::outstanding_work.tracked))>;
  using handler_work_type = std::decay_t<decltype(boost::asio::prefer(
      std::declval<const handler_executor&>(), boost::asio::execution::outstanding_work.tracked))>;
  using slot_type = boost::asio::associated_cancellation_slot_t<Handler>;

  // Emplaced in the handler's cancellation slot; `key` is compared, never dereferenced.
  // (A constructor, not an aggregate: slot.emplace constructs with parentheses, which clang
  // before 16 does not accept for aggregates.)
  struct cancel_handler {
    cancel_handler(send_engine* e, mach_port_name_t d, const send_op* k) noexcept
        : engine(e), dest(d), key(k) {}
    send_engine* engine;
    mach_port_name_t dest;
    const send_op* key;
    void operator()(boost::asio::cancellation_type type) const {
      using ct = boost::asio::cancellation_type;
      if ((type & (ct::terminal | ct::partial | ct::total)) != ct::none) engine->cancel(dest, key);
    }
  };

 public:
  // Allocates an operation for `handler` (which it takes) owning `msg`. Throws what the
  // allocator or the handler's move throws; `msg` is then untouched.
  template <class H>
  static send_handler_op* create(H&& handler, const IoExecutor& io_ex, message&& msg) {
    alloc_type alloc = boost::asio::get_associated_allocator(
        handler, boost::asio::recycling_allocator<void>());
    op_alloc_type op_alloc(alloc);
    send_handler_op* op = std::allocator_traits<op_alloc_type>::allocate(op_alloc, 1);
    try {
      std::allocator_traits<op_alloc_type>::construct(op_alloc, op, std::forward<H>(handler), io_ex);
    } catch (...) {
      std::allocator_traits<op_alloc_type>::deallocate(op_alloc, op, 1);
      throw;
    }
    op->msg = std::move(msg);
    return op;
  }

  // Sends op->msg to the port `dest` names (COPY_SEND), waiting for room if needed.
  static void start(send_handler_op* op, send_engine& engine, mach_port_name_t dest) noexcept {
    op->slot_ = boost::asio::get_associated_cancellation_slot(op->handler_);
    if (op->slot_.is_connected()) op->slot_.template emplace<cancel_handler>(&engine, dest, op);
    engine.start(dest, op);
  }
  // Sends op->msg through `dest` (never waits: nothing to cancel).
  static void start(send_handler_op* op, send_engine& engine, send_once_right&& dest) noexcept {
    engine.start(std::move(dest), op);
  }

  // Takes an lvalue handler by copy, an rvalue by move.
  template <class H>
  send_handler_op(H&& h, const IoExecutor& io_ex)
      : send_op(&send_handler_op::do_complete, &send_handler_op::do_destroy),
        handler_(std::forward<H>(h)),
        io_work_(boost::asio::prefer(io_ex, boost::asio::execution::outstanding_work.tracked)),
        handler_work_(boost::asio::prefer(boost::asio::get_associated_executor(handler_, io_ex),
                                          boost::asio::execution::outstanding_work.tracked)) {}

 private:
  static void free(send_handler_op* op, const alloc_type& alloc) noexcept {
    op_alloc_type op_alloc(alloc);
    std::allocator_traits<op_alloc_type>::destroy(op_alloc, op);
    std::allocator_traits<op_alloc_type>::deallocate(op_alloc, op, 1);
  }

  static void do_complete(send_op* base) noexcept {
    auto* self = static_cast<send_handler_op*>(base);
    alloc_type alloc = boost::asio::get_associated_allocator(
        self->handler_, boost::asio::recycling_allocator<void>());
    handler_work_type hex = self->handler_work_;
    io_work_type io_ex = self->io_work_;
    auto final = [h = std::move(self->handler_), ec = self->ec, m = std::move(self->msg),
                  slot = self->slot_]() mutable {
      if (slot.is_connected()) slot.clear();  // completed: a later emit finds nothing
      std::move(h)(ec, std::move(m));
    };
    free(self, alloc);
    boost::asio::post(io_ex, boost::asio::bind_executor(
                                 hex, boost::asio::bind_allocator(alloc, std::move(final))));
  }

  static void do_destroy(send_op* base) noexcept {
    auto* self = static_cast<send_handler_op*>(base);
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
