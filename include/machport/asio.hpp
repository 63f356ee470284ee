// The Asio layer of machport: Mach ports as Asio I/O objects. Includes the synchronous core.
#pragma once

#include <machport/core.hpp>

#include <machport/async_call.hpp>
#include <machport/async_mig_server.hpp>
#include <machport/async_notification.hpp>
#include <machport/async_receive_options.hpp>
#include <machport/async_send.hpp>
#include <machport/basic_receive_port.hpp>
#include <machport/basic_receive_port_set.hpp>
#include <machport/receive_port.hpp>
#include <machport/receive_port_set.hpp>
