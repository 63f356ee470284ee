// reactor_glue: the only file that touches Asio's internal reactor interface.
//
// Why: the kqueue that watches Mach ports must be watched by the execution context's own
// reactor, so that machport works with an unmodified io_context and has no thread of its own.
// The public way, posix::stream_descriptor::async_wait, sets FIONBIO on the fd first; a kqueue
// refuses that with ENOTTY on XNU, so with Boost 1.81 to 1.85 every wait fails at once on a
// Mac. Instead the fd is registered the way Asio's own signal_set_service registers its pipe:
// reactor::register_internal_descriptor with a reactor_op whose perform never finishes. No
// ioctl or fcntl is ever issued on the fd.
//
// The interface used (register_internal_descriptor, deregister_internal_descriptor,
// cleanup_descriptor_data, init_task, reactor_op) is the same in the kqueue reactor (macOS),
// the epoll reactor (Linux) and the select reactor, and is checked below at compile time.
//
// Contract with the reactor:
//  - perform must return not_done: anything else completes the op and the registration dies.
//  - From register_internal_descriptor on, the reactor owns the op, even if it fails. The op is
//    freed only in do_complete: with a null owner when destroyed (deregistration, or the
//    reactor's shutdown); with a non-null owner when the reactor completed it (the kqueue
//    reactor's EV_ERROR path): the registration is then dead, which `lost` reports.
//  - perform runs under the reactor's descriptor mutex, one at a time; stop() takes that mutex
//    and frees the op synchronously: after it returns no perform runs. Never call stop() while
//    holding a lock perform takes.
#pragma once

#include <boost/asio/io_context.hpp>  // a public header first: the reactor headers need it
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/version.hpp>

#include <type_traits>

#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#error "machport: BOOST_ASIO_HAS_IO_URING_AS_DEFAULT has no reactor to register the kqueue fd with"
#endif
#if defined(BOOST_ASIO_HAS_IOCP) || defined(BOOST_ASIO_WINDOWS_RUNTIME)
#error "machport: Mach ports need a POSIX reactor (kqueue on macOS)"
#endif

namespace machport::detail {

namespace asio_detail = boost::asio::detail;

// The shape of the internal interface, as of Boost 1.81 through 1.90. If one of these fails,
// this Boost changed it: reactor_glue.hpp must be adapted to BOOST_VERSION.
static_assert(std::is_same_v<decltype(&asio_detail::reactor::register_internal_descriptor),
                             int (asio_detail::reactor::*)(
                                 int, asio_detail::socket_type,
                                 asio_detail::reactor::per_descriptor_data&,
                                 asio_detail::reactor_op*)>,
              "machport: boost::asio::detail::reactor::register_internal_descriptor changed");
static_assert(std::is_same_v<decltype(&asio_detail::reactor::deregister_internal_descriptor),
                             void (asio_detail::reactor::*)(
                                 asio_detail::socket_type,
                                 asio_detail::reactor::per_descriptor_data&)>,
              "machport: boost::asio::detail::reactor::deregister_internal_descriptor changed");
static_assert(std::is_same_v<decltype(&asio_detail::reactor::cleanup_descriptor_data),
                             void (asio_detail::reactor::*)(
                                 asio_detail::reactor::per_descriptor_data&)>,
              "machport: boost::asio::detail::reactor::cleanup_descriptor_data changed");
static_assert(asio_detail::reactor_op::not_done == 0,
              "machport: boost::asio::detail::reactor_op::status changed");

// Watches one fd for readability for as long as it is started, calling `ready(context)`
// from the reactor each time (and spuriously) and `lost(context, ec)` if the reactor drops
// the registration.
class reactor_registration {
 public:
  using ready_fn = void (*)(void* context) noexcept;
  using lost_fn = void (*)(void* context, const boost::system::error_code& ec) noexcept;

  explicit reactor_registration(boost::asio::execution_context& ctx)
      : reactor_(boost::asio::use_service<asio_detail::reactor>(ctx)) {
    // Without this an io_context with no other I/O object never runs the reactor.
    reactor_.init_task();
  }
  reactor_registration(const reactor_registration&) = delete;
  reactor_registration& operator=(const reactor_registration&) = delete;
  ~reactor_registration() { stop(); }

  // Registers `fd`. Returns the reactor's errno (the op is then already owned and freed by it;
  // the registration is cleaned up here).
  boost::system::error_code start(int fd, ready_fn ready, lost_fn lost, void* context) {
    stop();
    fd_ = fd;
    started_ = true;
    int err = reactor_.register_internal_descriptor(asio_detail::reactor::read_op, fd, data_,
                                                    new watch_op(ready, lost, context));
    if (err) {
      stop();
      return {err, boost::asio::error::get_system_category()};
    }
    return {};
  }

  // Deregisters; afterwards no ready() call runs or will run. Idempotent.
  void stop() noexcept {
    if (!started_) return;
    started_ = false;
    reactor_.deregister_internal_descriptor(fd_, data_);
    reactor_.cleanup_descriptor_data(data_);
  }

 private:
  class watch_op : public asio_detail::reactor_op {
   public:
    watch_op(ready_fn ready, lost_fn lost, void* context)
        : reactor_op(boost::system::error_code(), &watch_op::do_perform, &watch_op::do_complete),
          ready_(ready), lost_(lost), context_(context) {}

   private:
    static status do_perform(asio_detail::reactor_op* base) {
      auto* self = static_cast<watch_op*>(base);
      self->ready_(self->context_);
      return not_done;  // stay registered
    }
    static void do_complete(void* owner, asio_detail::operation* base,
                            const boost::system::error_code& ec, std::size_t) {
      auto* self = static_cast<watch_op*>(base);
      if (owner) {
        boost::system::error_code why = ec ? ec : self->ec_;
        self->lost_(self->context_, why ? why : boost::asio::error::bad_descriptor);
      }
      delete self;
    }
    ready_fn ready_;
    lost_fn lost_;
    void* context_;
  };

  asio_detail::reactor& reactor_;
  asio_detail::reactor::per_descriptor_data data_{};
  int fd_ = -1;
  bool started_ = false;
};

}  // namespace machport::detail
