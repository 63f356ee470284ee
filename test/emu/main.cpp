// The one translation unit of emu_tests that instantiates Boost.Test (header-only variant, so
// the same suite also links for macOS).
#define BOOST_TEST_MODULE emu_tests
#include <boost/test/included/unit_test.hpp>
