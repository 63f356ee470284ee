// The hand-written baselines: plain Mach API, no machport code.
#pragma once

#include <mach/mach.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace machport_bench::raw {

// A port of the calling task; with `with_send`, a send right under the same name too.
// Destroyed (with that send right) by the destructor, in the task that made it.
class port {
 public:
  explicit port(bool with_send = true) {
    const mach_port_t self = mach_task_self();
    if (mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &name_) != KERN_SUCCESS) {
      name_ = MACH_PORT_NULL;
      return;
    }
    if (with_send &&
        mach_port_insert_right(self, name_, name_, MACH_MSG_TYPE_MAKE_SEND) != KERN_SUCCESS) {
      mach_port_mod_refs(self, name_, MACH_PORT_RIGHT_RECEIVE, -1);
      name_ = MACH_PORT_NULL;
      return;
    }
    send_refs_ = with_send ? 1 : 0;
  }
  ~port() {
    if (name_ != MACH_PORT_NULL) mach_port_destruct(mach_task_self(), name_, -send_refs_, 0);
  }
  port(const port&) = delete;
  port& operator=(const port&) = delete;

  mach_port_name_t name() const { return name_; }
  bool valid() const { return name_ != MACH_PORT_NULL; }

 private:
  mach_port_name_t name_ = MACH_PORT_NULL;
  mach_port_delta_t send_refs_ = 0;
};

// A message buffer, 8-byte aligned as mach_msg wants, with room for the largest trailer.
class buffer {
 public:
  explicit buffer(std::size_t message_bytes)
      : words_((message_bytes + sizeof(mach_msg_max_trailer_t) + 7) / 8) {}
  mach_msg_header_t* header() { return reinterpret_cast<mach_msg_header_t*>(words_.data()); }
  std::byte* bytes() { return reinterpret_cast<std::byte*>(words_.data()); }
  mach_msg_size_t size() const { return static_cast<mach_msg_size_t>(words_.size() * 8); }

 private:
  std::vector<std::uint64_t> words_;
};

// Sends a message of `payload` inline bytes (a multiple of 4) to `port` (COPY_SEND of the send
// right under that name) and receives it back, from the port or from `receive_from` (a set
// holding it): two mach_msg calls. Each send writes the header and copies the payload into
// the message, as hand-written code that sends fresh data does.
class send_receive {
 public:
  send_receive(mach_port_name_t port, mach_msg_size_t payload,
               mach_port_name_t receive_from = MACH_PORT_NULL)
      : port_(port),
        receive_from_(receive_from != MACH_PORT_NULL ? receive_from : port),
        size_(static_cast<mach_msg_size_t>(sizeof(mach_msg_header_t)) + payload),
        payload_(payload, std::byte{0x5a}),
        out_(size_),
        in_(size_) {}

  bool operator()() { return send() && receive(); }

  bool send() {
    mach_msg_header_t* m = out_.header();
    *m = {};
    m->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    m->msgh_size = size_;
    m->msgh_remote_port = port_;
    m->msgh_id = 7;
    if (!payload_.empty()) std::memcpy(m + 1, payload_.data(), payload_.size());
    return mach_msg(m, MACH_SEND_MSG, size_, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                    MACH_PORT_NULL) == MACH_MSG_SUCCESS;
  }

  bool receive() {
    return mach_msg(in_.header(), MACH_RCV_MSG, 0, in_.size(), receive_from_,
                    MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) == MACH_MSG_SUCCESS &&
           in_.header()->msgh_id == 7;
  }

  mach_msg_size_t message_size() const { return size_; }

 private:
  mach_port_name_t port_;
  mach_port_name_t receive_from_;
  mach_msg_size_t size_;
  std::vector<std::byte> payload_;
  buffer out_;
  buffer in_;
};

}  // namespace machport_bench::raw
