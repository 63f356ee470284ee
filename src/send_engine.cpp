#include <machport/detail/send_engine.hpp>

#include <machport/detail/release.hpp>
#include <machport/detail/send_attempt.hpp>
#include <machport/detail/wire.hpp>
#include <machport/error.hpp>
#include <machport/notification.hpp>
#include <machport/receive.hpp>
#include <machport/trailer.hpp>

#include <boost/system/system_error.hpp>

#include <mach/notify.h>

#include <cerrno>

namespace machport::detail {

// ---- send_op_list -------------------------------------------------------------------------

void send_op_list::push_back(send_op* op) noexcept {
  op->prev_ = tail_;
  op->next_ = nullptr;
  if (tail_) tail_->next_ = op; else head_ = op;
  tail_ = op;
}

void send_op_list::erase(send_op* op) noexcept {
  if (op->prev_) op->prev_->next_ = op->next_; else head_ = op->next_;
  if (op->next_) op->next_->prev_ = op->prev_; else tail_ = op->prev_;
  op->prev_ = op->next_ = nullptr;
}

send_op* send_op_list::pop_front() noexcept {
  send_op* op = head_;
  if (op) erase(op);
  return op;
}

void send_op_list::splice_back(send_op_list& other) noexcept {
  while (send_op* op = other.pop_front()) push_back(op);
}

send_op* send_op_list::find(const send_op* key) const noexcept {
  for (send_op* op = head_; op; op = op->next_) {
    if (op == key) return op;
  }
  return nullptr;
}

namespace {

// boost::asio::error::operation_aborted (ECANCELED, system category), without including Asio:
// this file is compiled once for programs built with any Asio reactor.
const boost::system::error_code aborted(ECANCELED, boost::system::system_category());

// The name a port-deleted, send-possible or dead-name notification reports (NDR, then
// not_port at offset 32), or MACH_PORT_NULL if the message is too short.
mach_port_name_t notified_name(const message& m) noexcept {
  const auto bytes = m.bytes();
  if (bytes.size() < 36) return MACH_PORT_NULL;
  return load32(bytes.data() + 32);
}

// Cancels the request on `name` (send-possible or dead-name: one slot) and deallocates the
// send-once right the kernel hands back. Errors are ignored: a dead name or a request that
// already fired has nothing to cancel (its notification is on its way).
void cancel_request(mach_port_name_t name) noexcept {
  mach_port_t previous = MACH_PORT_NULL;
  (void)mach_port_request_notification(mach_task_self(), name, MACH_NOTIFY_SEND_POSSIBLE, 0,
                                       MACH_PORT_NULL, MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous);
  release_name(previous);
}

receive_options notification_receive() noexcept {
  receive_options o;
  o.timeout = std::chrono::milliseconds::zero();
  o.trailer = trailer_level::audit;  // the sender's audit token
  o.buffer_size = 128;               // every notification fits; a forged big one grows it
  return o;
}

bool timed_out(const boost::system::error_code& ec) noexcept {
  return ec == make_msg_error(MACH_SEND_TIMED_OUT);
}

}  // namespace

// ---- send_engine --------------------------------------------------------------------------

send_engine::send_engine() {
  auto r = receive_right::allocate();
  if (!r) throw boost::system::system_error(r.error(), "machport: allocating the send notification port");
  notify_ = std::move(r).value();
}

send_engine::~send_engine() {
  // The knote goes before the port.
  if (ports_) ports_->detach(watch_);
}

boost::system::error_code send_engine::attach(port_engine& ports) noexcept {
  ports_ = &ports;
  return ports.attach(watch_, notify_.name(), *this);
}

std::size_t send_engine::waiting_destinations() const noexcept {
  std::lock_guard lock(mu_);
  return dests_.size();
}

std::uint64_t send_engine::full_queue_count() const noexcept {
  std::lock_guard lock(mu_);
  return full_;
}

void send_engine::start(mach_port_name_t dest, send_op* op) noexcept {
  send_op_list done;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) {
      op->destroy();
      return;
    }
    if (auto it = dests_.find(dest); it != dests_.end()) {
      it->second.waiting.push_back(op);  // behind the sends already waiting: FIFO per name
      return;
    }
    bool consumed = false;
    mach_port_name_t returned = MACH_PORT_NULL;
    auto r = send_without_waiting(dest, MACH_MSG_TYPE_COPY_SEND, op->msg, consumed, returned);
    if (r || !timed_out(r.error())) {
      if (!r) op->ec = r.error();
      release_name(returned);  // another pseudo-receive error: the copied uref
      done.push_back(op);
    } else if (returned != dest) {
      // The port died between copy-in and the pseudo-receive (the right came back as
      // MACH_PORT_DEAD): nothing will ever be sent there.
      release_name(returned);
      op->ec = make_msg_error(MACH_SEND_INVALID_DEST);
      done.push_back(op);
    } else {
      ++full_;
      auto it = dests_.try_emplace(dest).first;
      it->second.uref = returned;  // the uref the pseudo-receive gave back is ours now
      it->second.waiting.push_back(op);
      if (!request(it, done)) retire(it);
    }
  }
  run_completions(done);
}

void send_engine::start(send_once_right&& dest, send_op* op) noexcept {
  {
    std::lock_guard lock(mu_);
    if (shut_down_) {
      op->destroy();
      return;
    }
  }
  bool consumed = false;
  mach_port_name_t returned = MACH_PORT_NULL;
  auto r = send_without_waiting(dest.name(), MACH_MSG_TYPE_MOVE_SEND_ONCE, op->msg, consumed,
                                returned);
  if (!r) op->ec = r.error();
  if (consumed) (void)dest.release();
  release_name(returned);  // handed back by a pseudo-receive: deallocated (see the header)
  dest.reset();            // refused before copy-in: deallocated too
  op->complete();
}

bool send_engine::cancel(mach_port_name_t dest, const send_op* key) noexcept {
  send_op_list done;
  {
    std::lock_guard lock(mu_);
    auto it = dests_.find(dest);
    if (it == dests_.end()) return false;
    send_op* op = it->second.waiting.find(key);
    if (op == nullptr) return false;
    it->second.waiting.erase(op);
    op->ec = aborted;
    done.push_back(op);
    if (it->second.waiting.empty()) retire(it);
  }
  run_completions(done);
  return true;
}

void send_engine::pump(map::iterator it, send_op_list& done) noexcept {
  const mach_port_name_t name = it->first;
  destination& d = it->second;
  while (send_op* op = d.waiting.front()) {
    bool consumed = false;
    mach_port_name_t returned = MACH_PORT_NULL;
    auto r = send_without_waiting(d.uref, MACH_MSG_TYPE_COPY_SEND, op->msg, consumed, returned);
    if (r) {
      d.waiting.erase(op);
      done.push_back(op);
      continue;
    }
    const bool dead_on_return = timed_out(r.error()) && returned != name;
    release_name(returned);  // we hold one uref already
    if (timed_out(r.error()) && !dead_on_return) {
      // Full again (or the notification was spurious): wait for the next one.
      ++full_;
      if (request(it, done)) return;
      break;
    }
    if (dead_on_return || r.error() == make_msg_error(MACH_SEND_INVALID_DEST)) {
      // The port died: every waiter fails; the dead-name notification may follow (its uref
      // is released when it comes).
      fail_all(d, make_msg_error(MACH_SEND_INVALID_DEST), done);
      break;
    }
    // An error of this message only: it fails, the others carry on.
    d.waiting.erase(op);
    op->ec = r.error();
    done.push_back(op);
  }
  retire(it);
}

bool send_engine::request(map::iterator it, send_op_list& done) noexcept {
  mach_port_t previous = MACH_PORT_NULL;
  const kern_return_t kr = mach_port_request_notification(
      mach_task_self(), it->first, MACH_NOTIFY_SEND_POSSIBLE, 1, notify_.name(),
      MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous);
  // Another subsystem's request on the name, or ours that has not fired: its owner (or we)
  // gets a send-once notification.
  release_name(previous);
  if (kr == KERN_SUCCESS) return true;
  fail_all(it->second, make_msg_error(MACH_SEND_INVALID_DEST), done);
  return false;
}

void send_engine::retire(map::iterator it) noexcept {
  cancel_request(it->first);
  release_name(it->second.uref);
  dests_.erase(it);
}

void send_engine::fail_all(destination& d, boost::system::error_code ec,
                           send_op_list& done) noexcept {
  while (send_op* op = d.waiting.pop_front()) {
    op->ec = ec;
    done.push_back(op);
  }
}

void send_engine::handle(message& m, send_op_list& done) noexcept {
  if (!sent_by_kernel(m)) {
    m.reset();  // forged: whatever it carried is released, nothing else happens
    return;
  }
  const mach_port_name_t name = notified_name(m);
  auto it = MACH_PORT_VALID(name) ? dests_.find(name) : dests_.end();
  switch (m.id()) {
    case MACH_NOTIFY_SEND_POSSIBLE:
      if (it != dests_.end()) pump(it, done);
      break;
    case MACH_NOTIFY_DEAD_NAME:
      if (it != dests_.end()) {
        fail_all(it->second, make_msg_error(MACH_SEND_INVALID_DEST), done);
        retire(it);
      }
      // The notification carries one more dead-name uref under the name; it is ours (the
      // request was ours: only the kernel's messages get here) even if the name is retired.
      if (MACH_PORT_VALID(name)) release_name(name);
      break;
    case MACH_NOTIFY_PORT_DELETED:
      // The name lost its send right (someone released more urefs than they owned): the
      // engine's uref is gone with it and the request fired.
      if (it != dests_.end()) {
        fail_all(it->second, make_msg_error(MACH_SEND_INVALID_DEST), done);
        dests_.erase(it);
      }
      break;
    default:
      break;  // MACH_NOTIFY_SEND_ONCE: a cancelled request's right came back
  }
  m.reset();
}

void send_engine::drain(send_op_list& done) noexcept {
  const receive_options o = notification_receive();
  while (receive(notify_.name(), buffer_, o)) handle(buffer_, done);
}

void send_engine::on_ready() noexcept {
  send_op_list done;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    drain(done);
  }
  run_completions(done);
  ports_->rearm(watch_);
}

void send_engine::shutdown() noexcept {
  if (ports_) ports_->detach(watch_);
  send_op_list dead;
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;
    for (auto& [name, d] : dests_) {
      dead.splice_back(d.waiting);
      cancel_request(name);
      release_name(d.uref);
    }
    dests_.clear();
    // What the cancelled requests sent (send-once notifications, dead-name notifications
    // that fired before the cancel) is received now, so that no dead-name uref leaks.
    send_op_list none;
    drain(none);
    dead.splice_back(none);
  }
  while (send_op* op = dead.pop_front()) op->destroy();
}

void send_engine::run_completions(send_op_list& done) noexcept {
  while (send_op* op = done.pop_front()) op->complete();
}

}  // namespace machport::detail
