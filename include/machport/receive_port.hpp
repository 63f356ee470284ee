// receive_port: basic_receive_port on Asio's polymorphic I/O executor.
#pragma once

#include <machport/basic_receive_port.hpp>

namespace machport {

using receive_port = basic_receive_port<>;

}  // namespace machport
