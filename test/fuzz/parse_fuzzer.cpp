// libFuzzer harness: arbitrary bytes as a received message, taken apart by machport::parse.
// Whatever the bytes, parse must return a value or an error without crashing, reading out of
// bounds (ASan) or undefined behaviour (UBSan), and every part must be releasable.
#include "fuzz_support.hpp"

#include <machport/parse.hpp>

#include <span>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  machport_fuzz::dry_run hook;  // first: outlives everything below
  auto bytes = std::as_bytes(std::span(data, size));
  machport::message m = machport::message::adopt_received(bytes);
  (void)m.bytes();
  auto parsed = machport::parse(std::move(m));
  if (!parsed) return 0;
  auto& p = parsed.value();
  (void)p.id();
  (void)p.local_port();
  (void)p.body().size();
  auto t = p.trailer();
  (void)t.seqno();
  (void)t.sender();
  (void)t.audit();
  (void)t.context();
  auto reader = p.reader();
  while (reader.read<std::uint32_t>()) {
  }
  (void)reader.read_bytes(reader.remaining());
  // Move every part out and drop it (releases go to the hook). OOL memory is not read: in a
  // real receive the kernel mapped it; here the address is random.
  for (auto& d : p.descriptors()) {
    std::visit([](auto& part) { auto taken = std::move(part); (void)taken; }, d);
  }
  auto reply = std::move(p.reply());
  (void)reply;
  return 0;
}
