// port_engine: the Asio-independent heart of the asynchronous layer.
//
// It owns the kqueue (kqueue_watcher), the queues of pending receive operations per watched
// name, and the one mutex that guards them. The Asio side (port_service) registers the kqueue
// fd with the execution context's reactor and calls perform() when it is readable; operations
// are type-erased (receive_op) so that this file and its .cpp do not depend on which Asio
// reactor a program is built with.
//
// Rules it keeps (docs/asio-layer.md explains them):
//  - A message is dequeued only for a queued operation: on an event, one mach_msg with a zero
//    timeout per queued operation, each into that operation's message. Cancelling a queued
//    operation therefore never loses a message: it is still in the port.
//  - A knote is enabled only while its port has queued operations (EV_DISPATCH disables it at
//    each event), so a message nobody waits for wakes nothing.
//  - No user code runs under the mutex: completed operations are collected and their
//    complete function (which posts the handler) is called after unlocking.
#pragma once

#include <machport/async_receive_options.hpp>
#include <machport/detail/kqueue_watcher.hpp>
#include <machport/message.hpp>

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace machport::detail {

class watched_port;

// A pending receive, type-erased. The concrete operation (detail/async_op.hpp) owns the
// handler; the engine only links it into a queue and fills in `msg` and `ec`.
struct receive_op {
  using complete_fn = void (*)(receive_op*) noexcept;  // delivers ec + msg; frees the op
  using destroy_fn = void (*)(receive_op*) noexcept;   // frees the op without calling anything

  receive_op(complete_fn c, destroy_fn d) noexcept : complete_(c), destroy_(d) {}

  void complete() noexcept { complete_(this); }
  void destroy() noexcept { destroy_(this); }

  async_receive_options options;
  message msg;  // storage the message is received into (may come from the caller)
  boost::system::error_code ec;

 private:
  friend class port_engine;
  friend class op_list;
  receive_op* prev_ = nullptr;
  receive_op* next_ = nullptr;
  watched_port* port_ = nullptr;  // set while queued on a port
  complete_fn complete_;
  destroy_fn destroy_;
};

// An intrusive FIFO of operations (no allocation).
class op_list {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  receive_op* front() const noexcept { return head_; }
  void push_back(receive_op* op) noexcept;
  void erase(receive_op* op) noexcept;
  receive_op* pop_front() noexcept;
  void splice_back(op_list& other) noexcept;

 private:
  receive_op* head_ = nullptr;
  receive_op* tail_ = nullptr;
};

// Internal watchers (the send service's notification port) get a callback instead of queued
// operations. It runs after the engine's mutex is released, on the thread that runs perform,
// must take the port's messages itself (zero timeout) and then call port_engine::rearm.
class port_listener {
 public:
  virtual void on_ready() noexcept = 0;

 protected:
  ~port_listener() = default;
};

// What the engine knows about one watched name (a receive right or a port set). Owned by
// the I/O object's implementation; its address is the knote's cookie, so it must not move
// while attached.
class watched_port {
 public:
  watched_port() = default;
  watched_port(const watched_port&) = delete;
  watched_port& operator=(const watched_port&) = delete;

  mach_port_name_t name() const noexcept { return name_; }
  bool attached() const noexcept { return attached_; }

 private:
  friend class port_engine;
  enum class knote : std::uint8_t { none, enabled, disabled };
  mach_port_name_t name_ = MACH_PORT_NULL;
  bool attached_ = false;
  knote knote_ = knote::none;
  op_list ops_;
  port_listener* listener_ = nullptr;
  watched_port* prev_ = nullptr;  // the engine's list of attached ports
  watched_port* next_ = nullptr;
  watched_port* ready_next_ = nullptr;  // perform's list of listeners to call
};

class port_engine {
 public:
  // Opens the kqueue; throws boost::system::system_error if that fails.
  port_engine();
  ~port_engine();
  port_engine(const port_engine&) = delete;
  port_engine& operator=(const port_engine&) = delete;

  int fd() const noexcept { return kq_.fd(); }

  // Starts watching `name` through `port` (no kernel call: the knote is added by the first
  // operation). The caller keeps the right alive until detach().
  void attach(watched_port& port, mach_port_name_t name) noexcept;
  // The same for an internal listener: its knote is added now. Returns kevent64's error.
  boost::system::error_code attach(watched_port& port, mach_port_name_t name,
                                   port_listener& listener) noexcept;
  // Stops watching: deletes the knote (before the caller destroys or moves the right, so a
  // recycled name can never reach a stale knote) and completes every queued operation with
  // operation_aborted. Idempotent.
  void detach(watched_port& port) noexcept;

  // Queues `op` on `port` and enables its knote if needed. If the port is not attached, or the
  // knote cannot be added/enabled, the operation completes (later, through its handler's
  // executor) with MACH_RCV_INVALID_NAME or the kevent error. After shutdown() the operation is
  // destroyed without completing.
  void start(watched_port& port, receive_op* op) noexcept;
  // Completes the operation `key` with operation_aborted if it is still queued on `port`;
  // otherwise does nothing (it has a message already, or has completed and may be gone: `key`
  // is compared, never dereferenced). Returns whether it was queued.
  bool cancel(watched_port& port, const receive_op* key) noexcept;
  // Completes every queued operation of `port` with operation_aborted; the knote stays.
  void cancel_all(watched_port& port) noexcept;
  // Re-enables a listener's knote after it drained its port.
  void rearm(watched_port& port) noexcept;

  // Called when the kqueue fd is readable (and spuriously). Drains the kqueue; for each ready
  // port receives one message per queued operation; completes them after unlocking.
  void perform() noexcept;
  // The reactor dropped the kqueue's registration: completes every queued operation, and
  // every later one, with `ec`.
  void lose(boost::system::error_code ec) noexcept;
  // Destroys every queued operation without calling its handler (the execution context is
  // shutting down); later start() calls destroy their operation at once.
  void shutdown() noexcept;

  // How many times perform() ran and how many of those found nothing to do: tests use these
  // to show that a queued message with no operation waiting does not keep the reactor busy.
  std::uint64_t performs() const noexcept;

 private:
  // Under mu_: completes every op of `port` with `ec` (appended to `done`).
  static void fail_all(watched_port& port, boost::system::error_code ec, op_list& done) noexcept;
  static void run_completions(op_list& done) noexcept;
  // Under mu_: makes sure the knote is enabled; returns the kevent error.
  boost::system::error_code arm(watched_port& port) noexcept;

  mutable std::mutex mu_;
  kqueue_watcher kq_;
  watched_port* ports_ = nullptr;
  bool shut_down_ = false;
  boost::system::error_code lost_;
  std::uint64_t performs_ = 0;
};

}  // namespace machport::detail
