// mig_serve_one: a hand-written MIG demux (what `mig` would generate for four routines) served
// with MIG's reply-port, MIG_NO_REPLY and return-code rules.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <machport/mig_server.hpp>

#include <mach/mig_errors.h>

#include <cstdint>
#include <cstring>

using namespace machport;
using namespace core_test;

namespace {

constexpr mach_msg_id_t add_id = 7100;    // routine add(a, b) -> sum
constexpr mach_msg_id_t defer_id = 7101;  // routine answered later: MIG_NO_REPLY
constexpr mach_msg_id_t store_id = 7102;  // routine store(port, fail): keeps the port
constexpr mach_msg_id_t give_id = 7103;   // routine give() -> port (a complex reply)
constexpr mach_msg_id_t unknown_id = 7199;

// The layouts mig generates (#pragma pack(4), NDR after the descriptors).
#pragma pack(push, 4)
struct add_request {
  mach_msg_header_t Head;
  NDR_record_t NDR;
  std::int32_t a;
  std::int32_t b;
};
struct add_reply {
  mach_msg_header_t Head;
  NDR_record_t NDR;
  kern_return_t RetCode;
  std::int32_t sum;
};
struct store_request {
  mach_msg_header_t Head;
  mach_msg_body_t msgh_body;
  mach_msg_port_descriptor_t port;
  NDR_record_t NDR;
  std::int32_t fail;
};
struct give_reply {
  mach_msg_header_t Head;
  mach_msg_body_t msgh_body;
  mach_msg_port_descriptor_t port;
};
#pragma pack(pop)

constexpr std::size_t max_reply = sizeof(add_reply) > sizeof(give_reply) ? sizeof(add_reply)
                                                                         : sizeof(give_reply);

template <class T>
T load(const mach_msg_header_t* h) {
  T v;
  std::memcpy(&v, h, sizeof v);
  return v;
}
template <class T>
void store(mach_msg_header_t* h, const T& v) {
  std::memcpy(h, &v, sizeof v);
}
void set_ret(mach_msg_header_t* out, kern_return_t ret) {
  auto e = load<mig_reply_error_t>(out);
  e.NDR = NDR_record;
  e.RetCode = ret;
  store(out, e);
}

// The server: a demux as mig writes it (reply header first, then the routine by id), and the
// state its routines keep.
struct test_server {
  receive_right service = require(receive_right::allocate());  // give() hands out send rights
  send_once_right deferred;     // the reply right defer() keeps
  mach_msg_id_t deferred_id = 0;
  send_right stored;            // the right store() keeps
  int calls = 0;

  boolean_t operator()(mach_msg_header_t* in, mach_msg_header_t* out) {
    ++calls;
    out->msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(in->msgh_bits), 0);
    out->msgh_remote_port = in->msgh_remote_port;
    out->msgh_size = sizeof(mig_reply_error_t);
    out->msgh_local_port = MACH_PORT_NULL;
    out->msgh_id = in->msgh_id + 100;
    out->msgh_reserved = 0;
    switch (in->msgh_id) {
      case add_id: add(in, out); return TRUE;
      case defer_id: defer(in, out); return TRUE;
      case store_id: keep(in, out); return TRUE;
      case give_id: give(out); return TRUE;
      default: set_ret(out, MIG_BAD_ID); return FALSE;
    }
  }

  static bool simple(const mach_msg_header_t* in, std::size_t size) {
    return (in->msgh_bits & MACH_MSGH_BITS_COMPLEX) == 0 && in->msgh_size == size;
  }

  void add(mach_msg_header_t* in, mach_msg_header_t* out) {
    if (!simple(in, sizeof(add_request))) return set_ret(out, MIG_BAD_ARGUMENTS);
    const auto rq = load<add_request>(in);
    add_reply rp = load<add_reply>(out);
    rp.NDR = NDR_record;
    rp.RetCode = KERN_SUCCESS;
    rp.sum = rq.a + rq.b;
    rp.Head.msgh_size = sizeof rp;
    store(out, rp);
  }

  void defer(mach_msg_header_t* in, mach_msg_header_t* out) {
    if (MACH_MSGH_BITS_REMOTE(in->msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE) {
      deferred = send_once_right::adopt(in->msgh_remote_port);
      deferred_id = in->msgh_id + 100;
    }
    set_ret(out, MIG_NO_REPLY);
  }

  void keep(mach_msg_header_t* in, mach_msg_header_t* out) {
    const auto rq = load<store_request>(in);
    if ((in->msgh_bits & MACH_MSGH_BITS_COMPLEX) == 0 || in->msgh_size != sizeof rq ||
        rq.msgh_body.msgh_descriptor_count != 1 || rq.port.type != MACH_MSG_PORT_DESCRIPTOR ||
        rq.port.disposition != MACH_MSG_TYPE_PORT_SEND) {
      return set_ret(out, MIG_BAD_ARGUMENTS);
    }
    if (rq.fail != 0) return set_ret(out, KERN_FAILURE);  // an error: the port is not taken
    stored = send_right::adopt(rq.port.name);
    set_ret(out, KERN_SUCCESS);
  }

  void give(mach_msg_header_t* out) {
    send_right s = require(service.make_send());
    give_reply rp = load<give_reply>(out);
    rp.Head.msgh_bits |= MACH_MSGH_BITS_COMPLEX;
    rp.Head.msgh_size = sizeof rp;
    rp.msgh_body.msgh_descriptor_count = 1;
    rp.port = {};
    rp.port.name = s.release();
    rp.port.disposition = MACH_MSG_TYPE_MOVE_SEND;
    rp.port.type = MACH_MSG_PORT_DESCRIPTOR;
    store(out, rp);
  }
};

// A subsystem with no routines, as a plain function.
boolean_t no_routines(mach_msg_header_t*, mach_msg_header_t*) { return FALSE; }

message add_request_msg(std::int32_t a, std::int32_t b) {
  return message_builder(add_id).add(NDR_record).add(a).add(b).build();
}

message store_request_msg(send_right&& port, bool fail) {
  return message_builder(store_id)
      .add_port(std::move(port))
      .add(NDR_record)
      .add(std::int32_t{fail ? 1 : 0})
      .build();
}

// Sends `msg` to the server port and returns it as the server receives it.
message deliver(const constructed_port& server, message&& msg) {
  require(send(server.send, std::move(msg), guard));
  return receive_now(server.receive);
}

template <class T>
T receive_reply(const receive_right& r) {
  message m = receive_now(r);
  BOOST_TEST_REQUIRE(m.size() == sizeof(T));
  T v;
  std::memcpy(&v, m.bytes().data(), sizeof v);
  return v;
}

// The port has a receive right and nothing else under its name.
bool only_receive(const receive_right& r) { return type_of(r.name()) == MACH_PORT_TYPE_RECEIVE; }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(mig_server_tests, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(routine_replies_with_data) {
  test_server server;
  auto port = make_port();
  receive_right client = require(receive_right::allocate());
  message reply_buffer;  // one buffer for both requests
  for (std::int32_t i = 0; i < 2; ++i) {
    message request = deliver(
        port, message_builder(add_id).reply_make_send_once(client).add(NDR_record).add(i).add(40).build());
    const auto served = require(mig_serve_one(request, server, max_reply, reply_buffer));
    BOOST_TEST(served.recognized);
    BOOST_TEST(served.ret_code == KERN_SUCCESS);
    BOOST_TEST(served.replied);
    BOOST_TEST(request.empty());
    BOOST_TEST(reply_buffer.empty());
    BOOST_TEST(reply_buffer.buffer().size() >= max_reply);

    message reply = receive_now(client);
    BOOST_TEST(reply.id() == add_id + 100);
    // Sent to the request's send-once reply right, moved: it arrives as a send-once message.
    BOOST_TEST(MACH_MSGH_BITS_LOCAL(reply.header().msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE);
    BOOST_TEST(MACH_MSGH_BITS_REMOTE(reply.header().msgh_bits) == 0u);
    BOOST_TEST_REQUIRE(reply.size() == sizeof(add_reply));
    add_reply r;
    std::memcpy(&r, reply.bytes().data(), sizeof r);
    BOOST_TEST(r.RetCode == KERN_SUCCESS);
    BOOST_TEST(r.sum == 40 + i);
    BOOST_TEST(std::memcmp(&r.NDR, &NDR_record, sizeof r.NDR) == 0);
  }
  BOOST_TEST(server.calls == 2);
}

BOOST_AUTO_TEST_CASE(no_reply_routine_keeps_the_reply_port) {
  test_server server;
  auto port = make_port();
  receive_right client = require(receive_right::allocate());
  message request = deliver(port, message_builder(defer_id).reply_make_send_once(client).build());
  const auto served = require(mig_serve_one(request, server, max_reply));
  BOOST_TEST(served.recognized);
  BOOST_TEST(served.ret_code == MIG_NO_REPLY);
  BOOST_TEST(!served.replied);
  BOOST_TEST(request.empty());
  BOOST_TEST(queue_empty(client));  // no reply, and no send-once notification either
  BOOST_TEST_REQUIRE(server.deferred.valid());
  BOOST_TEST(type_of(server.deferred.name()) == MACH_PORT_TYPE_SEND_ONCE);

  // The routine answers later with the right it kept.
  message answer = message_builder(server.deferred_id)
                       .add(NDR_record)
                       .add(kern_return_t{KERN_SUCCESS})
                       .build();
  require(send(std::move(server.deferred), std::move(answer), guard));
  const auto r = receive_reply<mig_reply_error_t>(client);
  BOOST_TEST(r.Head.msgh_id == defer_id + 100);
  BOOST_TEST(r.RetCode == KERN_SUCCESS);
}

BOOST_AUTO_TEST_CASE(unknown_id_gets_mig_bad_id_and_its_rights_are_released) {
  test_server server;
  auto port = make_port();
  receive_right client = require(receive_right::allocate());
  receive_right carried = require(receive_right::allocate());
  message request = deliver(port, message_builder(unknown_id)
                                      .reply_make_send_once(client)
                                      .add_make_send(carried)
                                      .add(NDR_record)
                                      .build());
  BOOST_TEST(type_of(carried.name()) == MACH_PORT_TYPE_SEND_RECEIVE);  // the request's right
  const auto served = require(mig_serve_one(request, server, max_reply));
  BOOST_TEST(!served.recognized);
  BOOST_TEST(served.ret_code == MIG_BAD_ID);
  BOOST_TEST(served.replied);
  BOOST_TEST(only_receive(carried));
  const auto r = receive_reply<mig_reply_error_t>(client);
  BOOST_TEST(r.Head.msgh_id == unknown_id + 100);
  BOOST_TEST(r.RetCode == MIG_BAD_ID);
}

BOOST_AUTO_TEST_CASE(demux_as_a_plain_function) {
  auto port = make_port();
  receive_right client = require(receive_right::allocate());
  for (int i = 0; i < 2; ++i) {
    message request = deliver(port, message_builder(add_id).reply_make_send_once(client).build());
    const auto served = i == 0 ? require(mig_serve_one(request, no_routines, max_reply))
                               : require(mig_serve_one(request, &no_routines, max_reply));
    BOOST_TEST(!served.recognized);
    BOOST_TEST(served.replied);
    const auto r = receive_reply<mig_reply_error_t>(client);
    BOOST_TEST(r.Head.msgh_id == add_id + 100);
    BOOST_TEST(r.RetCode == MIG_BAD_ID);
  }
}

BOOST_AUTO_TEST_CASE(success_leaves_the_rights_to_the_routine) {
  test_server server;
  auto port = make_port();
  receive_right client = require(receive_right::allocate());
  auto carried = make_port();
  message request = deliver(
      port, message_builder(store_id)
                .reply_make_send_once(client)
                .add_port(std::move(carried.send))
                .add(NDR_record)
                .add(std::int32_t{0})
                .build());
  const auto served = require(mig_serve_one(request, server, max_reply));
  BOOST_TEST(served.ret_code == KERN_SUCCESS);
  BOOST_TEST(served.replied);
  BOOST_TEST(server.stored.name() == carried.receive.name());
  BOOST_TEST(refs(carried.receive.name(), MACH_PORT_RIGHT_SEND) == 1u);  // the routine's, not released
  BOOST_TEST(receive_reply<mig_reply_error_t>(client).RetCode == KERN_SUCCESS);
  server.stored.reset();
  BOOST_TEST(only_receive(carried.receive));
}

BOOST_AUTO_TEST_CASE(error_ret_code_releases_the_request) {
  test_server server;
  auto port = make_port();
  receive_right client = require(receive_right::allocate());
  auto carried = make_port();
  message request = deliver(
      port, message_builder(store_id)
                .reply_make_send_once(client)
                .add_port(std::move(carried.send))
                .add(NDR_record)
                .add(std::int32_t{1})
                .build());
  BOOST_TEST(refs(carried.receive.name(), MACH_PORT_RIGHT_SEND) == 1u);  // owned by the request
  const auto served = require(mig_serve_one(request, server, max_reply));
  BOOST_TEST(served.recognized);
  BOOST_TEST(served.ret_code == KERN_FAILURE);
  BOOST_TEST(served.replied);
  BOOST_TEST(!server.stored.valid());
  BOOST_TEST(only_receive(carried.receive));  // released by the server, exactly once
  const auto r = receive_reply<mig_reply_error_t>(client);
  BOOST_TEST(r.Head.msgh_id == store_id + 100);
  BOOST_TEST(r.RetCode == KERN_FAILURE);
}

BOOST_AUTO_TEST_CASE(request_without_reply_port) {
  test_server server;
  auto port = make_port();
  // A routine's reply is dropped.
  message request = deliver(port, add_request_msg(1, 2));
  auto served = require(mig_serve_one(request, server, max_reply));
  BOOST_TEST(served.ret_code == KERN_SUCCESS);
  BOOST_TEST(!served.replied);
  // An error: the request is destroyed all the same.
  auto carried = make_port();
  request = deliver(port, store_request_msg(std::move(carried.send), true));
  served = require(mig_serve_one(request, server, max_reply));
  BOOST_TEST(served.ret_code == KERN_FAILURE);
  BOOST_TEST(!served.replied);
  BOOST_TEST(only_receive(carried.receive));
  // A complex reply is destroyed with the right it moves.
  request = deliver(port, message_builder(give_id).build());
  served = require(mig_serve_one(request, server, max_reply));
  BOOST_TEST(served.ret_code == KERN_SUCCESS);
  BOOST_TEST(!served.replied);
  BOOST_TEST(only_receive(server.service));
  BOOST_TEST(queue_empty(port.receive));
}

BOOST_AUTO_TEST_CASE(complex_reply_carries_a_right) {
  test_server server;
  auto port = make_port();
  receive_right client = require(receive_right::allocate());
  message request = deliver(port, message_builder(give_id).reply_make_send_once(client).build());
  const auto served = require(mig_serve_one(request, server, max_reply));
  BOOST_TEST(served.ret_code == KERN_SUCCESS);
  BOOST_TEST(served.replied);
  message reply = receive_now(client);
  BOOST_TEST(reply.id() == give_id + 100);
  BOOST_TEST(reply.complex());
  BOOST_TEST(refs(server.service.name(), MACH_PORT_RIGHT_SEND) == 1u);  // now the reply's
  reply.reset();
  BOOST_TEST(only_receive(server.service));
}

BOOST_AUTO_TEST_CASE(reply_port_dead_before_the_request_is_received) {
  test_server server;
  auto port = make_port();
  receive_right client = require(receive_right::allocate());
  require(send(port.send, message_builder(give_id).reply_make_send_once(client).build(), guard));
  client.reset();
  message request = receive_now(port.receive);
  // The kernel delivers the dead reply right as MACH_PORT_DEAD: there is nowhere to reply.
  BOOST_TEST(request.header().msgh_remote_port == MACH_PORT_DEAD);
  const auto served = require(mig_serve_one(request, server, max_reply));
  BOOST_TEST(served.ret_code == KERN_SUCCESS);
  BOOST_TEST(!served.replied);
  BOOST_TEST(only_receive(server.service));  // the reply's right was released
}

BOOST_AUTO_TEST_CASE(reply_to_a_port_that_died_is_destroyed) {
  test_server server;
  auto port = make_port();
  receive_right client = require(receive_right::allocate());
  message request = deliver(port, message_builder(give_id).reply_make_send_once(client).build());
  const mach_port_name_t reply_name = request.header().msgh_remote_port;
  BOOST_TEST(type_of(reply_name) == MACH_PORT_TYPE_SEND_ONCE);
  client.reset();
  // Looked at, the reply right becomes a dead name (XNU converts lazily, §2.9), which the send
  // refuses.
  BOOST_TEST(type_of(reply_name) == MACH_PORT_TYPE_DEAD_NAME);
  const auto served = mig_serve_one(request, server, max_reply);
  BOOST_TEST_REQUIRE(!served.has_value());
  BOOST_TEST(served.error() == make_msg_error(MACH_SEND_INVALID_DEST));
  BOOST_TEST(request.empty());
  BOOST_TEST(!name_exists(reply_name));       // the dead name was released
  BOOST_TEST(only_receive(server.service));  // and the reply's right
}

BOOST_AUTO_TEST_CASE(reply_to_a_port_that_died_unnoticed_is_dropped_by_the_kernel) {
  test_server server;
  auto port = make_port();
  receive_right client = require(receive_right::allocate());
  message request = deliver(port, message_builder(give_id).reply_make_send_once(client).build());
  const mach_port_name_t reply_name = request.header().msgh_remote_port;
  client.reset();
  // Untouched since its port died, the send-once right is still a valid destination: the send
  // succeeds and the kernel destroys the reply with the right it carries.
  const auto served = require(mig_serve_one(request, server, max_reply));
  BOOST_TEST(served.replied);
  BOOST_TEST(!name_exists(reply_name));
  BOOST_TEST(only_receive(server.service));
}

BOOST_AUTO_TEST_CASE(reply_to_a_send_right) {
  test_server server;
  auto port = make_port();
  auto client = make_port(1);
  // A send right as reply port: the reply moves it (MOVE_SEND).
  message request = deliver(port, message_builder(give_id).reply_make_send(client.receive).build());
  auto served = require(mig_serve_one(request, server, max_reply));
  BOOST_TEST(served.replied);
  message reply = receive_now(client.receive);
  BOOST_TEST(MACH_MSGH_BITS_LOCAL(reply.header().msgh_bits) == MACH_MSG_TYPE_PORT_SEND);
  reply.reset();

  // Its queue is full: the reply is not waited for, it fails and is destroyed.
  require(send(client.send, message_builder(1).build(), guard));
  request = deliver(port, message_builder(give_id).reply_make_send(client.receive).build());
  BOOST_TEST(refs(client.receive.name(), MACH_PORT_RIGHT_SEND) == 2u);  // ours + the request's
  const auto failed = mig_serve_one(request, server, max_reply);
  BOOST_TEST_REQUIRE(!failed.has_value());
  BOOST_TEST(failed.error() == make_msg_error(MACH_SEND_TIMED_OUT));
  BOOST_TEST(refs(client.receive.name(), MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(only_receive(server.service));
  BOOST_TEST(receive_now(client.receive).id() == 1);
  BOOST_TEST(queue_empty(client.receive));
}

BOOST_AUTO_TEST_CASE(reply_header_prepared_for_the_demux) {
  auto port = make_port();
  receive_right client = require(receive_right::allocate());
  message request = deliver(port, message_builder(42).reply_make_send_once(client).build());
  mach_msg_header_t seen{};
  // A demux that only sets RetCode relies on the header mig_serve_one wrote.
  auto demux = [&](mach_msg_header_t*, mach_msg_header_t* out) {
    seen = *out;
    const auto e = load<mig_reply_error_t>(out);
    BOOST_TEST(e.RetCode == KERN_SUCCESS);
    BOOST_TEST(std::memcmp(&e.NDR, &NDR_record, sizeof e.NDR) == 0);
    set_ret(out, KERN_INVALID_VALUE);
    return true;
  };
  const mach_port_name_t reply_name = request.header().msgh_remote_port;
  const auto served = require(mig_serve_one(request, demux, 0));  // raised to mig_reply_error_t
  BOOST_TEST(seen.msgh_remote_port == reply_name);
  BOOST_TEST(seen.msgh_local_port == MACH_PORT_NULL);
  BOOST_TEST(seen.msgh_bits == MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0));
  BOOST_TEST(seen.msgh_size == sizeof(mig_reply_error_t));
  BOOST_TEST(seen.msgh_id == 142);
  BOOST_TEST(served.ret_code == KERN_INVALID_VALUE);
  const auto r = receive_reply<mig_reply_error_t>(client);
  BOOST_TEST(r.Head.msgh_id == 142);
  BOOST_TEST(r.RetCode == KERN_INVALID_VALUE);
}

BOOST_AUTO_TEST_CASE(malformed_reply_size_is_refused) {
  auto port = make_port();
  receive_right client = require(receive_right::allocate());
  message request = deliver(port, message_builder(5).reply_make_send_once(client).build());
  auto demux = [](mach_msg_header_t*, mach_msg_header_t* out) {
    out->msgh_size = 4096;  // past the buffer
    return true;
  };
  const auto served = mig_serve_one(request, demux, max_reply);
  BOOST_TEST_REQUIRE(!served.has_value());
  BOOST_TEST(served.error() == make_error_code(message_errc::bad_header_size));
  BOOST_TEST(request.empty());
  // The reply right was released: the client learns no reply will come.
  expect_send_once_notification(client);
}

BOOST_AUTO_TEST_CASE(request_in_the_wrong_state) {
  test_server server;
  message empty;
  auto r = mig_serve_one(empty, server, max_reply);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error() == make_error_code(message_errc::empty_message));

  receive_right client = require(receive_right::allocate());
  message outgoing = message_builder(add_id).reply_make_send_once(client).build();
  r = mig_serve_one(outgoing, server, max_reply);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error() == make_error_code(message_errc::bad_header_bits));
  BOOST_TEST(outgoing.current_state() == message::state::outgoing);  // untouched
  BOOST_TEST(server.calls == 0);
}

BOOST_AUTO_TEST_SUITE_END()
