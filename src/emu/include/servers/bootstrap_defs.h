/* Emulated Darwin <servers/bootstrap_defs.h>. */
#ifndef MACHPORT_EMU_SERVERS_BOOTSTRAP_DEFS_H
#define MACHPORT_EMU_SERVERS_BOOTSTRAP_DEFS_H
#include <bootstrap.h>
#endif
