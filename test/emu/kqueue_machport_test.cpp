// kqueue EVFILT_MACHPORT (§6 and the kqueue cases of §7): attach, level / EV_CLEAR /
// EV_DISPATCH / EV_ONESHOT delivery, MACH_RCV_MSG receives, errors, death of ports and sets.
// Mach API + <sys/event.h> only, so it also runs on macOS. Waiters blocked in kevent and woken
// by another thread: emu_only_blocked_wakeup_test.cpp.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include "kqueue_support.hpp"

#include <support/leak_check.hpp>

#include <fcntl.h>

#include <cstring>
#include <vector>

using namespace machport_test;
using namespace kq_test;

namespace {
constexpr mach_port_name_t unknown_name = (0x6543u << 8) | 0x03u;
}

BOOST_AUTO_TEST_SUITE(kqueue_machport)

// tests/kqueue_port_tests.c kqueue_machport_no_toggle_flags, on a plain kqueue with kevent64.
BOOST_FIXTURE_TEST_CASE(no_toggle_flags, leak_check) {
  mach_port_name_t port = make_receive();
  kq_fd kq;
  struct kevent64_s err {};
  struct kevent64_s add = mp_kev64(port, EV_ADD | EV_ENABLE | EV_DISPATCH, 0, 0, 0,
                                   0x6666666666666666ull);
  BOOST_TEST(kevent64(kq.get(), &add, 1, &err, 1, KEVENT_FLAG_ERROR_EVENTS, nullptr) == 0);

  for (std::uint32_t fflags : {std::uint32_t{MACH_RCV_MSG}, std::uint32_t{MACH_RCV_SYNC_PEEK}}) {
    struct kevent64_s mod = mp_kev64(port, 0, fflags);
    err = {};
    BOOST_TEST(kevent64(kq.get(), &mod, 1, &err, 1, KEVENT_FLAG_ERROR_EVENTS, nullptr) == 1);
    BOOST_TEST((err.flags & EV_ERROR) != 0);
    BOOST_TEST(err.data == EINVAL);
    BOOST_TEST(err.ident == port);
    // Without an event list the error is the call's errno.
    int e = 0;
    BOOST_TEST(apply64(kq.get(), {mod}, &e) == -1);
    BOOST_TEST(e == EINVAL);
  }
  // Other fflags may change.
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, 0, MACH_RCV_LARGE)}) == 0);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}) == 0);

  // The other way round: registered with MACH_RCV_MSG, cannot drop it.
  alignas(8) unsigned char buf[256];
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD, MACH_RCV_MSG,
                                         reinterpret_cast<std::uintptr_t>(buf), sizeof buf)}) == 0);
  int e = 0;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD, 0)}, &e) == -1);
  BOOST_TEST(e == EINVAL);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}) == 0);
  destroy_port(port);
}

// Regression: XNU's tests/kqueue_close.c (§7, kqueue_filter_close) registers knotes on a port,
// a port set and a pipe in one kevent64 call without EV_RECEIPT and requires it to succeed; on
// macOS EVFILT_READ on a pipe reports the readable byte count in `data`.
BOOST_FIXTURE_TEST_CASE(regression_pipe_knote_beside_mach_knotes, leak_check) {
  const mach_port_name_t port = make_receive();
  const mach_port_name_t pset = make_pset();
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  const int kq = kqueue();
  BOOST_TEST_REQUIRE(kq >= 0);

  struct kevent64_s changes[3];
  EV_SET64(&changes[0], port, EVFILT_MACHPORT, EV_ADD, 0, 0, 0, 0, 0);
  EV_SET64(&changes[1], pset, EVFILT_MACHPORT, EV_ADD, 0, 0, 0, 0, 0);
  EV_SET64(&changes[2], static_cast<std::uint64_t>(fds[0]), EVFILT_READ, EV_ADD, 0, 0, 0, 0, 0);
  errno = 0;
  BOOST_TEST(kevent64(kq, changes, 3, nullptr, 0, 0, nullptr) == 0);
  BOOST_TEST(errno == 0);

  const timespec zero{0, 0};
  struct kevent64_s ev {};
  BOOST_TEST(kevent64(kq, nullptr, 0, &ev, 1, 0, &zero) == 0);  // nothing ready yet

  BOOST_TEST_REQUIRE(::write(fds[1], "abc", 3) == 3);
  const int n = kevent64(kq, nullptr, 0, &ev, 1, 0, &zero);
  BOOST_TEST(n == 1);
  if (n == 1) {
    BOOST_TEST(ev.filter == EVFILT_READ);
    BOOST_TEST(ev.ident == static_cast<std::uint64_t>(fds[0]));
    BOOST_TEST(ev.data == 3);
  }

  char buf[3];
  BOOST_TEST(::read(fds[0], buf, sizeof buf) == 3);
  BOOST_TEST(kevent64(kq, nullptr, 0, &ev, 1, 0, &zero) == 0);

  BOOST_TEST(::close(kq) == 0);
  ::close(fds[0]);
  ::close(fds[1]);
  destroy_port(port);
  BOOST_TEST(mach_port_mod_refs(self(), pset, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
}

// tests/kqueue_nesting.c, lite: MACH_RCV_MSG knote, a chain of kqueues each watching the
// previous one with EVFILT_READ (refused beyond the nesting limit), then a send-once message.
BOOST_FIXTURE_TEST_CASE(nesting_lite, leak_check) {
  mach_port_name_t port = make_receive();
  int port_kq = kqueue();
  BOOST_TEST_REQUIRE(port_kq >= 0);
  BOOST_TEST(apply64(port_kq, {mp_kev64(port, EV_ADD | EV_ENABLE, MACH_RCV_MSG, 0, 0,
                                        0x66666666)}) == 0);

  constexpr int chain = 24;
  int kqs[chain];
  int attached = 0;
  int child = port_kq;
  for (int i = 0; i < chain; ++i) {
    kqs[i] = kqueue();
    BOOST_TEST_REQUIRE(kqs[i] >= 0);
    struct kevent64_s rd {};
    EV_SET64(&rd, static_cast<std::uint64_t>(child), EVFILT_READ, EV_ADD | EV_ENABLE, 0, 0,
             0x66666666, 0, 0);
    errno = 0;
    int rc = kevent64(kqs[i], &rd, 1, nullptr, 0, 0, nullptr);
    if (rc == 0) {
      ++attached;
    } else {
      BOOST_TEST(errno == EINVAL);  // the nesting limit
    }
    child = kqs[i];
  }
  BOOST_TEST(attached >= 1);
  BOOST_TEST(attached < chain);  // the kernel stops deep nesting

  // Send a message whose destination is a send-once right: must not crash.
  struct {
    mach_msg_header_t header;
    std::uint64_t data;
  } message{};
  message.header.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_MAKE_SEND_ONCE, 0, 0, 0);
  message.header.msgh_remote_port = port;
  message.header.msgh_size = sizeof message;
  message.header.msgh_id = static_cast<mach_msg_id_t>(0x88888888);
  message.data = 0x8888888888888;
  BOOST_TEST(mach_msg(&message.header, MACH_SEND_MSG, sizeof message, 0, MACH_PORT_NULL,
                      MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) == MACH_MSG_SUCCESS);

  // The first nested kqueue reports its child as readable.
  struct kevent64_s ev {};
  BOOST_TEST_REQUIRE(wait_events64(kqs[0], &ev, 1, &guard_ts) == 1);
  BOOST_TEST(ev.filter == EVFILT_READ);
  BOOST_TEST(ev.ident == static_cast<std::uint64_t>(port_kq));
  BOOST_TEST(ev.data >= 1);

  for (int i = chain - 1; i >= 0; --i) ::close(kqs[i]);
  ::close(port_kq);
  drain(port, 1);
  destroy_port(port);
}

// tests/ipc/port_turnstile_stash.c / test_knote_use_after_free.c: a message carrying two
// MOVE_RECEIVE descriptors received by kevent64 with MACH_RCV_MSG, then EV_DELETE.
BOOST_FIXTURE_TEST_CASE(receive_two_move_receive_then_delete, leak_check) {
  mach_port_name_t port = make_port_with_send();
  mach_port_name_t carried[2] = {make_receive(), make_receive()};
  struct {
    mach_msg_header_t header;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t desc[2];
  } msg{};
  msg.header.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, MACH_MSGH_BITS_COMPLEX);
  msg.header.msgh_remote_port = port;
  msg.header.msgh_size = sizeof msg;
  msg.header.msgh_id = 0x4242;
  msg.body.msgh_descriptor_count = 2;
  for (int i = 0; i < 2; ++i) {
    msg.desc[i].name = carried[i];
    msg.desc[i].disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
    msg.desc[i].type = MACH_MSG_PORT_DESCRIPTOR;
  }
  BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL,
                              MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) == MACH_MSG_SUCCESS);

  kq_fd kq;
  raw_msg<1024> buf;
  struct kevent64_s add =
      mp_kev64(port, EV_ADD | EV_ENABLE | EV_DISPATCH, MACH_RCV_MSG,
               reinterpret_cast<std::uintptr_t>(buf.bytes), raw_msg<1024>::size, 0x1234);
  struct kevent64_s ev {};
  BOOST_TEST_REQUIRE(kevent64(kq.get(), &add, 1, &ev, 1, 0, &guard_ts) == 1);
  BOOST_TEST(ev.ident == port);
  BOOST_TEST(ev.filter == EVFILT_MACHPORT);
  BOOST_TEST(ev.fflags == static_cast<std::uint32_t>(MACH_MSG_SUCCESS));
  BOOST_TEST(ev.data == 0);
  BOOST_TEST(ev.udata == 0x1234u);
  BOOST_TEST(ev.ext[0] == reinterpret_cast<std::uintptr_t>(buf.bytes));
  BOOST_TEST(ev.ext[1] == sizeof msg + sizeof(mach_msg_trailer_t));  // size + default trailer
  mach_msg_header_t* h = buf.header();
  BOOST_TEST(h->msgh_id == 0x4242);
  BOOST_TEST(h->msgh_size == sizeof msg);
  BOOST_TEST((h->msgh_bits & MACH_MSGH_BITS_COMPLEX) != 0u);
  BOOST_TEST(h->msgh_local_port == port);
  BOOST_TEST(buf.at<mach_msg_size_t>(24) == 2u);  // descriptor count

  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}) == 0);
  mach_msg_destroy(h);  // destroys the two receive rights
  BOOST_TEST(!name_exists(carried[0]));
  BOOST_TEST(!name_exists(carried[1]));
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// Level-triggered (no EV_CLEAR / EV_DISPATCH / EV_ONESHOT), probe mode: reported by every
// call while a message is queued; data = the port's name; nothing is dequeued.
BOOST_FIXTURE_TEST_CASE(level_probe_reports_until_drained, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD, 0, 11, 22, 33)}) == 0);
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  send_to(port);
  send_to(port);
  for (int i = 0; i < 3; ++i) {
    ev = {};
    BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
    BOOST_TEST(ev.ident == port);
    BOOST_TEST(ev.data == static_cast<std::int64_t>(port));
    BOOST_TEST(ev.udata == 33u);
    BOOST_TEST(ev.ext[0] == 11u);  // ext is echoed
    BOOST_TEST(ev.ext[1] == 22u);
    // XNU's knote_fill_kevent reports kn_fflags, which is 0 for EVFILT_MACHPORT without
    // MACH_RCV_MSG (the registered fflags live in kn_sfflags).
    BOOST_TEST(ev.fflags == 0u);
  }
  drain(port, 1);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);  // one still queued
  drain(port, 1);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// Level-triggered with MACH_RCV_MSG: each call receives one message per knote.
BOOST_FIXTURE_TEST_CASE(level_receive_consumes_one_per_call, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  raw_msg<256> buf;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD, MACH_RCV_MSG,
                                         reinterpret_cast<std::uintptr_t>(buf.bytes),
                                         raw_msg<256>::size)}) == 0);
  for (int i = 0; i < 3; ++i) send_to(port, 0x200 + i);
  for (int i = 0; i < 3; ++i) {
    struct kevent64_s ev {};
    BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
    BOOST_TEST(ev.fflags == static_cast<std::uint32_t>(MACH_MSG_SUCCESS));
    BOOST_TEST(ev.data == 0);
    BOOST_TEST(ev.ext[1] == 24u + sizeof(mach_msg_trailer_t));
    BOOST_TEST(buf.header()->msgh_id == 0x200 + i);  // FIFO
  }
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  BOOST_TEST(queue_empty(port));
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}) == 0);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// EV_CLEAR: re-armed only by a post to an EMPTY queue (§6).
BOOST_FIXTURE_TEST_CASE(clear_rearmed_only_by_post_to_empty_queue, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  send_to(port);
  send_to(port);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD | EV_CLEAR)}) == 0);
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);  // armed at attach
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);  // not level
  send_to(port);                                               // queue not empty: no post
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  drain(port, 3);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  send_to(port);  // empty -> non-empty
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.data == static_cast<std::int64_t>(port));
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  // A modify re-evaluates the filter and re-arms while a message is queued.
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD)}) == 0);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  drain(port, 1);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}) == 0);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// EV_DISPATCH: disabled after delivery; EV_ENABLE re-checks the queue.
BOOST_FIXTURE_TEST_CASE(dispatch_disables_until_enabled, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD | EV_DISPATCH)}) == 0);
  send_to(port);
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);  // still queued, but disabled
  send_to(port);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ENABLE)}) == 0);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  drain(port, 2);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ENABLE)}) == 0);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);  // enabled, queue empty
  send_to(port);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  drain(port, 1);
  // EV_DISABLE / EV_ENABLE on a level knote.
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}) == 0);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD | EV_DISABLE)}) == 0);
  send_to(port);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ENABLE)}) == 0);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DISABLE)}) == 0);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  drain(port, 1);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}) == 0);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// EV_ONESHOT: deleted after delivery.
BOOST_FIXTURE_TEST_CASE(oneshot_deleted_after_delivery, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  send_to(port);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD | EV_ONESHOT)}) == 0);
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST((ev.flags & EV_ONESHOT) != 0);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  int e = 0;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}, &e) == -1);
  BOOST_TEST(e == ENOENT);
  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// Too-small buffers (§6).
BOOST_FIXTURE_TEST_CASE(receive_too_large_with_and_without_large, leak_check) {
  mach_port_name_t port = make_port_with_send();
  mach_port_name_t pset = make_pset();
  BOOST_TEST_REQUIRE(mach_port_move_member(self(), port, pset) == KERN_SUCCESS);
  kq_fd kq;
  raw_msg<16> small;
  std::memset(small.bytes, 0xab, sizeof small.bytes);
  send_to(port, 0x300);

  // MACH_RCV_LARGE (+ identity) on the set: stays queued; needed size without trailer; data =
  // the member's name; the buffer is not written.
  BOOST_TEST(apply64(kq.get(),
                     {mp_kev64(pset, EV_ADD | EV_DISPATCH,
                               MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_LARGE_IDENTITY,
                               reinterpret_cast<std::uintptr_t>(small.bytes), 16)}) == 0);
  struct kevent64_s ev {};
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.fflags == static_cast<std::uint32_t>(MACH_RCV_TOO_LARGE));
  BOOST_TEST(ev.ext[1] == 24u);
  BOOST_TEST(ev.data == static_cast<std::int64_t>(port));
  BOOST_TEST(small.bytes[4] == 0xab);
  BOOST_TEST(!queue_empty(port));

  // A big enough buffer, via a modify (ext may change), then receives it.
  raw_msg<256> big;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(pset, EV_ENABLE,
                                         MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_LARGE_IDENTITY,
                                         reinterpret_cast<std::uintptr_t>(big.bytes),
                                         raw_msg<256>::size)}) == 0);
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.fflags == static_cast<std::uint32_t>(MACH_MSG_SUCCESS));
  BOOST_TEST(big.header()->msgh_id == 0x300);
  BOOST_TEST(big.header()->msgh_local_port == port);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(pset, EV_DELETE)}) == 0);

  // Without MACH_RCV_LARGE the message is destroyed (a 24-byte buffer has no room for the
  // trailer, as in tests/host_notifications.c).
  raw_msg<24> header_only;
  send_to(port, 0x301);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD | EV_ONESHOT, MACH_RCV_MSG,
                                         reinterpret_cast<std::uintptr_t>(header_only.bytes),
                                         raw_msg<24>::size)}) == 0);
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.fflags == static_cast<std::uint32_t>(MACH_RCV_TOO_LARGE));
  BOOST_TEST(ev.data == 0);
  BOOST_TEST(header_only.header()->msgh_id == 0x301);  // the minimal header
  BOOST_TEST(header_only.header()->msgh_size == 24u);
  BOOST_TEST(queue_empty(port));

  // ext[1] == 0: LARGE and LARGE_IDENTITY are forced, so it is a probe.
  send_to(port, 0x302);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD | EV_ONESHOT, MACH_RCV_MSG, 0, 0)}) == 0);
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.fflags == static_cast<std::uint32_t>(MACH_RCV_TOO_LARGE));
  BOOST_TEST(ev.data == static_cast<std::int64_t>(port));
  BOOST_TEST(ev.ext[1] == 24u);
  BOOST_TEST(!queue_empty(port));

  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), pset, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
}

// Plain kevent() has no ext: MACH_RCV_MSG becomes a MACH_RCV_TOO_LARGE probe.
BOOST_FIXTURE_TEST_CASE(plain_kevent_rcv_msg_is_a_probe, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  send_to(port);
  BOOST_TEST(apply(kq.get(), {mp_kev(port, EV_ADD | EV_ONESHOT, MACH_RCV_MSG)}) == 0);
  struct kevent ev {};
  BOOST_TEST_REQUIRE(wait_events(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.fflags == static_cast<std::uint32_t>(MACH_RCV_TOO_LARGE));
  BOOST_TEST(ev.data == static_cast<intptr_t>(port));
  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// EV_RECEIPT: an EV_ERROR event with data 0 per change, and nothing is collected.
BOOST_FIXTURE_TEST_CASE(receipt_reports_each_change, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  send_to(port);
  struct kevent64_s ch[2] = {mp_kev64(port, EV_ADD | EV_RECEIPT, 0, 0, 0, 7),
                             mp_kev64(unknown_name, EV_ADD | EV_RECEIPT)};
  struct kevent64_s out[4] = {};
  BOOST_TEST_REQUIRE(kevent64(kq.get(), ch, 2, out, 4, 0, &guard_ts) == 2);
  BOOST_TEST(out[0].ident == port);
  BOOST_TEST((out[0].flags & EV_ERROR) != 0);
  BOOST_TEST(out[0].data == 0);
  BOOST_TEST(out[0].udata == 7u);
  BOOST_TEST(out[1].ident == unknown_name);
  BOOST_TEST(out[1].data == ENOENT);
  // The knote was registered.
  BOOST_TEST(wait_events64(kq.get(), out, 4, &poll_ts) == 1);
  BOOST_TEST((out[0].flags & EV_ERROR) == 0);
  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// Attach errors: ENOENT (unknown / dead name), ENOTSUP (not a receive right or set); as an
// EV_ERROR event with an event list, else -1/errno; processing stops at the first error.
BOOST_FIXTURE_TEST_CASE(attach_errors, leak_check) {
  mach_port_name_t port = make_receive();
  mach_port_name_t dead = make_dead_name();
  mach_port_name_t so = make_send_once(port);
  kq_fd kq;
  int e = 0;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(unknown_name, EV_ADD)}, &e) == -1);
  BOOST_TEST(e == ENOENT);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(MACH_PORT_NULL, EV_ADD)}, &e) == -1);
  BOOST_TEST(e == ENOENT);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(dead, EV_ADD)}, &e) == -1);
  BOOST_TEST(e == ENOENT);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(so, EV_ADD)}, &e) == -1);
  BOOST_TEST(e == ENOTSUP);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}, &e) == -1);
  BOOST_TEST(e == ENOENT);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ENABLE)}, &e) == -1);
  BOOST_TEST(e == ENOENT);

  struct kevent64_s out[2] = {};
  struct kevent64_s ch[2] = {mp_kev64(so, EV_ADD), mp_kev64(port, EV_ADD)};
  BOOST_TEST(kevent64(kq.get(), ch, 2, out, 2, 0, &poll_ts) == 1);
  BOOST_TEST((out[0].flags & EV_ERROR) != 0);
  BOOST_TEST(out[0].data == ENOTSUP);
  BOOST_TEST(out[0].ident == so);
  // Without room for the error the call fails and the next change is not applied.
  struct kevent64_s ch2[2] = {mp_kev64(dead, EV_ADD), mp_kev64(unknown_name, EV_DELETE)};
  errno = 0;
  BOOST_TEST(kevent64(kq.get(), ch2, 2, nullptr, 0, 0, &poll_ts) == -1);
  BOOST_TEST(errno == ENOENT);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}) == 0);  // was added above

  // A filter number outside the table, and EV_VANISHED without EV_DISPATCH2: EINVAL.
  struct kevent64_s bad {};
  EV_SET64(&bad, port, 5, EV_ADD, 0, 0, 0, 0, 0);
  BOOST_TEST(apply64(kq.get(), {bad}, &e) == -1);
  BOOST_TEST(e == EINVAL);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD | EV_VANISHED)}, &e) == -1);
  BOOST_TEST(e == EINVAL);

  BOOST_TEST(mach_port_deallocate(self(), so) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), dead) == KERN_SUCCESS);
  destroy_port(port);
}

// EV_VANISHED form of a port's death: EV_DISPATCH2|EV_ONESHOT|EV_VANISHED, no data.
BOOST_FIXTURE_TEST_CASE(vanished_event_on_death, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD | EV_DISPATCH2 | EV_VANISHED, 0, 0, 0,
                                         0x77)}) == 0);
  send_to(port);  // the pending message does not matter any more once the port dies
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
  struct kevent64_s ev {};
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.ident == port);
  BOOST_TEST(ev.flags == (EV_DISPATCH2 | EV_ONESHOT | EV_VANISHED));
  BOOST_TEST(ev.udata == 0x77u);
  BOOST_TEST(ev.data == 0);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  // The knote now waits for its deletion (dispatch2 deferred delete): delete + enable drops it.
  struct kevent64_s del = mp_kev64(port, EV_DELETE | EV_ENABLE | EV_UDATA_SPECIFIC, 0, 0, 0, 0x77);
  BOOST_TEST(apply64(kq.get(), {del}) == 0);
}

// Moving the receive right out of the space vanishes the knote (EV_EOF).
BOOST_FIXTURE_TEST_CASE(receive_right_moved_out_is_eof, leak_check) {
  mach_port_name_t holder = make_port_with_send();
  mach_port_name_t port = make_receive();
  kq_fd kq;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD)}) == 0);
  struct {
    mach_msg_header_t header;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t desc;
  } msg{};
  msg.header.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, MACH_MSGH_BITS_COMPLEX);
  msg.header.msgh_remote_port = holder;
  msg.header.msgh_size = sizeof msg;
  msg.body.msgh_descriptor_count = 1;
  msg.desc.name = port;
  msg.desc.disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
  msg.desc.type = MACH_MSG_PORT_DESCRIPTOR;
  BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL,
                              MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  struct kevent64_s ev {};
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.ident == port);
  BOOST_TEST((ev.flags & (EV_EOF | EV_ONESHOT)) == (EV_EOF | EV_ONESHOT));
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  receive_and_destroy(holder);  // destroys the moved receive right
  BOOST_TEST(mach_port_destruct(self(), holder, -1, 0) == KERN_SUCCESS);
}

// One message fires knotes in several kqueues; kevent on a non-kqueue descriptor is EBADF;
// a kqueue is used through kevent() or kevent64(), not both.
BOOST_FIXTURE_TEST_CASE(several_kqueues_and_bad_descriptors, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd a, b;
  BOOST_TEST(apply64(a.get(), {mp_kev64(port, EV_ADD)}) == 0);
  BOOST_TEST(apply64(b.get(), {mp_kev64(port, EV_ADD | EV_CLEAR)}) == 0);
  send_to(port);
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(a.get(), &ev, 1, &guard_ts) == 1);
  BOOST_TEST(wait_events64(b.get(), &ev, 1, &guard_ts) == 1);
  drain(port, 1);

  errno = 0;
  struct kevent k {};
  BOOST_TEST(kevent(a.get(), nullptr, 0, &k, 1, &poll_ts) == -1);
  BOOST_TEST(errno == EINVAL);

  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  errno = 0;
  BOOST_TEST(wait_events64(fds[0], &ev, 1, &poll_ts) == -1);
  BOOST_TEST(errno == EBADF);
  errno = 0;
  BOOST_TEST(wait_events64(-1, &ev, 1, &poll_ts) == -1);
  BOOST_TEST(errno == EBADF);
  ::close(fds[0]);
  ::close(fds[1]);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// A port and a set holding it, both with MACH_RCV_MSG: one message is received by one of them.
BOOST_FIXTURE_TEST_CASE(port_and_set_compete_for_one_message, leak_check) {
  mach_port_name_t port = make_port_with_send();
  mach_port_name_t pset = make_pset();
  BOOST_TEST_REQUIRE(mach_port_move_member(self(), port, pset) == KERN_SUCCESS);
  kq_fd kq;
  raw_msg<256> b1, b2;
  BOOST_TEST(apply64(kq.get(),
                     {mp_kev64(port, EV_ADD, MACH_RCV_MSG,
                               reinterpret_cast<std::uintptr_t>(b1.bytes), raw_msg<256>::size),
                      mp_kev64(pset, EV_ADD, MACH_RCV_MSG,
                               reinterpret_cast<std::uintptr_t>(b2.bytes), raw_msg<256>::size)}) ==
             0);
  send_to(port);
  struct kevent64_s ev[2] = {};
  BOOST_TEST(wait_events64(kq.get(), ev, 2, &guard_ts) == 1);
  BOOST_TEST(ev[0].fflags == static_cast<std::uint32_t>(MACH_MSG_SUCCESS));
  BOOST_TEST(wait_events64(kq.get(), ev, 2, &poll_ts) == 0);
  // Removing the port from the set does not fire the set's knote.
  send_to(port);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE)}) == 0);
  BOOST_TEST(mach_port_move_member(self(), port, MACH_PORT_NULL) == KERN_SUCCESS);
  BOOST_TEST(wait_events64(kq.get(), ev, 2, &poll_ts) == 0);
  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), pset, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
  BOOST_TEST(wait_events64(kq.get(), ev, 2, &poll_ts) == 1);  // the set's EOF
  BOOST_TEST((ev[0].flags & EV_EOF) != 0);
}

// EV_DISPATCH2 deferred delete (the libdispatch protocol): deleting a disabled udata-specific
// dispatch knote is deferred (EINPROGRESS) until it is re-enabled, which reports EV_DELETE.
BOOST_FIXTURE_TEST_CASE(dispatch2_deferred_delete, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  constexpr std::uint64_t ud = 0xabcd;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD | EV_DISPATCH2, 0, 0, 0, ud)}) == 0);
  send_to(port);
  struct kevent64_s ev {};
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);  // now disabled
  BOOST_TEST(ev.udata == ud);
  int e = 0;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE | EV_UDATA_SPECIFIC, 0, 0, 0, ud)}, &e) ==
             -1);
  BOOST_TEST(e == EINPROGRESS);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ENABLE | EV_UDATA_SPECIFIC, 0, 0, 0, ud)}) == 0);
  ev = {};
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.flags == (EV_DISPATCH2 | EV_ONESHOT | EV_DELETE));
  BOOST_TEST(ev.udata == ud);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE | EV_UDATA_SPECIFIC, 0, 0, 0, ud)}, &e) ==
             -1);
  BOOST_TEST(e == ENOENT);  // gone
  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// EV_UDATA_SPECIFIC: several knotes for one port, told apart by udata.
BOOST_FIXTURE_TEST_CASE(udata_specific_knotes, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD | EV_UDATA_SPECIFIC, 0, 0, 0, 1),
                                mp_kev64(port, EV_ADD | EV_UDATA_SPECIFIC, 0, 0, 0, 2),
                                mp_kev64(port, EV_ADD, 0, 0, 0, 3)}) == 0);
  send_to(port);
  struct kevent64_s ev[4] = {};
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), ev, 4, &poll_ts) == 3);
  std::uint64_t sum = ev[0].udata + ev[1].udata + ev[2].udata;
  BOOST_TEST(sum == 6u);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE | EV_UDATA_SPECIFIC, 0, 0, 0, 2)}) == 0);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE, 0, 0, 0, 99)}) == 0);  // the plain one
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), ev, 4, &poll_ts) == 1);
  BOOST_TEST(ev[0].udata == 1u);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_DELETE | EV_UDATA_SPECIFIC, 0, 0, 0, 1)}) == 0);
  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// A full event list: each call reports a knote at most once, and a level knote that was just
// reported goes behind the others.
BOOST_FIXTURE_TEST_CASE(small_event_list_rotates_level_knotes, leak_check) {
  mach_port_name_t a = make_port_with_send();
  mach_port_name_t b = make_port_with_send();
  kq_fd kq;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(a, EV_ADD), mp_kev64(b, EV_ADD)}) == 0);
  send_to(a);
  send_to(b);
  struct kevent64_s ev {};
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  std::uint64_t first = ev.ident;
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.ident != first);
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.ident == first);
  struct kevent64_s many[4] = {};
  BOOST_TEST(wait_events64(kq.get(), many, 4, &poll_ts) == 2);  // once each
  drain(a, 1);
  drain(b, 1);
  BOOST_TEST(mach_port_destruct(self(), a, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), b, -1, 0) == KERN_SUCCESS);
}

// MACH_RCV_MSG with a trailer request: ext[1] counts the requested trailer.
BOOST_FIXTURE_TEST_CASE(receive_with_audit_trailer, leak_check) {
  mach_port_name_t port = make_port_with_send();
  kq_fd kq;
  raw_msg<256> buf;
  std::uint32_t fflags = MACH_RCV_MSG | MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
                         MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(port, EV_ADD | EV_ONESHOT, fflags,
                                         reinterpret_cast<std::uintptr_t>(buf.bytes),
                                         raw_msg<256>::size)}) == 0);
  send_to(port, 0x600);
  struct kevent64_s ev {};
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &guard_ts) == 1);
  BOOST_TEST(ev.fflags == static_cast<std::uint32_t>(MACH_MSG_SUCCESS));
  BOOST_TEST(ev.ext[1] == 24u + sizeof(mach_msg_audit_trailer_t));
  BOOST_TEST(buf.at<std::uint32_t>(24 + 4) == sizeof(mach_msg_audit_trailer_t));
  BOOST_TEST(buf.header()->msgh_id == 0x600);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

// A port joining a watched set with messages already queued fires the set's knote; leaving
// the set silences it.
BOOST_FIXTURE_TEST_CASE(set_membership_changes, leak_check) {
  mach_port_name_t port = make_port_with_send();
  mach_port_name_t pset = make_pset();
  kq_fd kq;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(pset, EV_ADD | EV_CLEAR)}) == 0);
  send_to(port);
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  BOOST_TEST(mach_port_insert_member(self(), port, pset) == KERN_SUCCESS);
  BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.ident == pset);
  BOOST_TEST(ev.data == static_cast<std::int64_t>(port));
  BOOST_TEST(apply64(kq.get(), {mp_kev64(pset, EV_ADD)}) == 0);  // touch: re-armed
  BOOST_TEST(mach_port_extract_member(self(), port, pset) == KERN_SUCCESS);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  drain(port, 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), pset, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
}

// A knote on a set with many idle members reports the busy one, message after message, and
// stops when the busy member leaves the set with a message still queued.
BOOST_FIXTURE_TEST_CASE(set_knote_with_many_idle_members, leak_check) {
  mach_port_name_t pset = make_pset();
  std::vector<mach_port_name_t> idle(1000);
  for (auto& p : idle) {
    p = make_receive();
    BOOST_TEST_REQUIRE(mach_port_insert_member(self(), p, pset) == KERN_SUCCESS);
  }
  mach_port_name_t busy = make_port_with_send();
  BOOST_TEST(mach_port_insert_member(self(), busy, pset) == KERN_SUCCESS);
  kq_fd kq;
  raw_msg<256> buf;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(pset, EV_ADD | EV_CLEAR, MACH_RCV_MSG,
                                         reinterpret_cast<std::uintptr_t>(buf.bytes),
                                         raw_msg<256>::size)}) == 0);
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  for (int i = 0; i < 3; ++i) {
    send_to(busy, 0x300 + i);
    ev = {};
    BOOST_TEST_REQUIRE(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
    BOOST_TEST(ev.ident == pset);
    BOOST_TEST(ev.fflags == static_cast<std::uint32_t>(MACH_MSG_SUCCESS));
    BOOST_TEST(buf.header()->msgh_id == 0x300 + i);
    BOOST_TEST(buf.header()->msgh_local_port == busy);
    BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  }
  send_to(busy, 0x400);
  BOOST_TEST(mach_port_extract_member(self(), busy, pset) == KERN_SUCCESS);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  drain(busy, 1);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(pset, EV_DELETE)}) == 0);
  for (auto p : idle) destroy_port(p);
  BOOST_TEST(mach_port_destruct(self(), busy, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), pset, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
}

// A message taken from the member directly no longer makes the set's knote fire.
BOOST_FIXTURE_TEST_CASE(set_knote_after_direct_receive_on_member, leak_check) {
  mach_port_name_t port = make_port_with_send();
  mach_port_name_t pset = make_pset();
  BOOST_TEST(mach_port_insert_member(self(), port, pset) == KERN_SUCCESS);
  kq_fd kq;
  BOOST_TEST(apply64(kq.get(), {mp_kev64(pset, EV_ADD)}) == 0);  // level-triggered probe
  send_to(port);
  struct kevent64_s ev {};
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 1);
  BOOST_TEST(ev.data == static_cast<std::int64_t>(port));
  drain(port, 1);
  BOOST_TEST(wait_events64(kq.get(), &ev, 1, &poll_ts) == 0);
  BOOST_TEST(apply64(kq.get(), {mp_kev64(pset, EV_DELETE)}) == 0);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_mod_refs(self(), pset, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_SUITE_END()
