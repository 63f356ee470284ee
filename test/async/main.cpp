// The one translation unit of async_tests that instantiates Boost.Test (header-only variant).
#define BOOST_TEST_MODULE async_tests
#include <boost/test/included/unit_test.hpp>
