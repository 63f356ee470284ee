// The synchronous core of machport: rights, messages, typed messages, send and receive.
#pragma once

#include <machport/bootstrap.hpp>
#include <machport/dead_name.hpp>
#include <machport/error.hpp>
#include <machport/message.hpp>
#include <machport/message_builder.hpp>
#include <machport/mig_server.hpp>
#include <machport/notification.hpp>
#include <machport/ool_buffer.hpp>
#include <machport/parse.hpp>
#include <machport/port_set.hpp>
#include <machport/receive.hpp>
#include <machport/receive_right.hpp>
#include <machport/reply_port.hpp>
#include <machport/result.hpp>
#include <machport/send.hpp>
#include <machport/send_once_right.hpp>
#include <machport/send_right.hpp>
#include <machport/timeout.hpp>
#include <machport/trailer.hpp>
#include <machport/typed.hpp>
