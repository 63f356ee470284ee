// server: a thread serving requests as a task of its own, for the ping-pong benchmarks.
#pragma once

#include "bench_support.hpp"

#include <machport/detail/platform.hpp>

#include <mach/mach.h>
#if MACHPORT_EMULATED
#include <servers/bootstrap.h>
#endif

#include <atomic>
#include <future>
#include <string>
#include <thread>

namespace machport_bench {

// The id of the message that stops a server (it is not a request).
inline constexpr mach_msg_id_t stop_id = 199;

// A thread serving requests on a port of its own as a task of its own, until a message that is
// not a ping arrives. `send_name()` is this task's send right to that port.
class server {
 public:
  // serve(receive_name) owns the receive right and destroys it before returning.
  template <class Serve>
  server(const char* name, Serve serve) : task_(name) {
    static std::atomic<int> instances{0};
    const std::string service = std::string("machport.bench.") + name + "." +
                                std::to_string(instances.fetch_add(1));
    std::promise<mach_port_name_t> ready;
    auto receive_name = ready.get_future();
    thread_ = std::thread([this, service, serve, ready = std::move(ready)]() mutable {
      auto scope = task_.enter();
      (void)scope;
      mach_port_name_t port = MACH_PORT_NULL;
#if MACHPORT_EMULATED
      if (bootstrap_check_in(bootstrap_port, service.c_str(), &port) != KERN_SUCCESS) {
        port = MACH_PORT_NULL;
      }
#else
      if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port) != KERN_SUCCESS) {
        port = MACH_PORT_NULL;
      }
#endif
      ready.set_value(port);
      if (port != MACH_PORT_NULL) serve(port);
    });
    const mach_port_name_t port = receive_name.get();
    if (port == MACH_PORT_NULL) return;
#if MACHPORT_EMULATED
    if (bootstrap_look_up(bootstrap_port, service.c_str(), &send_) != KERN_SUCCESS) {
      send_ = MACH_PORT_NULL;
    }
#else
    if (mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND) ==
        KERN_SUCCESS) {
      send_ = port;
    }
#endif
  }

  ~server() {
    if (send_ != MACH_PORT_NULL) {
      mach_msg_header_t stop{};
      stop.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
      stop.msgh_size = sizeof stop;
      stop.msgh_remote_port = send_;
      stop.msgh_id = stop_id;
      mach_msg(&stop, MACH_SEND_MSG, sizeof stop, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
               MACH_PORT_NULL);
    }
    thread_.join();
    if (send_ != MACH_PORT_NULL) mach_port_deallocate(mach_task_self(), send_);
  }

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  bool valid() const { return send_ != MACH_PORT_NULL; }
  mach_port_name_t send_name() const { return send_; }
  const bench_task& task() const { return task_; }

 private:
  bench_task task_;  // first: outlives the thread
  std::thread thread_;
  mach_port_name_t send_ = MACH_PORT_NULL;
};

}  // namespace machport_bench
