// machport demo: one task publishes a service, another looks it up and sends "hello"; the
// first waits for the message on a kqueue (EVFILT_MACHPORT with MACH_RCV_MSG, so kevent64
// receives it straight into a buffer) and prints it with the sender's pid from the audit
// trailer.
//
// On Linux the two tasks are emulated tasks (separate IPC spaces in this one process). On
// macOS they are two threads of this process, because a real bootstrap_check_in needs a
// service declared to launchd.
#include <machport/detail/platform.hpp>

#include <bsm/libbsm.h>
#include <mach/mach.h>
#include <mach/mach_error.h>
#include <servers/bootstrap.h>
#include <sys/event.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <latch>
#include <thread>
#include <utility>

namespace {

constexpr char service_name[] = "org.machport.demo";

// ---- the one platform switch ------------------------------------------------------------
#if MACHPORT_EMULATED
}  // namespace
#include <machport_emu/task.hpp>
namespace {

using task = machport_emu::task_id;
task make_task(const char* name) { return machport_emu::task_create({.name = name}); }
template <class F>
std::thread run_in(task t, F f) {
  return std::thread([t, f = std::move(f)]() mutable {
    machport_emu::task_scope scope(t);
    f();
  });
}
void end_task(task t) { machport_emu::task_terminate(t); }
// The emulator's bootstrap namespace is shared by every emulated task, like launchd's.
kern_return_t publish(mach_port_t* receive) {
  return bootstrap_check_in(bootstrap_port, service_name, receive);
}
kern_return_t find(mach_port_t /*published*/, mach_port_t* send) {
  return bootstrap_look_up(bootstrap_port, service_name, send);
}
#else
struct task {};
task make_task(const char*) { return {}; }
template <class F>
std::thread run_in(task, F f) { return std::thread(std::move(f)); }
void end_task(task) {}
// One IPC space: the server allocates the port and the client makes a send right from it.
kern_return_t publish(mach_port_t* receive) {
  return mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, receive);
}
kern_return_t find(mach_port_t published, mach_port_t* send) {
  *send = published;
  return mach_port_insert_right(mach_task_self(), published, published, MACH_MSG_TYPE_MAKE_SEND);
}
#endif
// -----------------------------------------------------------------------------------------

struct hello_msg {
  mach_msg_header_t header;
  char text[32];
};

struct hello_rcv {
  hello_msg msg;
  mach_msg_audit_trailer_t trailer;
};

bool ok(kern_return_t kr, const char* what) {
  if (kr != KERN_SUCCESS) {
    std::fprintf(stderr, "demo: %s failed: %s (0x%x)\n", what, mach_error_string(kr), kr);
  }
  return kr == KERN_SUCCESS;
}

// Task A. Always counts `ready` down, so the client never waits forever.
bool serve(std::latch& ready, mach_port_t& published) {
  mach_port_t port = MACH_PORT_NULL;
  int kq = -1;
  hello_rcv buf{};
  bool good = ok(publish(&port), "bootstrap_check_in");
  if (good) {
    kq = kqueue();
    struct kevent64_s change;
    EV_SET64(&change, port, EVFILT_MACHPORT, EV_ADD | EV_ENABLE,
             MACH_RCV_MSG | MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
                 MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT),
             0, 0, reinterpret_cast<std::uint64_t>(&buf), sizeof buf);
    good = kq >= 0 && kevent64(kq, &change, 1, nullptr, 0, 0, nullptr) == 0;
    if (!good) std::perror("demo: kqueue/kevent64 EV_ADD");
  }
  published = port;
  ready.count_down();
  if (!good) return false;
  std::printf("server: checked in \"%s\", waiting in kevent64\n", service_name);

  struct kevent64_s event{};
  if (kevent64(kq, nullptr, 0, &event, 1, 0, nullptr) != 1) {
    std::perror("demo: kevent64 wait");
    good = false;
  } else if (!ok(static_cast<kern_return_t>(event.fflags), "receive through kevent64")) {
    good = false;
  } else {
    std::printf("server: received \"%s\" (id %d, %llu bytes with trailer) from pid %d\n",
                buf.msg.text, buf.msg.header.msgh_id,
                static_cast<unsigned long long>(event.ext[1]),
                static_cast<int>(audit_token_to_pid(buf.trailer.msgh_audit)));
  }
  close(kq);
  good = ok(mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1),
            "destroy receive right") && good;
  return good;
}

// Task B.
bool send_hello(mach_port_t published) {
  mach_port_t service = MACH_PORT_NULL;
  if (!ok(find(published, &service), "bootstrap_look_up")) return false;
  hello_msg msg{};
  msg.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
  msg.header.msgh_size = sizeof msg;
  msg.header.msgh_remote_port = service;
  msg.header.msgh_id = 1;
  std::strcpy(msg.text, "hello");
  std::printf("client: sending \"%s\"\n", msg.text);
  bool good = ok(mach_msg(&msg.header, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL,
                          MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
                 "mach_msg send");
  return ok(mach_port_deallocate(mach_task_self(), service), "deallocate send right") && good;
}

}  // namespace

int main() {
  const task server_task = make_task("server");
  const task client_task = make_task("client");
  std::latch ready(1);
  mach_port_t published = MACH_PORT_NULL;
  bool server_ok = false;
  bool client_ok = false;

  std::thread server = run_in(server_task, [&] { server_ok = serve(ready, published); });
  std::thread client = run_in(client_task, [&] {
    ready.wait();
    client_ok = published != MACH_PORT_NULL && send_hello(published);
  });
  client.join();
  server.join();
  end_task(client_task);
  end_task(server_task);
  return server_ok && client_ok ? 0 : 1;
}
