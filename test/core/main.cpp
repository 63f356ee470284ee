// The one translation unit of core_tests that instantiates Boost.Test (header-only variant, so
// the same suite also links for macOS).
#define BOOST_TEST_MODULE core_tests
#include <boost/test/included/unit_test.hpp>
