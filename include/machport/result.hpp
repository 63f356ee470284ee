// machport::result<T>: the return type of every synchronous call.
//
// A Boost.Outcome result holding either a T or a boost::system::error_code. Nothing throws
// on a Mach error unless the caller asks: `.value()` on an error throws
// boost::system::system_error; `has_value()` / `error()` never throw.
#pragma once

#include <machport/error.hpp>

#include <boost/outcome/result.hpp>
#include <boost/outcome/try.hpp>

namespace machport {

template <class T>
using result = boost::outcome_v2::result<T, boost::system::error_code>;

// A successful result<void>.
inline result<void> success() noexcept { return boost::outcome_v2::success(); }

}  // namespace machport
