// Helpers for the Asio layer's tests.
#pragma once

#include <machport/asio.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace async_test {

using namespace std::chrono_literals;
inline constexpr std::chrono::milliseconds guard = 10000ms;

// A small typed message carrying one number.
struct numbered {
  static constexpr mach_msg_id_t id = 700;
  std::uint64_t n = 0;
};

template <class T>
T require(machport::result<T>&& r) {
  BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().message()));
  return std::move(r).value();
}
inline void require(machport::result<void>&& r) {
  BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().message()));
}

// A receive right and a send right to it.
struct port_pair {
  machport::receive_right receive = require(machport::receive_right::allocate());
  machport::send_right send = require(receive.make_send());
};

// Sends numbered{n} to `to` (COPY_SEND).
inline void send_number(const machport::send_right& to, std::uint64_t n) {
  require(machport::send(to, machport::encode(numbered{n}), guard));
}

// The number a received message carries (fails the test if it is not a numbered).
inline std::uint64_t number_of(machport::message&& m) {
  return require(machport::decode<numbered>(std::move(m))).n;
}

// How many messages the port holds now.
inline mach_port_msgcount_t queued(const machport::receive_right& r) {
  return require(r.message_count());
}

// The port service's perform count for `ctx` (wake-ups of the kqueue registration).
inline std::uint64_t performs(boost::asio::io_context& ctx) {
  return boost::asio::use_service<machport::detail::port_service>(ctx).performs();
}

}  // namespace async_test
