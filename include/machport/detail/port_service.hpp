// port_service: one per execution context; owns the port_engine (its kqueue) and keeps the
// kqueue fd registered with the context's reactor for the life of the service.
#pragma once

#include <machport/detail/port_engine.hpp>
#include <machport/detail/reactor_glue.hpp>

#include <boost/asio/execution_context.hpp>

#include <cstdint>

namespace machport::detail {

class port_service final : public boost::asio::execution_context::service {
 public:
  static inline boost::asio::execution_context::id id;

  // Opens the kqueue and registers it with the context's reactor (created if needed).
  // Throws boost::system::system_error if either fails.
  explicit port_service(boost::asio::execution_context& ctx)
      : boost::asio::execution_context::service(ctx), registration_(ctx) {
    register_kqueue();
  }

  port_engine& engine() noexcept { return engine_; }

  // Times the reactor called perform (see port_engine::performs).
  std::uint64_t performs() const noexcept { return engine_.performs(); }

 private:
  // Services shut down newest first, so this runs before the reactor's own shutdown.
  void shutdown() override {
    registration_.stop();  // no perform runs after this
    engine_.shutdown();    // pending handlers are destroyed, not called
  }

  // As Asio's signal_set_service: deregister before fork, register again in the parent. The
  // child gets nothing: a kqueue is not inherited across fork on XNU, and neither are Mach
  // receive rights.
  void notify_fork(boost::asio::execution_context::fork_event ev) override {
    if (ev == boost::asio::execution_context::fork_prepare) registration_.stop();
    else if (ev == boost::asio::execution_context::fork_parent) register_kqueue();
  }

  void register_kqueue() {
    if (auto ec = registration_.start(engine_.fd(), &port_service::ready, &port_service::lost, this))
      throw boost::system::system_error(ec, "machport: registering the kqueue with the reactor");
  }

  static void ready(void* self) noexcept { static_cast<port_service*>(self)->engine_.perform(); }
  static void lost(void* self, const boost::system::error_code& ec) noexcept {
    static_cast<port_service*>(self)->engine_.lose(ec);
  }

  port_engine engine_;
  reactor_registration registration_;
};

}  // namespace machport::detail
