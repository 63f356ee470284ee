// send_engine: the Asio-independent part of the asynchronous send (async_send.hpp).
//
// A send is tried at once with MACH_SEND_TIMEOUT 0 | MACH_SEND_NOTIFY. When the destination's
// queue is full the kernel hands the message back (pseudo-receive) and the operation waits,
// without a thread and without polling, for MACH_NOTIFY_SEND_POSSIBLE, then sends again.
//
// Why it is shaped this way (see docs/xnu-ipc-semantics.md §3):
//  - The kernel keeps one request slot per name, shared by send-possible and dead-name
//    requests, so the engine keeps one `destination` per destination name: a FIFO of waiting
//    operations (each sender's order is kept; a new send to a name with waiters queues behind
//    them instead of trying), one send uref of its own (the one the pseudo-receive handed
//    back: the name stays valid and cannot be recycled while operations wait, whatever the
//    caller does with its send_right) and at most one request.
//  - The request is made armed (sync = 1) right after the send timed out: the kernel then
//    notifies at once if the queue has room again, else at the next dequeue, so no wake-up
//    can be lost between the failed send and the request. It is one-shot: a notification is
//    followed by sends from the head of the FIFO until one times out, then a new request.
//    A spurious notification costs one send that times out again.
//  - The notifications come to one receive port per engine, watched by the port_engine as a
//    port_listener; only messages whose audit trailer says the kernel sent them are acted on.
//  - DEAD_NAME fails every waiter of the name (MACH_SEND_INVALID_DEST, message handed back)
//    and releases the uref the notification carries; PORT_DELETED fails every waiter.
//  - When the last waiter leaves (sent, cancelled, failed), the request is cancelled, the
//    send-once right the kernel hands back is deallocated (its MACH_NOTIFY_SEND_ONCE arrives
//    on the notification port and is dropped), and the engine's uref is released.
//  - Registering a request replaces whatever request another part of the program had on the
//    same name (its send-once right is deallocated, so its owner gets a send-once
//    notification): machport owns the request slot of a name while sends to it wait.
//
// Not done: the kernel notifies nobody when a queue limit is raised (or a too-large message
// is destroyed without being received). A send waiting on such a port waits until the next
// message is received from it, is cancelled, or its destination dies.
#pragma once

#include <machport/detail/port_engine.hpp>
#include <machport/message.hpp>
#include <machport/receive_right.hpp>
#include <machport/send_once_right.hpp>

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace machport::detail {

// A pending send, type-erased. The concrete operation (detail/send_op.hpp) owns the handler;
// the engine links it into a destination's FIFO and fills in `ec` (`msg` is sent from, and
// handed back in, place).
struct send_op {
  using complete_fn = void (*)(send_op*) noexcept;  // delivers ec + msg; frees the op
  using destroy_fn = void (*)(send_op*) noexcept;   // frees the op without calling anything

  send_op(complete_fn c, destroy_fn d) noexcept : complete_(c), destroy_(d) {}

  void complete() noexcept { complete_(this); }
  void destroy() noexcept { destroy_(this); }

  message msg;
  boost::system::error_code ec;

 private:
  friend class send_op_list;
  send_op* prev_ = nullptr;
  send_op* next_ = nullptr;
  complete_fn complete_;
  destroy_fn destroy_;
};

// An intrusive FIFO of send operations (no allocation).
class send_op_list {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  send_op* front() const noexcept { return head_; }
  void push_back(send_op* op) noexcept;
  void erase(send_op* op) noexcept;
  send_op* pop_front() noexcept;
  void splice_back(send_op_list& other) noexcept;
  // The queued operation whose address is `key` (compared, never dereferenced), or nullptr.
  send_op* find(const send_op* key) const noexcept;

 private:
  send_op* head_ = nullptr;
  send_op* tail_ = nullptr;
};

class send_engine final : public port_listener {
 public:
  // Allocates the notification port. Throws boost::system::system_error if that fails.
  send_engine();
  // Stops watching the notification port (if attach() was called) and destroys it.
  ~send_engine();
  send_engine(const send_engine&) = delete;
  send_engine& operator=(const send_engine&) = delete;

  // Starts watching the notification port with `ports`, which must outlive this engine or
  // its shutdown(). Returns kevent64's error.
  boost::system::error_code attach(port_engine& ports) noexcept;

  // Sends op->msg to the port `dest` names (COPY_SEND: the caller's right is only borrowed
  // for this call). Completes `op` (posting its handler) at once on success or on an error,
  // or later when the message was queued or waiting failed; see async_send.hpp for the errors.
  // After shutdown() the operation is destroyed without completing.
  void start(mach_port_name_t dest, send_op* op) noexcept;
  // Sends op->msg through the send-once right `dest` (MOVE_SEND_ONCE) and completes `op`. The
  // queue limit does not apply to send-once rights, so this never waits. The right is consumed
  // on every path: sent, or deallocated when the message comes back (its port then receives
  // a send-once notification) or the send fails.
  void start(send_once_right&& dest, send_op* op) noexcept;
  // Completes the operation `key` with operation_aborted, its message handed back, if it is
  // still waiting to be sent to `dest`; otherwise does nothing. Returns whether it was waiting.
  bool cancel(mach_port_name_t dest, const send_op* key) noexcept;

  // Destroys every waiting operation (their messages are released) without calling its
  // handler, cancels every request, releases every uref and drains the notification port.
  // Later start() calls destroy their operation at once.
  void shutdown() noexcept;

  // For tests: the notification port's name, and how many destination names have waiting
  // sends (a forged notification must change neither).
  mach_port_name_t notify_port_name() const noexcept { return notify_.name(); }
  std::size_t waiting_destinations() const noexcept;
  // For tests: how many sends found the queue full (each then waited for a notification).
  std::uint64_t full_queue_count() const noexcept;

  // port_listener: the notification port has messages.
  void on_ready() noexcept override;

 private:
  struct destination {
    send_op_list waiting;
    mach_port_name_t uref = MACH_PORT_NULL;  // one send uref under the name, ours
  };
  using map = std::unordered_map<mach_port_name_t, destination>;

  // Under mu_: sends from the head of the waiting FIFO until the queue is full (then asks for
  // a send-possible notification) or nothing waits (then retires the destination).
  void pump(map::iterator it, send_op_list& done) noexcept;
  // Under mu_: registers an armed send-possible request on the name. Returns false (after
  // failing every waiter) if the kernel refused.
  bool request(map::iterator it, send_op_list& done) noexcept;
  // Under mu_: cancels the name's request, releases the engine's uref, forgets the name.
  void retire(map::iterator it) noexcept;
  // Under mu_: completes every waiter of the destination with `ec`.
  static void fail_all(destination& d, boost::system::error_code ec, send_op_list& done) noexcept;
  // Under mu_: acts on one message taken from the notification port, then empties it.
  void handle(message& m, send_op_list& done) noexcept;
  // Under mu_: receives and handles everything queued on the notification port.
  void drain(send_op_list& done) noexcept;
  static void run_completions(send_op_list& done) noexcept;

  mutable std::mutex mu_;
  receive_right notify_;
  watched_port watch_;
  port_engine* ports_ = nullptr;
  map dests_;
  message buffer_;  // the notification receive buffer, reused
  bool shut_down_ = false;
  std::uint64_t full_ = 0;
};

}  // namespace machport::detail
