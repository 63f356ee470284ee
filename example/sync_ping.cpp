// A synchronous round trip with machport: a typed request whose reply port the kernel turns
// into a send-once right in the send (MAKE_SEND_ONCE in the header), served by a thread,
// answered through that right. Four kernel calls per round trip, as hand-written mach_msg.
#include <machport/core.hpp>

#include <array>
#include <cstdio>
#include <cstring>
#include <thread>

struct ping {
  static constexpr mach_msg_id_t id = 100;
  std::uint64_t seq;
  machport::reply_port reply_to;  // travels in the header, not as a descriptor
  std::array<char, 16> text;
};

struct pong {
  static constexpr mach_msg_id_t id = 101;
  std::uint64_t seq;
};

int main() {
  // A port we receive on, with a send right to it under the same name.
  machport::port_options options;
  options.insert_send_right = true;
  auto server = machport::receive_right::construct(options).value();  // throws on error

  std::thread worker([&] {
    // Receive one typed message; any other message is rejected and its rights released.
    auto decoded = machport::decode<ping>(machport::receive(server.receive).value());
    if (!decoded) return;
    ping& request = decoded.value();
    std::printf("server got ping %llu: %s\n", static_cast<unsigned long long>(request.seq),
                request.text.data());
    // Answer through the send-once right the client sent; it is consumed by the send.
    (void)machport::send(std::move(request.reply_to), machport::encode(pong{request.seq}));
  });

  auto reply_port = machport::receive_right::allocate().value();
  ping request{};
  request.seq = 1;
  request.reply_to = machport::reply_port::make_send_once(reply_port);  // made by the send
  std::strcpy(request.text.data(), "hello");
  if (auto sent = machport::send(server.send, machport::encode(std::move(request))); !sent) {
    std::printf("send failed: %s\n", sent.error().message().c_str());
    worker.join();
    return 1;
  }

  auto reply = machport::decode<pong>(machport::receive(reply_port).value());
  worker.join();
  if (!reply) {
    std::printf("bad reply: %s\n", reply.error().message().c_str());
    return 1;
  }
  std::printf("client got pong %llu\n", static_cast<unsigned long long>(reply.value().seq));
  return 0;
}
