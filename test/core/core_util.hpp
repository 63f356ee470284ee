// Helpers for the machport core tests.
#pragma once

#include <machport/core.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <span>

namespace core_test {

using namespace std::chrono_literals;

// Failure guard for receives that must find a message: never reached when the test passes.
inline constexpr std::chrono::milliseconds guard = 10000ms;

// The characters of `s` (without the terminating NUL) as bytes.
inline std::span<const std::byte> as_bytes(const char* s) {
  return {reinterpret_cast<const std::byte*>(s), std::strlen(s)};
}

// Unwraps a result, failing the test (and stopping it) on error.
template <class T>
T require(machport::result<T>&& r) {
  BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().message()));
  return std::move(r).value();
}
inline void require(machport::result<void>&& r) {
  BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().message()));
}

inline mach_port_type_t type_of(mach_port_name_t name) {
  mach_port_type_t t = 0;
  BOOST_TEST_REQUIRE(mach_port_type(mach_task_self(), name, &t) == KERN_SUCCESS);
  return t;
}

inline bool name_exists(mach_port_name_t name) {
  mach_port_type_t t = 0;
  return mach_port_type(mach_task_self(), name, &t) == KERN_SUCCESS;
}

inline mach_port_urefs_t refs(mach_port_name_t name, mach_port_right_t right) {
  mach_port_urefs_t n = 0;
  BOOST_TEST_REQUIRE(mach_port_get_refs(mach_task_self(), name, right, &n) == KERN_SUCCESS);
  return n;
}

// A port with a send right under the same name.
inline machport::constructed_port make_port(mach_port_msgcount_t qlimit = 5) {
  machport::port_options o;
  o.queue_limit = qlimit;
  o.insert_send_right = true;
  return require(machport::receive_right::construct(o));
}

inline machport::message receive_now(const machport::receive_right& r,
                                     machport::receive_options o = {}) {
  o.timeout = guard;
  return require(machport::receive(r, o));
}

// Receives a message that must be a send-once notification (0x47) and checks it.
inline void expect_send_once_notification(const machport::receive_right& r) {
  auto m = receive_now(r);
  BOOST_TEST(m.id() == MACH_NOTIFY_SEND_ONCE);
}

inline bool queue_empty(const machport::receive_right& r) {
  return require(r.message_count()) == 0;
}

}  // namespace core_test

BOOST_TEST_DONT_PRINT_LOG_VALUE(machport::message::state)
BOOST_TEST_DONT_PRINT_LOG_VALUE(machport::trailer_level)
