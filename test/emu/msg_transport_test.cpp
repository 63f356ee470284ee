// Message transport: trailers, port / guarded-port / port-array / memory descriptors, received
// and pseudo-received (§4.6, §5.3-§5.5; §7 tests/ipc/mach_msg_transport.c,
// tests/ipc/mach_msg2.c scalar case, tests/ipc/port_peek.c, tests/mo_immovable_receive.c).
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <unistd.h>

#include <cstring>

using namespace machport_test;

namespace {

constexpr mach_port_context_t default_context = 0x42424242;

// The xnu test's port: receive + 1 send uref, qlimit 1, context 0x42424242.
mach_port_name_t construct_full(uint32_t flags, mach_port_msgcount_t qlimit = 1) {
  mach_port_options_t opts{};
  opts.flags = flags | MPO_QLIMIT;
  opts.mpl.mpl_qlimit = qlimit;
  mach_port_name_t name = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(mach_port_construct(self(), &opts, default_context, &name) == KERN_SUCCESS);
  return name;
}
mach_port_name_t construct_port() { return construct_full(MPO_INSERT_SEND_RIGHT); }

// Sends `size` bytes of `h` to dest with COPY_SEND, id 42 (the xnu test's t_send).
mach_msg_return_t t_send(mach_port_name_t dest, mach_msg_header_t* h, mach_msg_size_t size,
                         bool complex, mach_msg_option_t options) {
  h->msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0,
                                    complex ? MACH_MSGH_BITS_COMPLEX : 0);
  h->msgh_size = size;
  h->msgh_remote_port = dest;
  h->msgh_local_port = MACH_PORT_NULL;
  h->msgh_voucher_port = MACH_PORT_NULL;
  h->msgh_id = 42;
  return mach_msg(h, MACH_SEND_MSG | options, size, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
}

mach_msg_return_t t_receive(mach_port_name_t name, mach_msg_header_t* h, mach_msg_size_t size,
                            mach_msg_option_t options = MACH_RCV_GUARDED_DESC) {
  return mach_msg(h, MACH_RCV_MSG | MACH_RCV_TIMEOUT | options, 0, size, name, guard_ms,
                  MACH_PORT_NULL);
}

void fill_port(mach_port_name_t dest) {
  mach_msg_header_t h{};
  BOOST_TEST_REQUIRE(t_send(dest, &h, sizeof h, false, MACH_SEND_TIMEOUT) == MACH_MSG_SUCCESS);
}

mach_msg_type_name_t translated(mach_msg_type_name_t disp) {
  switch (disp) {
    case MACH_MSG_TYPE_MOVE_RECEIVE: return MACH_MSG_TYPE_PORT_RECEIVE;
    case MACH_MSG_TYPE_MOVE_SEND_ONCE:
    case MACH_MSG_TYPE_MAKE_SEND_ONCE: return MACH_MSG_TYPE_PORT_SEND_ONCE;
    default: return MACH_MSG_TYPE_PORT_SEND;
  }
}

constexpr mach_msg_type_name_t port_dispositions[] = {
    MACH_MSG_TYPE_MOVE_RECEIVE, MACH_MSG_TYPE_MOVE_SEND,  MACH_MSG_TYPE_MOVE_SEND_ONCE,
    MACH_MSG_TYPE_COPY_SEND,    MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE,
};

struct msg_port {
  mach_msg_header_t header;
  mach_msg_body_t body;
  mach_msg_port_descriptor_t dsc;
  mach_msg_max_trailer_t trailer;
};
struct msg_guarded {
  mach_msg_header_t header;
  mach_msg_body_t body;
  mach_msg_guarded_port_descriptor_t dsc;
  mach_msg_max_trailer_t trailer;
};
struct msg_port_array {
  mach_msg_header_t header;
  mach_msg_body_t body;
  mach_msg_ool_ports_descriptor_t dsc;
  mach_msg_max_trailer_t trailer;
  mach_port_name_t array[2];
};
struct msg_memory {
  mach_msg_header_t header;
  mach_msg_body_t body;
  mach_msg_ool_descriptor_t dsc;
  mach_msg_max_trailer_t trailer;
};

constexpr mach_msg_size_t upto(std::size_t offset_of_trailer) {
  return static_cast<mach_msg_size_t>(offset_of_trailer);
}

void descriptor_port(bool pseudo_receive) {
  mach_port_name_t rcv_name = construct_port();
  mach_port_name_t port = construct_port();
  if (pseudo_receive) fill_port(rcv_name);
  for (mach_msg_type_name_t disp : port_dispositions) {
    BOOST_TEST_CONTEXT("disposition " << disp << (pseudo_receive ? " pseudo" : "")) {
      mach_port_name_t name = port;
      if (disp == MACH_MSG_TYPE_MOVE_SEND_ONCE) name = make_send_once(port);
      msg_port msg{};
      msg.body.msgh_descriptor_count = 1;
      msg.dsc.type = MACH_MSG_PORT_DESCRIPTOR;
      msg.dsc.disposition = disp;
      msg.dsc.name = name;
      mach_msg_return_t kr =
          t_send(rcv_name, &msg.header, upto(offsetof(msg_port, trailer)), true, MACH_SEND_TIMEOUT);
      if (pseudo_receive) {
        BOOST_TEST_REQUIRE(kr == MACH_SEND_TIMED_OUT);
        // The destination right came back too.
        BOOST_TEST(msg.header.msgh_remote_port == rcv_name);
        BOOST_TEST(MACH_MSGH_BITS_REMOTE(msg.header.msgh_bits) == MACH_MSG_TYPE_PORT_SEND);
        BOOST_TEST_REQUIRE(mach_port_deallocate(self(), rcv_name) == KERN_SUCCESS);
      } else {
        BOOST_TEST_REQUIRE(kr == MACH_MSG_SUCCESS);
        BOOST_TEST_REQUIRE(t_receive(rcv_name, &msg.header, sizeof msg) == MACH_MSG_SUCCESS);
        BOOST_TEST(msg.header.msgh_size == upto(offsetof(msg_port, trailer)));
      }
      mach_msg_type_name_t want = translated(disp);
      BOOST_TEST((msg.header.msgh_bits & MACH_MSGH_BITS_COMPLEX) == MACH_MSGH_BITS_COMPLEX);
      BOOST_TEST(msg.body.msgh_descriptor_count == 1u);
      BOOST_TEST(unsigned(msg.dsc.type) == static_cast<unsigned>(MACH_MSG_PORT_DESCRIPTOR));
      BOOST_TEST(unsigned(msg.dsc.disposition) == want);
      if (want != MACH_MSG_TYPE_PORT_SEND_ONCE) BOOST_TEST(msg.dsc.name == port);  // merged
      if (want == MACH_MSG_TYPE_PORT_SEND_ONCE) {
        BOOST_TEST(msg.dsc.name != port);
        BOOST_TEST(type_of(msg.dsc.name) == MACH_PORT_TYPE_SEND_ONCE);
        BOOST_TEST(mach_port_deallocate(self(), msg.dsc.name) == KERN_SUCCESS);
        receive_and_destroy(port);  // its send-once notification
      }
      BOOST_TEST(type_of(port) == MACH_PORT_TYPE_SEND_RECEIVE);
    }
  }
  // The original uref, plus COPY_SEND and MAKE_SEND.
  BOOST_TEST(refs(port, MACH_PORT_RIGHT_SEND) == 3u);
  BOOST_TEST(mach_port_destruct(self(), port, -3, 0) == KERN_SUCCESS);
  if (pseudo_receive) receive_and_destroy(rcv_name);
  BOOST_TEST(mach_port_destruct(self(), rcv_name, -1, 0) == KERN_SUCCESS);
}

void descriptor_guarded_port(bool pseudo_receive) {
  mach_port_name_t rcv_name = construct_port();
  if (pseudo_receive) fill_port(rcv_name);
  const mach_msg_guard_flags_t flags_list[] = {
      MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE,
      MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE | MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND,
  };
  for (mach_msg_guard_flags_t flags : flags_list) {
    BOOST_TEST_CONTEXT("flags " << flags << (pseudo_receive ? " pseudo" : "")) {
      const bool unguarded = (flags & MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND) != 0;
      mach_port_name_t port = unguarded ? construct_port()
                                        : construct_full(MPO_INSERT_SEND_RIGHT |
                                                         MPO_CONTEXT_AS_GUARD);
      msg_guarded msg{};
      msg.body.msgh_descriptor_count = 1;
      msg.dsc.type = MACH_MSG_GUARDED_PORT_DESCRIPTOR;
      msg.dsc.disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
      msg.dsc.name = port;
      msg.dsc.context = unguarded ? 0 : default_context;
      msg.dsc.flags = flags;
      mach_msg_return_t kr = t_send(rcv_name, &msg.header, upto(offsetof(msg_guarded, trailer)),
                                    true, MACH_SEND_TIMEOUT);
      if (pseudo_receive) {
        BOOST_TEST_REQUIRE(kr == MACH_SEND_TIMED_OUT);
        BOOST_TEST_REQUIRE(mach_port_deallocate(self(), rcv_name) == KERN_SUCCESS);
      } else {
        BOOST_TEST_REQUIRE(kr == MACH_MSG_SUCCESS);
        BOOST_TEST_REQUIRE(t_receive(rcv_name, &msg.header, sizeof msg) == MACH_MSG_SUCCESS);
      }
      BOOST_TEST((msg.header.msgh_bits & MACH_MSGH_BITS_COMPLEX) == MACH_MSGH_BITS_COMPLEX);
      BOOST_TEST(msg.body.msgh_descriptor_count == 1u);
      BOOST_TEST(unsigned(msg.dsc.type) == static_cast<unsigned>(MACH_MSG_GUARDED_PORT_DESCRIPTOR));
      BOOST_TEST(unsigned(msg.dsc.disposition) == static_cast<unsigned>(MACH_MSG_TYPE_PORT_RECEIVE));
      BOOST_TEST(msg.dsc.name == port);
      const auto ctx = reinterpret_cast<mach_port_context_t>(&msg);
      BOOST_TEST(copy_of(msg.dsc.context) == ctx);
      BOOST_TEST((unsigned(msg.dsc.flags) & MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND) == 0u);
      mach_port_status_t st = status_of(port);
      BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_GUARDED) != 0u);
      BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_STRICT_GUARD) == 0u);
      // Received: immovable (mo_immovable_receive.c). Pseudo-received: not (§4.6).
      BOOST_TEST(((st.mps_flags & MACH_PORT_STATUS_FLAG_GUARD_IMMOVABLE_RECEIVE) != 0u) ==
                 !pseudo_receive);
      BOOST_TEST(mach_port_destruct(self(), port, -1, ctx) == KERN_SUCCESS);
    }
  }
  if (pseudo_receive) receive_and_destroy(rcv_name);
  BOOST_TEST(mach_port_destruct(self(), rcv_name, -1, 0) == KERN_SUCCESS);
}

void descriptor_port_array(bool pseudo_receive) {
  mach_port_name_t rcv_name = construct_port();
  mach_port_name_t port1 = construct_port();
  mach_port_name_t port2 = construct_port();
  if (pseudo_receive) fill_port(rcv_name);
  for (mach_msg_type_name_t disp : port_dispositions) {
    BOOST_TEST_CONTEXT("disposition " << disp << (pseudo_receive ? " pseudo" : "")) {
      mach_port_name_t name1 = port1, name2 = port2;
      if (disp == MACH_MSG_TYPE_MOVE_SEND_ONCE) {
        name1 = make_send_once(port1);
        name2 = make_send_once(port2);
      }
      msg_port_array msg{};
      msg.body.msgh_descriptor_count = 1;
      msg.dsc.type = MACH_MSG_OOL_PORTS_DESCRIPTOR;
      msg.dsc.disposition = disp;
      msg.dsc.address = msg.array;
      msg.dsc.count = 2;
      msg.dsc.deallocate = false;
      msg.array[0] = name1;
      msg.array[1] = name2;
      mach_msg_return_t kr = t_send(rcv_name, &msg.header,
                                    upto(offsetof(msg_port_array, trailer)), true,
                                    MACH_SEND_TIMEOUT);
      if (pseudo_receive) {
        BOOST_TEST_REQUIRE(kr == MACH_SEND_TIMED_OUT);
        BOOST_TEST_REQUIRE(mach_port_deallocate(self(), rcv_name) == KERN_SUCCESS);
      } else {
        BOOST_TEST_REQUIRE(kr == MACH_MSG_SUCCESS);
        BOOST_TEST_REQUIRE(t_receive(rcv_name, &msg.header, sizeof msg) == MACH_MSG_SUCCESS);
      }
      mach_msg_type_name_t want = translated(disp);
      BOOST_TEST((msg.header.msgh_bits & MACH_MSGH_BITS_COMPLEX) == MACH_MSGH_BITS_COMPLEX);
      BOOST_TEST(msg.body.msgh_descriptor_count == 1u);
      BOOST_TEST(unsigned(msg.dsc.type) == static_cast<unsigned>(MACH_MSG_OOL_PORTS_DESCRIPTOR));
      BOOST_TEST(unsigned(msg.dsc.disposition) == want);
      BOOST_TEST(msg.dsc.count == 2u);
      BOOST_TEST(unsigned(msg.dsc.deallocate) == 1u);
      BOOST_TEST(unsigned(msg.dsc.copy) == static_cast<unsigned>(MACH_MSG_VIRTUAL_COPY));
      auto* array = static_cast<mach_port_name_t*>(msg.dsc.address);
      BOOST_TEST_REQUIRE(array != nullptr);
      BOOST_TEST(array != msg.array);  // a fresh region
      if (want != MACH_MSG_TYPE_PORT_SEND_ONCE) {
        BOOST_TEST(array[0] == port1);
        BOOST_TEST(array[1] == port2);
      } else {
        BOOST_TEST(mach_port_deallocate(self(), array[0]) == KERN_SUCCESS);
        BOOST_TEST(mach_port_deallocate(self(), array[1]) == KERN_SUCCESS);
        receive_and_destroy(port1);
        receive_and_destroy(port2);
      }
      BOOST_TEST(vm_deallocate(self(), reinterpret_cast<vm_address_t>(array),
                               2 * sizeof(mach_port_name_t)) == KERN_SUCCESS);
    }
  }
  BOOST_TEST(refs(port1, MACH_PORT_RIGHT_SEND) == 3u);
  BOOST_TEST(refs(port2, MACH_PORT_RIGHT_SEND) == 3u);
  BOOST_TEST(mach_port_destruct(self(), port1, -3, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), port2, -3, 0) == KERN_SUCCESS);
  if (pseudo_receive) receive_and_destroy(rcv_name);
  BOOST_TEST(mach_port_destruct(self(), rcv_name, -1, 0) == KERN_SUCCESS);
}

void descriptor_memory(bool pseudo_receive) {
  constexpr mach_msg_size_t size = 1u << 20;
  mach_port_name_t rcv_name = construct_port();
  if (pseudo_receive) fill_port(rcv_name);
  for (bool move : {false, true}) {
    BOOST_TEST_CONTEXT("deallocate " << move << (pseudo_receive ? " pseudo" : "")) {
      vm_address_t memory = 0;
      BOOST_TEST_REQUIRE(vm_allocate(self(), &memory, size, VM_FLAGS_ANYWHERE) == KERN_SUCCESS);
      std::memset(reinterpret_cast<void*>(memory), 0xff, size);
      msg_memory msg{};
      msg.body.msgh_descriptor_count = 1;
      msg.dsc.type = MACH_MSG_OOL_DESCRIPTOR;
      msg.dsc.address = reinterpret_cast<void*>(memory);
      msg.dsc.size = size;
      msg.dsc.deallocate = move;
      mach_msg_return_t kr = t_send(rcv_name, &msg.header, upto(offsetof(msg_memory, trailer)),
                                    true, MACH_SEND_TIMEOUT);
      if (pseudo_receive) {
        BOOST_TEST_REQUIRE(kr == MACH_SEND_TIMED_OUT);
        BOOST_TEST_REQUIRE(mach_port_deallocate(self(), rcv_name) == KERN_SUCCESS);
      } else {
        BOOST_TEST_REQUIRE(kr == MACH_MSG_SUCCESS);
        BOOST_TEST_REQUIRE(t_receive(rcv_name, &msg.header, sizeof msg) == MACH_MSG_SUCCESS);
      }
      BOOST_TEST((msg.header.msgh_bits & MACH_MSGH_BITS_COMPLEX) == MACH_MSGH_BITS_COMPLEX);
      BOOST_TEST(msg.body.msgh_descriptor_count == 1u);
      BOOST_TEST(unsigned(msg.dsc.type) == static_cast<unsigned>(MACH_MSG_OOL_DESCRIPTOR));
      BOOST_TEST(msg.dsc.size == size);
      // copy keeps the sender's value (PHYSICAL here); deallocate = (copy == VIRTUAL) (§5.4).
      BOOST_TEST(unsigned(msg.dsc.copy) == static_cast<unsigned>(MACH_MSG_PHYSICAL_COPY));
      BOOST_TEST(unsigned(msg.dsc.deallocate) == 0u);
      auto* bytes = static_cast<const unsigned char*>(msg.dsc.address);
      BOOST_TEST_REQUIRE(bytes != nullptr);
      bool all_ff = true;
      for (mach_msg_size_t i = 0; i < size && all_ff; ++i) all_ff = bytes[i] == 0xff;
      BOOST_TEST(all_ff);
      BOOST_TEST(vm_deallocate(self(), reinterpret_cast<vm_address_t>(msg.dsc.address), size) ==
                 KERN_SUCCESS);
      if (!move) BOOST_TEST(vm_deallocate(self(), memory, size) == KERN_SUCCESS);
    }
  }
  if (pseudo_receive) receive_and_destroy(rcv_name);
  BOOST_TEST(mach_port_destruct(self(), rcv_name, -1, 0) == KERN_SUCCESS);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(msg_transport)

// tests/ipc/mach_msg_transport.c mach_msg_trailer
BOOST_FIXTURE_TEST_CASE(mach_msg_trailer, leak_check) {
  mach_port_name_t rcv_name = construct_port();
  const security_token_t sec = self_security_token();
  const audit_token_t audit = self_audit_token();
  struct {
    unsigned elements;
    mach_msg_size_t size;
  } const cases[] = {{0, 8}, {1, 12}, {2, 20}, {3, 52}, {4, 60}, {7, 68}};
  mach_port_seqno_t expected_seqno = 0;
  for (auto c : cases) {
    BOOST_TEST_CONTEXT("elements " << c.elements) {
      struct {
        mach_msg_header_t hdr;
        mach_msg_max_trailer_t trailer;
        uint32_t sentinel;
      } buf;
      std::memset(&buf, 0xff, sizeof buf);
      BOOST_TEST_REQUIRE(t_send(rcv_name, &buf.hdr, sizeof buf.hdr, false, 0) ==
                         MACH_MSG_SUCCESS);
      BOOST_TEST_REQUIRE(t_receive(rcv_name, &buf.hdr, sizeof buf,
                                   MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
                                       MACH_RCV_TRAILER_ELEMENTS(c.elements)) ==
                         MACH_MSG_SUCCESS);
      BOOST_TEST(buf.hdr.msgh_size == sizeof buf.hdr);
      BOOST_TEST(buf.trailer.msgh_trailer_type == static_cast<unsigned>(MACH_MSG_TRAILER_FORMAT_0));
      BOOST_TEST(buf.trailer.msgh_trailer_size == c.size);
      if (c.size > offsetof(mach_msg_max_trailer_t, msgh_seqno)) {
        BOOST_TEST(buf.trailer.msgh_seqno == expected_seqno);
      }
      if (c.size > offsetof(mach_msg_max_trailer_t, msgh_sender)) {
        BOOST_TEST(std::memcmp(&buf.trailer.msgh_sender, &sec, sizeof sec) == 0);
      }
      if (c.size > offsetof(mach_msg_max_trailer_t, msgh_audit)) {
        BOOST_TEST(std::memcmp(&buf.trailer.msgh_audit, &audit, sizeof audit) == 0);
      }
      if (c.size > offsetof(mach_msg_max_trailer_t, msgh_context)) {
        BOOST_TEST(copy_of(buf.trailer.msgh_context) == default_context);
      }
      if (c.size > offsetof(mach_msg_max_trailer_t, msgh_ad)) {
        BOOST_TEST(buf.trailer.msgh_ad == 0);
      }
      if (c.size > offsetof(mach_msg_max_trailer_t, msgh_labels)) {
        BOOST_TEST(buf.trailer.msgh_labels.sender == 0);
      }
      const auto* rest = reinterpret_cast<const unsigned char*>(&buf.trailer) + c.size;
      const std::size_t rest_size = sizeof buf.trailer + sizeof buf.sentinel - c.size;
      bool untouched = true;
      for (std::size_t i = 0; i < rest_size; ++i) untouched = untouched && rest[i] == 0xff;
      BOOST_TEST(untouched, "bytes past the trailer were written");
      ++expected_seqno;
    }
  }
  BOOST_TEST(mach_port_destruct(self(), rcv_name, -1, 0) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(trailer_seqno_follows_set_seqno, leak_check) {
  mach_port_name_t p = construct_port();
  BOOST_TEST(mach_port_set_seqno(self(), p, 10) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_seqno == 10u);
  for (mach_port_seqno_t want : {10u, 11u}) {
    fill_port(p);
    raw_msg<> m;
    BOOST_TEST_REQUIRE(receive(p, m, MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_SEQNO)) ==
                       MACH_MSG_SUCCESS);
    BOOST_TEST(m.at<uint32_t>(24 + 4) == 12u);
    BOOST_TEST(m.at<uint32_t>(24 + 8) == want);
  }
  BOOST_TEST(status_of(p).mps_seqno == 12u);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
}

// Regression: a message the process sends to itself carries the process's own identity in the
// audit trailer (§5.5: the sender's TASK_AUDIT_TOKEN). On macOS that token's pid (val[5], what
// audit_token_to_pid reads) is getpid() and its euid / egid are the process's; the emulated
// initial task stands for the real process, so it must match too.
BOOST_FIXTURE_TEST_CASE(regression_audit_trailer_identifies_this_process, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  BOOST_TEST_REQUIRE(send_header(port, MACH_MSG_TYPE_COPY_SEND) == MACH_MSG_SUCCESS);
  raw_msg<> buf;
  BOOST_TEST_REQUIRE(receive(port, buf,
                             MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
                                 MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT)) ==
                     MACH_MSG_SUCCESS);
  const auto size = buf.header()->msgh_size;
  BOOST_TEST(size == sizeof(mach_msg_header_t));
  const auto trailer = buf.at<mach_msg_audit_trailer_t>(size);
  BOOST_TEST(trailer.msgh_trailer_size == sizeof(mach_msg_audit_trailer_t));
  BOOST_TEST(static_cast<pid_t>(trailer.msgh_audit.val[5]) == ::getpid());
  BOOST_TEST(trailer.msgh_audit.val[1] == ::geteuid());
  BOOST_TEST(trailer.msgh_audit.val[2] == ::getegid());
  BOOST_TEST(trailer.msgh_sender.val[0] == ::geteuid());
  BOOST_TEST(trailer.msgh_sender.val[1] == ::getegid());
  destroy_port(port);
}

BOOST_FIXTURE_TEST_CASE(mach_msg_descriptor_port, leak_check) {
  descriptor_port(false);
  descriptor_port(true);
}

BOOST_FIXTURE_TEST_CASE(mach_msg_descriptor_guarded_port, leak_check) {
  descriptor_guarded_port(false);
  descriptor_guarded_port(true);
}

BOOST_FIXTURE_TEST_CASE(mach_msg_descriptor_port_array, leak_check) {
  descriptor_port_array(false);
  descriptor_port_array(true);
}

BOOST_FIXTURE_TEST_CASE(mach_msg_descriptor_memory, leak_check) {
  descriptor_memory(false);
  descriptor_memory(true);
}

// §5.4: without MACH_RCV_GUARDED_DESC the receive right in a guarded descriptor is destroyed.
BOOST_FIXTURE_TEST_CASE(guarded_descriptor_without_rcv_option, leak_check) {
  mach_port_name_t rcv_name = construct_port();
  mach_port_name_t port = make_receive();
  msg_guarded msg{};
  msg.body.msgh_descriptor_count = 1;
  msg.dsc.type = MACH_MSG_GUARDED_PORT_DESCRIPTOR;
  msg.dsc.disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
  msg.dsc.name = port;
  msg.dsc.context = 0;
  msg.dsc.flags = MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE | MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND;
  BOOST_TEST_REQUIRE(t_send(rcv_name, &msg.header, upto(offsetof(msg_guarded, trailer)), true,
                            0) == MACH_MSG_SUCCESS);
  BOOST_TEST(!name_exists(port));
  BOOST_TEST_REQUIRE(t_receive(rcv_name, &msg.header, sizeof msg, 0) == MACH_MSG_SUCCESS);
  BOOST_TEST(msg.dsc.name == MACH_PORT_NULL);
  BOOST_TEST(copy_of(msg.dsc.context) == 0u);
  BOOST_TEST(!name_exists(port));
  BOOST_TEST(mach_port_destruct(self(), rcv_name, -1, 0) == KERN_SUCCESS);
}

// §4.2-4: malformed guarded descriptors are MACH_SEND_INVALID_TYPE.
BOOST_FIXTURE_TEST_CASE(guarded_descriptor_validation, leak_check) {
  mach_port_name_t rcv_name = construct_port();
  mach_port_name_t port = make_receive();
  struct {
    mach_msg_type_name_t disposition;
    mach_msg_guard_flags_t flags;
    mach_port_context_t context;
  } const bad[] = {
      {MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE, 0},
      {MACH_MSG_TYPE_MOVE_RECEIVE, 0, 0},
      {MACH_MSG_TYPE_MOVE_RECEIVE, 0x4, 0},
      {MACH_MSG_TYPE_MOVE_RECEIVE,
       MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE | MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND, 5},
  };
  for (auto b : bad) {
    msg_guarded msg{};
    msg.body.msgh_descriptor_count = 1;
    msg.dsc.type = MACH_MSG_GUARDED_PORT_DESCRIPTOR;
    msg.dsc.disposition = b.disposition;
    msg.dsc.name = port;
    msg.dsc.context = b.context;
    msg.dsc.flags = b.flags;
    BOOST_TEST(t_send(rcv_name, &msg.header, upto(offsetof(msg_guarded, trailer)), true, 0) ==
               MACH_SEND_INVALID_TYPE);
  }
  BOOST_TEST(type_of(port) == MACH_PORT_TYPE_RECEIVE);
  BOOST_TEST(refs(rcv_name, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(queue_empty(rcv_name));
  destroy_port(port);
  BOOST_TEST(mach_port_destruct(self(), rcv_name, -1, 0) == KERN_SUCCESS);
}

// §4.3-4.4: a bad descriptor right is MACH_SEND_INVALID_RIGHT, and the header rights that were
// already copied in are destroyed (a MOVE_SEND destination is lost, a MAKE_SEND_ONCE reply
// fires its send-once notification); descriptors after the bad one are untouched.
BOOST_FIXTURE_TEST_CASE(invalid_descriptor_right_destroys_header, leak_check) {
  mach_port_name_t dest = construct_port();
  mach_port_name_t reply = make_receive();
  mach_port_name_t later = construct_port();
  BOOST_TEST(mach_port_mod_refs(self(), dest, MACH_PORT_RIGHT_SEND, 1) == KERN_SUCCESS);
  struct {
    mach_msg_header_t header;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t bad;
    mach_msg_port_descriptor_t after;
  } msg{};
  msg.header.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE,
                                            0, MACH_MSGH_BITS_COMPLEX);
  msg.header.msgh_remote_port = dest;
  msg.header.msgh_local_port = reply;
  msg.body.msgh_descriptor_count = 2;
  msg.bad.type = MACH_MSG_PORT_DESCRIPTOR;
  msg.bad.disposition = MACH_MSG_TYPE_COPY_SEND;
  msg.bad.name = reply;  // receive only: COPY_SEND is the wrong right
  msg.after.type = MACH_MSG_PORT_DESCRIPTOR;
  msg.after.disposition = MACH_MSG_TYPE_MOVE_SEND;
  msg.after.name = later;
  BOOST_TEST(mach_msg(&msg.header, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL, 0,
                      MACH_PORT_NULL) == MACH_SEND_INVALID_RIGHT);
  BOOST_TEST(refs(dest, MACH_PORT_RIGHT_SEND) == 1u);   // the moved uref is gone
  BOOST_TEST(refs(later, MACH_PORT_RIGHT_SEND) == 1u);  // untouched
  BOOST_TEST(queue_empty(dest));
  {
    raw_msg<> n;
    BOOST_TEST_REQUIRE(receive(reply, n) == MACH_MSG_SUCCESS);
    BOOST_TEST(n.header()->msgh_id == MACH_NOTIFY_SEND_ONCE);
  }
  BOOST_TEST(status_of(reply).mps_sorights == 0u);
  // Unknown names and invalid dispositions in a descriptor.
  mach_port_name_t unknown = (0x89ABu << 8) | 3u;
  for (auto [name, disp] : {std::pair<mach_port_name_t, mach_msg_type_name_t>{unknown, 19u},
                            {later, 0u},
                            {later, 22u}}) {
    msg.header.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0,
                                              MACH_MSGH_BITS_COMPLEX);
    msg.header.msgh_local_port = MACH_PORT_NULL;
    msg.body.msgh_descriptor_count = 1;
    msg.bad.name = name;
    msg.bad.disposition = disp;
    BOOST_TEST(mach_msg(&msg.header, MACH_SEND_MSG, sizeof msg - sizeof msg.after, 0,
                        MACH_PORT_NULL, 0, MACH_PORT_NULL) == MACH_SEND_INVALID_RIGHT,
               "name " << name << " disposition " << disp);
  }
  BOOST_TEST(refs(dest, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(queue_empty(dest));
  BOOST_TEST(mach_port_destruct(self(), dest, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), later, -1, 0) == KERN_SUCCESS);
  destroy_port(reply);
}

// §4.3: NULL and DEAD names pass through a descriptor unchanged.
BOOST_FIXTURE_TEST_CASE(null_and_dead_names_in_descriptors, leak_check) {
  mach_port_name_t p = construct_port();
  for (mach_port_name_t n : null_and_dead) {
    msg_port msg{};
    msg.body.msgh_descriptor_count = 1;
    msg.dsc.type = MACH_MSG_PORT_DESCRIPTOR;
    msg.dsc.disposition = MACH_MSG_TYPE_MOVE_SEND;
    msg.dsc.name = n;
    BOOST_TEST_REQUIRE(t_send(p, &msg.header, upto(offsetof(msg_port, trailer)), true, 0) ==
                       MACH_MSG_SUCCESS);
    BOOST_TEST_REQUIRE(t_receive(p, &msg.header, sizeof msg) == MACH_MSG_SUCCESS);
    BOOST_TEST(msg.dsc.name == n);
  }
  // A real dead name: COPY_SEND is accepted and arrives as MACH_PORT_DEAD.
  mach_port_name_t d = make_dead_name();
  msg_port msg{};
  msg.body.msgh_descriptor_count = 1;
  msg.dsc.type = MACH_MSG_PORT_DESCRIPTOR;
  msg.dsc.disposition = MACH_MSG_TYPE_MOVE_SEND;
  msg.dsc.name = d;
  BOOST_TEST_REQUIRE(t_send(p, &msg.header, upto(offsetof(msg_port, trailer)), true, 0) ==
                     MACH_MSG_SUCCESS);
  BOOST_TEST(!name_exists(d));  // MOVE consumed its only uref
  BOOST_TEST_REQUIRE(t_receive(p, &msg.header, sizeof msg) == MACH_MSG_SUCCESS);
  BOOST_TEST(msg.dsc.name == MACH_PORT_DEAD);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
}

// tests/ipc/mach_msg2.c scalar case, through mach_msg.
BOOST_FIXTURE_TEST_CASE(mach_msg2_scalar_header_rewrite, leak_check) {
  mach_port_name_t rcv_port = construct_port();  // receive + send
  mach_port_name_t send_port = make_receive();   // receive only
  struct {
    mach_msg_header_t header;
    uint64_t data;
    mach_msg_max_trailer_t trailer;
  } msg{};
  msg.header.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND, 0, 0);
  msg.header.msgh_remote_port = rcv_port;
  msg.header.msgh_local_port = send_port;
  msg.header.msgh_id = 4141;
  msg.data = 0x0123456789abcdefull;
  const mach_msg_size_t size = sizeof msg.header + sizeof msg.data;
  BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_SEND_MSG, size, 0, MACH_PORT_NULL, 0,
                              MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  std::memset(&msg, 0, sizeof msg);
  BOOST_TEST_REQUIRE(t_receive(rcv_port, &msg.header, sizeof msg) == MACH_MSG_SUCCESS);
  BOOST_TEST(msg.header.msgh_size == size);
  BOOST_TEST(msg.data == 0x0123456789abcdefull);
  BOOST_TEST(msg.header.msgh_remote_port == send_port);
  BOOST_TEST(msg.header.msgh_local_port == rcv_port);
  BOOST_TEST(msg.header.msgh_id == 4141);
  BOOST_TEST((msg.header.msgh_bits & ~MACH_MSGH_BITS_RAISEIMP) == 0x1111u);
  BOOST_TEST(type_of(send_port) == MACH_PORT_TYPE_SEND_RECEIVE);
  BOOST_TEST(mach_port_destruct(self(), send_port, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), rcv_port, -1, 0) == KERN_SUCCESS);
}

// §5.3: with voucher disposition 0 the raw voucher field passes through.
BOOST_FIXTURE_TEST_CASE(raw_voucher_field_passes_through, leak_check) {
  mach_port_name_t p = construct_port();
  mach_msg_header_t h{};
  h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
  h.msgh_remote_port = p;
  h.msgh_voucher_port = 0x12345;
  BOOST_TEST_REQUIRE(mach_msg(&h, MACH_SEND_MSG, sizeof h, 0, MACH_PORT_NULL, 0,
                              MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  raw_msg<> r;
  BOOST_TEST_REQUIRE(receive(p, r) == MACH_MSG_SUCCESS);
  BOOST_TEST(r.header()->msgh_voucher_port == 0x12345u);
  BOOST_TEST(MACH_MSGH_BITS_VOUCHER(r.header()->msgh_bits) == 0u);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
}

// tests/ipc/port_peek.c and §2.11 peek errors.
BOOST_FIXTURE_TEST_CASE(port_peek, leak_check) {
  mach_port_name_t port = make_receive();
  const mach_msg_trailer_type_t audit_trailer =
      MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
      MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT);
  mach_port_seqno_t seqno = 0;
  mach_msg_size_t size = 0;
  mach_msg_id_t id = 0;
  mach_msg_audit_trailer_t trailer{};
  mach_msg_type_number_t trailer_size = sizeof trailer;
  BOOST_TEST(mach_port_peek(self(), port, audit_trailer, &seqno, &size, &id,
                            reinterpret_cast<mach_msg_trailer_info_t>(&trailer),
                            &trailer_size) == KERN_FAILURE);  // nothing queued

  struct {
    mach_msg_header_t header;
    unsigned char body[536 - sizeof(mach_msg_header_t)];
  } msg{};
  static_assert(sizeof msg == 536);
  msg.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND, 0);
  msg.header.msgh_remote_port = port;
  msg.header.msgh_size = sizeof msg;
  msg.header.msgh_id = 0x41414141;
  BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL, 0,
                              MACH_PORT_NULL) == MACH_MSG_SUCCESS);

  seqno = 0;
  trailer_size = sizeof trailer;
  BOOST_TEST(mach_port_peek(self(), port, audit_trailer, &seqno, &size, &id,
                            reinterpret_cast<mach_msg_trailer_info_t>(&trailer),
                            &trailer_size) == KERN_SUCCESS);
  BOOST_TEST(id == 0x41414141);
  BOOST_TEST(size == 544u);  // the kernel size: user size + 8
  BOOST_TEST(trailer_size == sizeof trailer);
  const audit_token_t audit = self_audit_token();
  BOOST_TEST(std::memcmp(&trailer.msgh_audit, &audit, sizeof audit) == 0);
  // Errors: a trailer beyond AUDIT, a buffer too small for the trailer.
  trailer_size = sizeof trailer;
  BOOST_TEST(mach_port_peek(self(), port,
                            MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
                                MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_CTX),
                            &seqno, &size, &id,
                            reinterpret_cast<mach_msg_trailer_info_t>(&trailer),
                            &trailer_size) == KERN_INVALID_VALUE);
  trailer_size = 8;
  BOOST_TEST(mach_port_peek(self(), port, audit_trailer, &seqno, &size, &id,
                            reinterpret_cast<mach_msg_trailer_info_t>(&trailer),
                            &trailer_size) == KERN_INVALID_VALUE);
  // The message is still there.
  raw_msg<1024> r;
  BOOST_TEST(receive(port, r) == MACH_MSG_SUCCESS);
  BOOST_TEST(r.header()->msgh_id == 0x41414141);
  BOOST_TEST(r.header()->msgh_size == 536u);
  destroy_port(port);
}

// §4.2-4 / §5.4: OOL copy option validation and zero-sized regions.
BOOST_FIXTURE_TEST_CASE(ool_copy_option_and_zero_size, leak_check) {
  mach_port_name_t p = construct_port();
  static char data[64] = {1, 2, 3};
  msg_memory msg{};
  msg.body.msgh_descriptor_count = 1;
  msg.dsc.type = MACH_MSG_OOL_DESCRIPTOR;
  msg.dsc.address = data;
  msg.dsc.size = sizeof data;
  msg.dsc.copy = 2;  // neither PHYSICAL nor VIRTUAL
  BOOST_TEST(t_send(p, &msg.header, upto(offsetof(msg_memory, trailer)), true, 0) ==
             MACH_SEND_INVALID_TYPE);
  BOOST_TEST(queue_empty(p));
  msg = msg_memory{};
  msg.body.msgh_descriptor_count = 1;
  msg.dsc.type = MACH_MSG_OOL_DESCRIPTOR;
  msg.dsc.address = data;
  msg.dsc.size = 0;
  msg.dsc.copy = MACH_MSG_VIRTUAL_COPY;
  BOOST_TEST_REQUIRE(t_send(p, &msg.header, upto(offsetof(msg_memory, trailer)), true, 0) ==
                     MACH_MSG_SUCCESS);
  BOOST_TEST_REQUIRE(t_receive(p, &msg.header, sizeof msg) == MACH_MSG_SUCCESS);
  BOOST_TEST(msg.dsc.size == 0u);
  BOOST_TEST(copy_of(msg.dsc.address) == nullptr);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
}

// §4.3: MAKE_* on a dead name in a descriptor fails.
BOOST_FIXTURE_TEST_CASE(make_send_on_dead_name_descriptor, leak_check) {
  mach_port_name_t p = construct_port();
  mach_port_name_t d = make_dead_name();
  for (mach_msg_type_name_t disp : {MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE}) {
    msg_port msg{};
    msg.body.msgh_descriptor_count = 1;
    msg.dsc.type = MACH_MSG_PORT_DESCRIPTOR;
    msg.dsc.disposition = disp;
    msg.dsc.name = d;
    BOOST_TEST(t_send(p, &msg.header, upto(offsetof(msg_port, trailer)), true, 0) ==
               MACH_SEND_INVALID_RIGHT);
  }
  BOOST_TEST(refs(d, MACH_PORT_RIGHT_DEAD_NAME) == 1u);
  BOOST_TEST(refs(p, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(queue_empty(p));
  BOOST_TEST(mach_port_deallocate(self(), d) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_SUITE_END()
