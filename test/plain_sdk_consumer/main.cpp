// A plain Darwin program: it includes only the SDK headers a macOS program would include and
// knows nothing about machport. It must build unchanged against machport::machport (the
// emulated kernel on Linux, libSystem on macOS), and on Linux it must run: exit status 0 = ok.
#include <mach/mach.h>
#include <mach/notify.h>
#include <servers/bootstrap.h>
#include <sys/event.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "plain_sdk_consumer: FAILED: %s\n", what);
    ++failures;
  }
}

struct hello_msg {
  mach_msg_header_t header;
  char text[16];
};

struct hello_rcv {
  hello_msg msg;
  mach_msg_audit_trailer_t trailer;
};

struct no_senders_rcv {
  mach_no_senders_notification_t msg;
  mach_msg_max_trailer_t trailer;
};

}  // namespace

int main() {
  const mach_port_t self = mach_task_self();

  mach_port_t port = MACH_PORT_NULL;
  check(mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &port) == KERN_SUCCESS, "allocate");
  check(mach_port_insert_right(self, port, port, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS,
        "insert_right MAKE_SEND");

  // Watch the port on a kqueue before anything is queued.
  const int kq = kqueue();
  check(kq >= 0, "kqueue");
  struct kevent64_s change;
  EV_SET64(&change, port, EVFILT_MACHPORT, EV_ADD | EV_ENABLE, 0, 0, 0, 0, 0);
  check(kevent64(kq, &change, 1, nullptr, 0, 0, nullptr) == 0, "kevent64 EV_ADD");

  // Send ourselves a message through the send right (COPY_SEND keeps it).
  hello_msg out{};
  out.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
  out.header.msgh_size = sizeof out;
  out.header.msgh_remote_port = port;
  out.header.msgh_id = 4242;
  std::strcpy(out.text, "hello");
  check(mach_msg(&out.header, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                 MACH_PORT_NULL) == MACH_MSG_SUCCESS,
        "mach_msg send");

  // Without MACH_RCV_MSG the event only says which port has a message.
  struct kevent64_s event{};
  const struct timespec no_wait = {0, 0};
  check(kevent64(kq, nullptr, 0, &event, 1, 0, &no_wait) == 1, "kevent64 reports the message");
  check(event.ident == port && event.filter == EVFILT_MACHPORT, "event names the port");

  hello_rcv in{};
  check(mach_msg(&in.msg.header,
                 MACH_RCV_MSG | MACH_RCV_TIMEOUT |
                     MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
                     MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT),
                 0, sizeof in, port, 0, MACH_PORT_NULL) == MACH_MSG_SUCCESS,
        "mach_msg receive");
  check(in.msg.header.msgh_id == 4242 && std::strcmp(in.msg.text, "hello") == 0, "payload");
  check(in.msg.header.msgh_local_port == port, "local port");
  check(in.trailer.msgh_trailer_size == sizeof(mach_msg_audit_trailer_t), "audit trailer size");
  check(in.trailer.msgh_trailer_type == MACH_MSG_TRAILER_FORMAT_0, "trailer format");

  // Ask for no-senders, then drop the only send right: the notification must arrive.
  mach_port_t previous = MACH_PORT_NULL;
  check(mach_port_request_notification(self, port, MACH_NOTIFY_NO_SENDERS, 0, port,
                                       MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous) == KERN_SUCCESS,
        "request no-senders");
  check(previous == MACH_PORT_NULL, "no previous request");
  check(mach_port_deallocate(self, port) == KERN_SUCCESS, "deallocate send right");
  no_senders_rcv ns{};
  check(mach_msg(&ns.msg.not_header, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof ns, port, 0,
                 MACH_PORT_NULL) == MACH_MSG_SUCCESS,
        "receive no-senders");
  check(ns.msg.not_header.msgh_id == MACH_NOTIFY_NO_SENDERS, "no-senders id");

  // The bootstrap server answers for a name nobody registered.
  mach_port_t service = MACH_PORT_NULL;
  check(bootstrap_look_up(bootstrap_port, "org.machport.plain-consumer.nobody", &service) ==
            BOOTSTRAP_UNKNOWN_SERVICE,
        "bootstrap_look_up of an unknown name");

  // Tear down: destroying the receive right removes the knote; then close the kqueue.
  check(mach_port_mod_refs(self, port, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS,
        "destroy receive right");
  check(close(kq) == 0, "close kqueue");

  if (failures == 0) std::puts("plain_sdk_consumer: ok");
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
