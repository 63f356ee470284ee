#include <machport/detail/port_engine.hpp>

#include <machport/error.hpp>
#include <machport/receive.hpp>

#include <cerrno>

namespace machport::detail {

namespace {
// boost::asio::error::operation_aborted (ECANCELED, system category), without including Asio:
// this file is compiled once for programs built with any Asio reactor.
const boost::system::error_code aborted(ECANCELED, boost::system::system_category());
}  // namespace

// ---- op_list ----------------------------------------------------------------------------

void op_list::push_back(receive_op* op) noexcept {
  op->prev_ = tail_;
  op->next_ = nullptr;
  if (tail_) tail_->next_ = op; else head_ = op;
  tail_ = op;
}

void op_list::erase(receive_op* op) noexcept {
  if (op->prev_) op->prev_->next_ = op->next_; else head_ = op->next_;
  if (op->next_) op->next_->prev_ = op->prev_; else tail_ = op->prev_;
  op->prev_ = op->next_ = nullptr;
}

receive_op* op_list::pop_front() noexcept {
  receive_op* op = head_;
  if (op) erase(op);
  return op;
}

void op_list::splice_back(op_list& other) noexcept {
  while (receive_op* op = other.pop_front()) push_back(op);
}

// ---- port_engine --------------------------------------------------------------------------

port_engine::port_engine() = default;

port_engine::~port_engine() {
  // The service shut down first (or nothing was ever queued): no operation is left.
}

void port_engine::attach(watched_port& port, mach_port_name_t name) noexcept {
  std::lock_guard lock(mu_);
  port.name_ = name;
  port.attached_ = true;
  port.knote_ = watched_port::knote::none;
  port.listener_ = nullptr;
  port.prev_ = nullptr;
  port.next_ = ports_;
  if (ports_) ports_->prev_ = &port;
  ports_ = &port;
}

boost::system::error_code port_engine::attach(watched_port& port, mach_port_name_t name,
                                              port_listener& listener) noexcept {
  attach(port, name);
  std::lock_guard lock(mu_);
  port.listener_ = &listener;
  return arm(port);
}

void port_engine::detach(watched_port& port) noexcept {
  op_list done;
  {
    std::lock_guard lock(mu_);
    if (!port.attached_) return;
    if (port.knote_ != watched_port::knote::none) kq_.remove(port.name_);
    port.knote_ = watched_port::knote::none;
    fail_all(port, aborted, done);
    if (port.prev_) port.prev_->next_ = port.next_; else ports_ = port.next_;
    if (port.next_) port.next_->prev_ = port.prev_;
    port.prev_ = port.next_ = nullptr;
    port.attached_ = false;
    port.listener_ = nullptr;
    port.name_ = MACH_PORT_NULL;
  }
  run_completions(done);
}

boost::system::error_code port_engine::arm(watched_port& port) noexcept {
  boost::system::error_code ec;
  switch (port.knote_) {
    case watched_port::knote::enabled: return ec;
    case watched_port::knote::none: ec = kq_.add(port.name_, &port); break;
    case watched_port::knote::disabled: ec = kq_.enable(port.name_, &port); break;
  }
  if (!ec) port.knote_ = watched_port::knote::enabled;
  return ec;
}

void port_engine::start(watched_port& port, receive_op* op) noexcept {
  op_list done;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) {
      op->destroy();
      return;
    }
    if (!port.attached_ || lost_) {
      op->ec = lost_ ? lost_ : make_msg_error(MACH_RCV_INVALID_NAME);
      done.push_back(op);
    } else {
      op->port_ = &port;
      port.ops_.push_back(op);
      if (auto ec = arm(port)) fail_all(port, ec, done);
    }
  }
  run_completions(done);
}

bool port_engine::cancel(watched_port& port, const receive_op* key) noexcept {
  op_list done;
  {
    std::lock_guard lock(mu_);
    for (receive_op* op = port.ops_.front(); op; op = op->next_) {
      if (op == key) {
        port.ops_.erase(op);
        op->port_ = nullptr;
        op->ec = aborted;
        done.push_back(op);
        break;
      }
    }
  }
  const bool found = !done.empty();
  run_completions(done);
  return found;
}

void port_engine::cancel_all(watched_port& port) noexcept {
  op_list done;
  {
    std::lock_guard lock(mu_);
    fail_all(port, aborted, done);
  }
  run_completions(done);
}

void port_engine::rearm(watched_port& port) noexcept {
  std::lock_guard lock(mu_);
  if (port.attached_) arm(port);
}

void port_engine::fail_all(watched_port& port, boost::system::error_code ec,
                           op_list& done) noexcept {
  while (receive_op* op = port.ops_.pop_front()) {
    op->port_ = nullptr;
    op->ec = ec;
    done.push_back(op);
  }
}

void port_engine::run_completions(op_list& done) noexcept {
  while (receive_op* op = done.pop_front()) op->complete();
}

void port_engine::perform() noexcept {
  op_list done;
  // Listeners found ready, linked through watched_port::ready_next_; called after unlocking.
  watched_port* ready = nullptr;
  {
    std::lock_guard lock(mu_);
    ++performs_;
    kq_.drain([&](const kqueue_watcher::event& ev) {
      auto& port = *static_cast<watched_port*>(ev.cookie);
      if (ev.eof) {
        // The right left this task's space (destroyed, or moved away through its name) while
        // it was watched: the knote is gone and nothing will come. EV_EOF|EV_ONESHOT dropped it.
        port.knote_ = watched_port::knote::none;
        fail_all(port, make_msg_error(MACH_RCV_PORT_DIED), done);
        return;
      }
      port.knote_ = watched_port::knote::disabled;  // EV_DISPATCH
      if (port.listener_) {
        port.ready_next_ = ready;
        ready = &port;
        return;
      }
      while (receive_op* op = port.ops_.front()) {
        auto r = receive(port.name_, op->msg, op->options.polling());
        if (!r && r.error() == make_msg_error(MACH_RCV_TIMED_OUT)) break;  // drained
        port.ops_.erase(op);
        op->port_ = nullptr;
        if (!r) op->ec = r.error();
        done.push_back(op);
      }
      if (!port.ops_.empty()) {
        if (auto ec = arm(port)) fail_all(port, ec, done);
      }
    });
  }
  run_completions(done);
  while (ready) {
    watched_port* p = ready;
    ready = p->ready_next_;
    p->listener_->on_ready();
  }
}

void port_engine::lose(boost::system::error_code ec) noexcept {
  op_list done;
  {
    std::lock_guard lock(mu_);
    lost_ = ec;
    for (watched_port* p = ports_; p; p = p->next_) fail_all(*p, ec, done);
  }
  run_completions(done);
}

void port_engine::shutdown() noexcept {
  op_list dead;
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;
    for (watched_port* p = ports_; p; p = p->next_) {
      while (receive_op* op = p->ops_.pop_front()) {
        op->port_ = nullptr;
        dead.push_back(op);
      }
    }
  }
  while (receive_op* op = dead.pop_front()) op->destroy();
}

std::uint64_t port_engine::performs() const noexcept {
  std::lock_guard lock(mu_);
  return performs_;
}

}  // namespace machport::detail
