// A hand-written MIG subsystem for the async_mig_serve tests: the demux and message layouts
// `mig` would generate for a few routines (there is no mig tool here), and a client side.
#pragma once

#include "async_util.hpp"

#include <machport/asio.hpp>

#include <mach/mig_errors.h>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <functional>

namespace mig_test {

using async_test::guard;
using async_test::require;

constexpr mach_msg_id_t add_id = 7100;    // routine add(a, b) -> sum
constexpr mach_msg_id_t defer_id = 7101;  // routine answered later: MIG_NO_REPLY
constexpr mach_msg_id_t store_id = 7102;  // routine store(port, fail): keeps the port
constexpr mach_msg_id_t hook_id = 7103;   // routine that runs the server's hook, then replies
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
#pragma pack(pop)

// The subsystem's reply union size.
constexpr std::size_t max_reply = sizeof(add_reply);

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
inline void set_ret(mach_msg_header_t* out, kern_return_t ret) {
  auto e = load<mig_reply_error_t>(out);
  e.NDR = NDR_record;
  e.RetCode = ret;
  store(out, e);
}

// The server: a demux as mig writes it (reply header first, then the routine by id), and the
// state its routines keep. Movable, so it can be handed to async_mig_serve by value.
struct test_server {
  machport::send_once_right deferred;  // the reply right defer() keeps
  mach_msg_id_t deferred_id = 0;
  machport::send_right stored;  // the right store() keeps
  std::function<void()> hook;   // what hook_id runs
  int calls = 0;
  // The buffers the demux was called with (the server reuses them).
  const void* last_request = nullptr;
  const void* last_reply = nullptr;
  int request_buffers = 0;  // how many distinct request buffers in a row were seen
  int reply_buffers = 0;

  boolean_t operator()(mach_msg_header_t* in, mach_msg_header_t* out) {
    ++calls;
    if (in != last_request) ++request_buffers;
    if (out != last_reply) ++reply_buffers;
    last_request = in;
    last_reply = out;
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
      case hook_id:
        if (hook) hook();
        set_ret(out, KERN_SUCCESS);
        return TRUE;
      default: set_ret(out, MIG_BAD_ID); return FALSE;
    }
  }

  void add(mach_msg_header_t* in, mach_msg_header_t* out) {
    if ((in->msgh_bits & MACH_MSGH_BITS_COMPLEX) != 0 || in->msgh_size != sizeof(add_request)) {
      return set_ret(out, MIG_BAD_ARGUMENTS);
    }
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
      deferred = machport::send_once_right::adopt(in->msgh_remote_port);
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
    stored = machport::send_right::adopt(rq.port.name);
    set_ret(out, KERN_SUCCESS);
  }

  // Answers the deferred request (MIG_NO_REPLY earlier) with `ret`.
  void answer_deferred(kern_return_t ret) {
    machport::message answer =
        machport::message_builder(deferred_id).add(NDR_record).add(ret).build();
    require(machport::send(std::move(deferred), std::move(answer), guard));
  }
};

// Client side: requests with a send-once reply right made from `reply_to`.
inline machport::message add_request_msg(const machport::receive_right& reply_to, std::int32_t a,
                                         std::int32_t b) {
  return machport::message_builder(add_id).reply_make_send_once(reply_to).add(NDR_record).add(a).add(b).build();
}
inline machport::message simple_request_msg(const machport::receive_right& reply_to,
                                            mach_msg_id_t id) {
  return machport::message_builder(id).reply_make_send_once(reply_to).add(NDR_record).build();
}
inline machport::message store_request_msg(const machport::receive_right& reply_to,
                                           machport::send_right&& port, bool fail) {
  return machport::message_builder(store_id)
      .reply_make_send_once(reply_to)
      .add_port(std::move(port))
      .add(NDR_record)
      .add(std::int32_t{fail ? 1 : 0})
      .build();
}

inline machport::message receive_now(const machport::receive_right& r) {
  machport::receive_options o;
  o.timeout = guard;
  return require(machport::receive(r, o));
}

// Receives a reply of layout T (checks its size).
template <class T>
T receive_reply(const machport::receive_right& r) {
  machport::message m = receive_now(r);
  BOOST_TEST_REQUIRE(m.size() == sizeof(T));
  T v;
  std::memcpy(&v, m.bytes().data(), sizeof v);
  return v;
}

inline mach_port_type_t type_of(mach_port_name_t name) {
  mach_port_type_t t = 0;
  BOOST_TEST_REQUIRE(mach_port_type(mach_task_self(), name, &t) == KERN_SUCCESS);
  return t;
}

inline mach_port_urefs_t send_refs(mach_port_name_t name) {
  mach_port_urefs_t n = 0;
  BOOST_TEST_REQUIRE(mach_port_get_refs(mach_task_self(), name, MACH_PORT_RIGHT_SEND, &n) ==
                     KERN_SUCCESS);
  return n;
}

// The port has a receive right and nothing else under its name.
inline bool only_receive(const machport::receive_right& r) {
  return type_of(r.name()) == MACH_PORT_TYPE_RECEIVE;
}

}  // namespace mig_test
