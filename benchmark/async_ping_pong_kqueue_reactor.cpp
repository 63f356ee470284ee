// async_ping_pong.cpp built with Asio's kqueue reactor, the one Asio uses on macOS, over the
// emulated kqueue (as the async tests' second build): the reactor's own kevent calls are then
// kernel calls too, as on a Mac, so the kernel-call counters show what a Mac would count. On
// macOS this is the default reactor and this file is async_ping_pong.cpp again.
#include <machport/detail/platform.hpp>

#if MACHPORT_EMULATED
#define BOOST_ASIO_DISABLE_EPOLL 1
#define BOOST_ASIO_HAS_KQUEUE 1
#endif

#include "async_ping_pong.cpp"
