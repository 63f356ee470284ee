// How the kernel scales with idle objects (raw Mach API only: this measures the kernel, on Linux
// the emulated one). Each benchmark pairs the same operation on a setup with 1 idle object
// (counters n1_*) against one with N idle objects (counters n_*), so `ratio` is the scaling
// from 1 to N. On the emulated kernel each setup lives in a task of its own, so that the idle
// objects of one do not share an IPC space with the other.
//  - port_among_idle_ports: send + receive on one port while N idle ports exist;
//  - kqueue_with_idle_knotes: send, kevent, receive on a port whose knote shares a kqueue with N
//    idle EVFILT_MACHPORT knotes;
//  - set_with_idle_members: send to one member, receive on the port set, N idle members;
//  - set_knote_with_idle_members: send to one member, kevent on the set's EVFILT_MACHPORT knote,
//    receive on the set, N idle members.
#include "bench_support.hpp"
#include "raw_mach.hpp"

#include <sys/event.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace {

using machport_bench::raw::send_receive;

// N ports of the calling task with nothing queued.
class idle_ports {
 public:
  explicit idle_ports(std::int64_t n) {
    names_.reserve(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      mach_port_name_t name = MACH_PORT_NULL;
      if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &name) != KERN_SUCCESS) {
        return;
      }
      names_.push_back(name);
    }
    ok_ = true;
  }
  ~idle_ports() {
    for (mach_port_name_t name : names_) {
      mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_RECEIVE, -1);
    }
  }
  idle_ports(const idle_ports&) = delete;
  idle_ports& operator=(const idle_ports&) = delete;

  bool valid() const { return ok_; }
  const std::vector<mach_port_name_t>& names() const { return names_; }

 private:
  std::vector<mach_port_name_t> names_;
  bool ok_ = false;
};

class port_set {
 public:
  port_set() {
    if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_PORT_SET, &name_) != KERN_SUCCESS) {
      name_ = MACH_PORT_NULL;
    }
  }
  ~port_set() {
    if (name_ != MACH_PORT_NULL) {
      mach_port_mod_refs(mach_task_self(), name_, MACH_PORT_RIGHT_PORT_SET, -1);
    }
  }
  port_set(const port_set&) = delete;
  port_set& operator=(const port_set&) = delete;

  bool valid() const { return name_ != MACH_PORT_NULL; }
  mach_port_name_t name() const { return name_; }
  bool insert(mach_port_name_t port) const {
    return mach_port_insert_member(mach_task_self(), port, name_) == KERN_SUCCESS;
  }

 private:
  mach_port_name_t name_ = MACH_PORT_NULL;
};

class kqueue_fd {
 public:
  kqueue_fd() : fd_(kqueue()) {}
  ~kqueue_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  kqueue_fd(const kqueue_fd&) = delete;
  kqueue_fd& operator=(const kqueue_fd&) = delete;

  bool valid() const { return fd_ >= 0; }
  // Watches a port or a port set (level-triggered, no receive in the kevent).
  bool watch(mach_port_name_t name) const {
    struct kevent change {};
    EV_SET(&change, name, EVFILT_MACHPORT, EV_ADD, 0, 0, nullptr);
    return kevent(fd_, &change, 1, nullptr, 0, nullptr) == 0;
  }
  // Waits for exactly one event, on `name`; a guard timeout turns a lost event into a failure.
  bool wait_for(mach_port_name_t name) const {
    const struct timespec guard = {10, 0};
    struct kevent event {};
    return kevent(fd_, nullptr, 0, &event, 1, &guard) == 1 && event.ident == name;
  }

 private:
  int fd_;
};

class port_among_idle_ports {
 public:
  explicit port_among_idle_ports(std::int64_t n) : idle_(n), op_(busy_.name(), 0) {}
  bool valid() const { return idle_.valid() && busy_.valid(); }
  bool operator()() { return op_(); }

 private:
  idle_ports idle_;
  machport_bench::raw::port busy_;
  send_receive op_;
};

class kqueue_with_idle_knotes {
 public:
  explicit kqueue_with_idle_knotes(std::int64_t n) : idle_(n), op_(busy_.name(), 0) {
    ok_ = idle_.valid() && busy_.valid() && kq_.valid() && kq_.watch(busy_.name());
    for (mach_port_name_t name : idle_.names()) ok_ = ok_ && kq_.watch(name);
  }
  bool valid() const { return ok_; }
  bool operator()() { return op_.send() && kq_.wait_for(busy_.name()) && op_.receive(); }

 private:
  idle_ports idle_;
  machport_bench::raw::port busy_;
  kqueue_fd kq_;  // closed before the ports are destroyed
  send_receive op_;
  bool ok_ = false;
};

class set_with_idle_members {
 public:
  explicit set_with_idle_members(std::int64_t n)
      : idle_(n), op_(busy_.name(), 0, set_.name()) {
    ok_ = idle_.valid() && busy_.valid() && set_.valid() && set_.insert(busy_.name());
    for (mach_port_name_t name : idle_.names()) ok_ = ok_ && set_.insert(name);
  }
  bool valid() const { return ok_; }
  bool operator()() { return op_(); }
  bool send() { return op_.send(); }
  bool receive() { return op_.receive(); }
  mach_port_name_t set() const { return set_.name(); }

 private:
  idle_ports idle_;
  machport_bench::raw::port busy_;
  port_set set_;
  send_receive op_;
  bool ok_ = false;
};

class set_knote_with_idle_members {
 public:
  explicit set_knote_with_idle_members(std::int64_t n) : members_(n) {
    ok_ = members_.valid() && kq_.valid() && kq_.watch(members_.set());
  }
  bool valid() const { return ok_; }
  bool operator()() {
    return members_.send() && kq_.wait_for(members_.set()) && members_.receive();
  }

 private:
  set_with_idle_members members_;
  kqueue_fd kq_;
  bool ok_ = false;
};

template <class Setup>
void idle_scaling(benchmark::State& state) {
  machport_bench::bench_task one_task("idle_1");
  machport_bench::bench_task n_task("idle_n");
  std::optional<Setup> one;
  std::optional<Setup> many;
  machport_bench::in_task(one_task, [&] { one.emplace(1); });
  machport_bench::in_task(n_task, [&] { many.emplace(state.range(0)); });
  if (one->valid() && many->valid()) {
    machport_bench::pair_options paired;
    paired.a_name = "n1";
    paired.b_name = "n";
    paired.target.max_ratio = 1.2;
    paired.a_tasks.run_as = &one_task;
    paired.b_tasks.run_as = &n_task;
    machport_bench::run_paired(state, *one, *many, paired);
  } else {
    machport_bench::fail(state, "cannot set up the idle objects");
  }
  machport_bench::in_task(one_task, [&] { one.reset(); });
  machport_bench::in_task(n_task, [&] { many.reset(); });
}

}  // namespace

BENCHMARK_TEMPLATE(idle_scaling, port_among_idle_ports)->Arg(1)->Arg(100)->Arg(10000);
BENCHMARK_TEMPLATE(idle_scaling, kqueue_with_idle_knotes)->Arg(1)->Arg(100)->Arg(10000);
BENCHMARK_TEMPLATE(idle_scaling, set_with_idle_members)->Arg(1)->Arg(100)->Arg(10000);
BENCHMARK_TEMPLATE(idle_scaling, set_knote_with_idle_members)->Arg(1)->Arg(100)->Arg(10000);

MACHPORT_BENCHMARK_MAIN();
