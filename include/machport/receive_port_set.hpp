// receive_port_set: basic_receive_port_set on Asio's polymorphic I/O executor. (The name
// port_set is the synchronous right type, include/machport/port_set.hpp.)
#pragma once

#include <machport/basic_receive_port_set.hpp>

namespace machport {

using receive_port_set = basic_receive_port_set<>;

}  // namespace machport
