// The one translation unit of async_tests (and async_tests_kqueue) that instantiates Boost.Test
// (header-only variant, so the same suite also links for macOS). It must not include Asio: the
// object is shared by the binaries built for each Asio reactor.
#define BOOST_TEST_MODULE async_tests
#include <boost/test/included/unit_test.hpp>
