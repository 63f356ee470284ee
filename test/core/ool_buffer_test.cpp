// ool_buffer: VM memory, move-only.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <cstring>

using namespace machport;
using namespace core_test;

BOOST_FIXTURE_TEST_SUITE(ool_buffers, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(allocate_is_page_aligned_and_zeroed) {
  auto b = require(ool_buffer::allocate(3 * detail::page_size() + 5));
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(b.data()) % detail::page_size() == 0u);
  BOOST_TEST(b.size() == 3 * detail::page_size() + 5);
  BOOST_TEST(!b.empty());
  for (auto x : b.span()) BOOST_TEST_REQUIRE((x == std::byte{0}));
  b.span()[b.size() - 1] = std::byte{1};
  const ool_buffer& cb = b;
  BOOST_TEST(cb.span().size() == b.size());
  BOOST_TEST(static_cast<int>(cb.data()[b.size() - 1]) == 1);
}

BOOST_AUTO_TEST_CASE(empty_and_zero_size) {
  ool_buffer e;
  BOOST_TEST(e.empty());
  BOOST_TEST(e.data() == nullptr);
  auto z = require(ool_buffer::allocate(0));
  BOOST_TEST(z.empty());
}

BOOST_AUTO_TEST_CASE(copy_of_and_move) {
  const char text[] = "abc";
  auto b = require(ool_buffer::copy_of(std::as_bytes(std::span(text))));
  BOOST_TEST(std::memcmp(b.data(), "abc", 4) == 0);
  ool_buffer c = std::move(b);
  BOOST_TEST(b.empty());
  BOOST_TEST(c.size() == 4u);
  ool_buffer d;
  d = std::move(c);
  BOOST_TEST(c.empty());
  auto region = d.release();
  BOOST_TEST(d.empty());
  auto again = ool_buffer::adopt(region.address, region.size);
  BOOST_TEST(again.size() == 4u);
  again.reset();
  BOOST_TEST(again.empty());
}

BOOST_AUTO_TEST_CASE(allocate_failure_is_an_error) {
  auto r = ool_buffer::allocate(~std::size_t{0} - 4096);
  BOOST_TEST(r.has_error());
}

BOOST_AUTO_TEST_SUITE_END()
