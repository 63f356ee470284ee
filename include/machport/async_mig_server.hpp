// async_mig_serve: a MIG server on an Asio event loop, as libdispatch's dispatch_mig_server.
//
//   machport::receive_port port(io, machport::bootstrap_check_in("org.example.svc").value());
//   machport::async_mig_serve(port, example_server, sizeof(union __ReplyUnion__example),
//                             [](boost::system::error_code ec) { /* stopped: ec */ });
//
// Each request is served with mig_serve_one (mig_server.hpp): the demux runs, then the request
// and the reply are disposed of by MIG's rules (reply port, MIG_NO_REPLY, RetCode).
#pragma once

#include <machport/async_receive_options.hpp>
#include <machport/basic_receive_port.hpp>
#include <machport/error.hpp>
#include <machport/message.hpp>
#include <machport/mig_server.hpp>
#include <machport/receive.hpp>
#include <machport/result.hpp>

#include <mach/mig_errors.h>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace machport {

struct mig_serve_options {
  // The largest reply the demux writes, in bytes (for a mig-generated subsystem, the size of
  // its reply union); raised to sizeof(mig_reply_error_t) if smaller.
  std::size_t max_reply_size = 0;
  // At most this many requests are served in one go (0 counts as 1). After a completion the
  // server takes the requests already queued with zero-timeout receives, as libdispatch does
  // (its cap is 1000 per callout); past the cap it goes back to the event loop, so handlers
  // queued meanwhile (other ports, timers) run before the next request: one busy port does not
  // starve the others.
  std::size_t batch_limit = 1000;
  // How requests are received (trailer level, first buffer size, guarded descriptors). The
  // default trailer carries the sender's audit token, which a routine can check.
  async_receive_options receive{};
};

// An observer: called as observer(request_id, outcome) after each request. `outcome` is what
// mig_serve_one returned. Its errors are the request's alone (the server goes on): a reply that
// could not be sent (MACH_SEND_INVALID_DEST: the client died; MACH_SEND_TIMED_OUT: a send
// right's queue is full; message_errc::bad_header_size: the demux wrote a bad msgh_size).
// A message the kernel could not deliver whole (MACH_RCV_HEADER_ERROR|bits,
// MACH_RCV_BODY_ERROR|bits; what arrived was released) is reported with request_id 0.
template <class Observer>
concept mig_serve_observer =
    std::is_invocable_v<Observer&, mach_msg_id_t, const result<mig_served>&>;

// The observer the overloads without one use: per-request errors are dropped, as libdispatch
// drops them (it only logs).
struct mig_ignore_outcomes {
  void operator()(mach_msg_id_t, const result<mig_served>&) const noexcept {}
};

namespace detail {

// True for a receive error that cost one message (the kernel could not deliver it whole and
// released what arrived) and leaves the port usable: the server reports it and goes on.
inline bool mig_message_lost(const boost::system::error_code& ec) noexcept {
  if (ec.category() != msg_category()) return false;
  const auto code = static_cast<mach_msg_return_t>(ec.value()) & ~MACH_MSG_MASK;
  return code == MACH_RCV_HEADER_ERROR || code == MACH_RCV_BODY_ERROR;
}

// The allocator the server's state and its receives use: the handler's associated allocator,
// except std::allocator<void> (what composed operations such as async_compose's report for a
// handler without one) becomes Asio's recycling allocator, as in Asio's own operations. So a
// server started from a composed operation or a coroutine still receives without touching the
// heap in a steady state.
template <class Handler>
struct mig_serve_allocator {
  using associated =
      boost::asio::associated_allocator_t<Handler, boost::asio::recycling_allocator<void>>;
  static constexpr bool swap = std::is_same_v<associated, std::allocator<void>>;
  using type = std::conditional_t<swap, boost::asio::recycling_allocator<void>, associated>;
  static type get(const Handler& h) noexcept {
    if constexpr (swap) {
      return type();
    } else {
      return boost::asio::get_associated_allocator(h, boost::asio::recycling_allocator<void>());
    }
  }
};

// The server's state, allocated once with the handler's allocator. Between steps it is owned
// by the pending receive's handler (step_handler), so destroying that receive (the execution
// context shuts down) destroys the server without calling its handler; everything it holds
// (request, reply buffer, demux, observer) is released by destructors.
template <class Handler, class Executor, class Demux, class Observer>
class mig_serve_op {
  using alloc_type = typename mig_serve_allocator<Handler>::type;
  using op_alloc_type = typename std::allocator_traits<alloc_type>::template rebind_alloc<mig_serve_op>;
  using handler_executor = boost::asio::associated_executor_t<Handler, Executor>;
  using io_work_type = std::decay_t<decltype(boost::asio::prefer(
      std::declval<const Executor&>(), boost::asio::execution::outstanding_work.tracked))>;
  using handler_work_type = std::decay_t<decltype(boost::asio::prefer(
      std::declval<const handler_executor&>(), boost::asio::execution::outstanding_work.tracked))>;
  using slot_type = boost::asio::associated_cancellation_slot_t<Handler>;

  struct deleter {
    void operator()(mig_serve_op* op) const noexcept { op->destroy(); }
  };
  using owner = std::unique_ptr<mig_serve_op, deleter>;

 public:
  // The handler of each receive: holds the server and gives the receive the associations of
  // the server's handler (executor, allocator) and the server's own cancellation slot.
  class step_handler {
   public:
    using executor_type = handler_executor;
    using allocator_type = alloc_type;
    using cancellation_slot_type = boost::asio::cancellation_slot;

    explicit step_handler(owner op) noexcept : op_(std::move(op)) {}
    step_handler(step_handler&&) noexcept = default;
    step_handler& operator=(step_handler&&) noexcept = default;

    // Valid on a handler that holds the server (the receive asks before it moves this away).
    executor_type get_executor() const noexcept { return op_->handler_ex_; }
    allocator_type get_allocator() const noexcept { return op_->alloc_; }
    cancellation_slot_type get_cancellation_slot() const noexcept { return op_->cancel_state_.slot(); }

    void operator()(boost::system::error_code ec, message m) {
      mig_serve_op::on_receive(std::move(op_), ec, std::move(m));
    }

   private:
    owner op_;
  };

  template <class H, class D, class O>
  static void start(H&& handler, basic_receive_port<Executor>& port, D&& demux,
                    const mig_serve_options& options, O&& observer) {
    alloc_type alloc = mig_serve_allocator<Handler>::get(handler);
    op_alloc_type op_alloc(alloc);
    mig_serve_op* p = std::allocator_traits<op_alloc_type>::allocate(op_alloc, 1);
    try {
      std::allocator_traits<op_alloc_type>::construct(op_alloc, p, std::forward<H>(handler), alloc,
                                                      port, std::forward<D>(demux), options,
                                                      std::forward<O>(observer));
    } catch (...) {
      std::allocator_traits<op_alloc_type>::deallocate(op_alloc, p, 1);
      throw;
    }
    owner op(p);
    // The reply buffer is made now rather than inside the first request's handler.
    op->reply_.reserve(std::max(op->options_.max_reply_size, sizeof(mig_reply_error_t)));
    receive_next(std::move(op));
  }

  template <class H, class D, class O>
  mig_serve_op(H&& handler, const alloc_type& alloc, basic_receive_port<Executor>& port, D&& demux,
               const mig_serve_options& options, O&& observer)
      : handler_(std::forward<H>(handler)),
        alloc_(alloc),
        handler_ex_(boost::asio::get_associated_executor(handler_, port.get_executor())),
        io_work_(boost::asio::prefer(port.get_executor(),
                                     boost::asio::execution::outstanding_work.tracked)),
        handler_work_(boost::asio::prefer(handler_ex_, boost::asio::execution::outstanding_work.tracked)),
        slot_(boost::asio::get_associated_cancellation_slot(handler_)),
        // Every kind stops the server: it has no side effect beyond stopping (requests not yet
        // received stay in the port).
        cancel_state_(slot_, boost::asio::enable_total_cancellation()),
        port_(&port),
        demux_(std::forward<D>(demux)),
        observer_(std::forward<O>(observer)),
        options_(options) {
    options_.batch_limit = std::max<std::size_t>(options_.batch_limit, 1);
  }

 private:
  // Frees the state with the allocator it came from; disconnects the handler's slot first.
  void destroy() noexcept {
    if (slot_.is_connected()) slot_.clear();
    op_alloc_type op_alloc(alloc_);
    std::allocator_traits<op_alloc_type>::destroy(op_alloc, this);
    std::allocator_traits<op_alloc_type>::deallocate(op_alloc, this, 1);
  }

  // Receives the next request into the request buffer. Nothing touches the state afterwards:
  // the receive may complete on another thread at once.
  static void receive_next(owner op) {
    basic_receive_port<Executor>& port = *op->port_;
    const async_receive_options& options = op->options_.receive;  // copied by the receive
    message storage = std::move(op->request_);
    port.async_receive(std::move(storage), options, step_handler(std::move(op)));
  }

  // One step, on the handler's executor: serves the request received and those already queued
  // (up to batch_limit), then receives again, or completes.
  static void on_receive(owner op, boost::system::error_code ec, message&& m) {
    op->request_ = std::move(m);  // a request, or (on error) the empty buffer
    if (ec) {
      if (!mig_message_lost(ec)) return complete(std::move(op), ec);
      op->observer_(mach_msg_id_t{0}, result<mig_served>(ec));
      if (op->stopped()) return complete(std::move(op), boost::asio::error::operation_aborted);
      return receive_next(std::move(op));
    }
    std::size_t served = 0;
    bool have_request = true;
    for (;;) {
      if (have_request) {
        const mach_msg_id_t id = op->request_.id();
        const result<mig_served> r =
            mig_serve_one(op->request_, op->demux_, op->options_.max_reply_size, op->reply_);
        op->observer_(id, r);
      } else {
        op->observer_(mach_msg_id_t{0}, result<mig_served>(ec));
      }
      // A request already received when cancellation came (or when a routine closed the port)
      // was served first.
      if (op->stopped()) return complete(std::move(op), boost::asio::error::operation_aborted);
      if (++served >= op->options_.batch_limit) break;
      auto r = receive(op->port_->right(), op->request_, op->options_.receive.polling());
      if (r) {
        have_request = true;
      } else if (mig_message_lost(r.error())) {
        have_request = false;
        ec = r.error();
      } else {
        break;  // empty (MACH_RCV_TIMED_OUT); any other error is the next receive's to report
      }
    }
    receive_next(std::move(op));
  }

  bool stopped() const noexcept {
    return cancel_state_.cancelled() != boost::asio::cancellation_type::none || !port_->is_open();
  }

  // Called on the handler's executor (from a step): the handler runs here, after the state is
  // freed; the work guards last until it returned.
  static void complete(owner op, boost::system::error_code ec) {
    Handler handler(std::move(op->handler_));
    io_work_type io_work = op->io_work_;
    handler_work_type handler_work = op->handler_work_;
    op.reset();
    std::move(handler)(ec);
  }

  Handler handler_;
  alloc_type alloc_;
  handler_executor handler_ex_;
  io_work_type io_work_;
  handler_work_type handler_work_;
  slot_type slot_;
  boost::asio::cancellation_state cancel_state_;
  basic_receive_port<Executor>* port_;
  Demux demux_;
  Observer observer_;
  mig_serve_options options_;
  message request_;
  message reply_;
};

template <class Executor>
class initiate_async_mig_serve {
 public:
  using executor_type = Executor;
  explicit initiate_async_mig_serve(basic_receive_port<Executor>& port) noexcept : port_(&port) {}
  executor_type get_executor() const noexcept { return port_->get_executor(); }

  template <class Handler, class Demux, class Observer>
  void operator()(Handler&& handler, Demux&& demux, const mig_serve_options& options,
                  Observer&& observer) const {
    using op = mig_serve_op<std::decay_t<Handler>, Executor, std::decay_t<Demux>,
                            std::decay_t<Observer>>;
    op::start(std::forward<Handler>(handler), *port_, std::forward<Demux>(demux), options,
              std::forward<Observer>(observer));
  }

 private:
  basic_receive_port<Executor>* port_;
};

}  // namespace detail

// Serves MIG requests arriving on `port` until stopped: for each request, runs `demux` (a
// mig-generated `<subsystem>_server` function, or any callable with its contract; see
// mig_demux in mig_server.hpp) and disposes of request and reply as mig_serve_one documents:
// the reply is sent to the request's reply port without waiting; MIG_NO_REPLY leaves the reply
// right to the routine; an error RetCode, or an unknown id (MIG_BAD_ID reply), releases the
// request's rights. `observer(request_id, outcome)` is called after each request (see
// mig_serve_observer); per-request failures never stop the server.
//
// Completion signature: void(error_code). The server completes only when it stops:
//  - operation_aborted: cancelled through the handler's cancellation slot (terminal, partial
//    or total), by port.cancel() while it waits for a request, or the port was closed (by
//    close(), release(), or a routine or the observer closing it); requests still queued stay
//    in the port. A request already taken from the port when cancellation came is served
//    first;
//  - MACH_RCV_INVALID_NAME: the port was closed when the server started;
//  - MACH_RCV_PORT_DIED and the other errors of async_receive that concern the port rather
//    than one message.
//
// Requests are received into one message and replies built in one buffer, both reused: a
// steady stream of requests allocates nothing once the buffers are large enough (the receives'
// operations come from the handler's allocator, Asio's recycling allocator by default).
// Requests are served one at a time, in the order they arrive (see mig_serve_options for
// batching).
//
// The demux and the observer are moved into the operation, called on the handler's associated
// executor (bind a strand to serialise them with other handlers), and destroyed before the
// handler runs (pass std::ref to keep their state). An exception they throw propagates out of
// the executor's run(): the server ends then, its handler is destroyed without being called,
// and the request being served is released. The handler never runs inside this call. The port
// must stay where it is (not moved or destroyed) until the handler runs; cancellation signals
// must be emitted from the handler's executor, as for every Asio composed operation.
template <class Executor, mig_demux Demux, mig_serve_observer Observer,
          boost::asio::completion_token_for<void(boost::system::error_code)> Token =
              boost::asio::default_completion_token_t<Executor>>
auto async_mig_serve(basic_receive_port<Executor>& port, Demux demux,
                     const mig_serve_options& options, Observer observer,
                     Token&& token = boost::asio::default_completion_token_t<Executor>()) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
      detail::initiate_async_mig_serve<Executor>(port), token, std::move(demux), options,
      std::move(observer));
}

// The same, per-request failures ignored.
template <class Executor, mig_demux Demux,
          boost::asio::completion_token_for<void(boost::system::error_code)> Token =
              boost::asio::default_completion_token_t<Executor>>
  requires(!mig_serve_observer<Token>)
auto async_mig_serve(basic_receive_port<Executor>& port, Demux demux,
                     const mig_serve_options& options,
                     Token&& token = boost::asio::default_completion_token_t<Executor>()) {
  return async_mig_serve(port, std::move(demux), options, mig_ignore_outcomes{},
                         std::forward<Token>(token));
}

// The same with the default options and replies of up to `max_reply_size` bytes.
template <class Executor, mig_demux Demux,
          boost::asio::completion_token_for<void(boost::system::error_code)> Token =
              boost::asio::default_completion_token_t<Executor>>
auto async_mig_serve(basic_receive_port<Executor>& port, Demux demux, std::size_t max_reply_size,
                     Token&& token = boost::asio::default_completion_token_t<Executor>()) {
  mig_serve_options options;
  options.max_reply_size = max_reply_size;
  return async_mig_serve(port, std::move(demux), options, mig_ignore_outcomes{},
                         std::forward<Token>(token));
}

}  // namespace machport
