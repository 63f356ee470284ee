// send_service: one per execution context; owns the send_engine (the per-destination queues
// of waiting sends and the send-possible notification port), watched through the context's
// port_service.
#pragma once

#include <machport/detail/port_service.hpp>
#include <machport/detail/send_engine.hpp>

#include <boost/asio/execution_context.hpp>
#include <boost/system/system_error.hpp>

namespace machport::detail {

class send_service final : public boost::asio::execution_context::service {
 public:
  static inline boost::asio::execution_context::id id;

  // Creates (or finds) the context's port_service first, so that it shuts down after this
  // one. Throws boost::system::system_error if the notification port cannot be made or
  // watched.
  explicit send_service(boost::asio::execution_context& ctx)
      : boost::asio::execution_context::service(ctx),
        ports_(boost::asio::use_service<port_service>(ctx)) {
    if (auto ec = engine_.attach(ports_.engine()))
      throw boost::system::system_error(ec, "machport: watching the send notification port");
  }

  send_engine& engine() noexcept { return engine_; }

 private:
  // Waiting sends are destroyed without their handlers; no request, uref or notification is
  // left behind.
  void shutdown() override { engine_.shutdown(); }

  port_service& ports_;
  send_engine engine_;
};

}  // namespace machport::detail
