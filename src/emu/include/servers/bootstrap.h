/* Emulated Darwin <servers/bootstrap.h>: the SDK forwards to <bootstrap.h>. */
#ifndef MACHPORT_EMU_SERVERS_BOOTSTRAP_H
#define MACHPORT_EMU_SERVERS_BOOTSTRAP_H
#include <bootstrap.h>
#endif
