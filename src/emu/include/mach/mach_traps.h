/* Emulated Darwin <mach/mach_traps.h>: the name-returning traps. */
#ifndef MACHPORT_EMU_MACH_MACH_TRAPS_H
#define MACHPORT_EMU_MACH_MACH_TRAPS_H

#include <sys/cdefs.h>
#include <mach/port.h>

__BEGIN_DECLS
/* A new receive right in the caller's space (MACH_PORT_NULL if the space is full/dead). */
extern mach_port_name_t mach_reply_port(void);
extern mach_port_name_t task_self_trap(void);
extern mach_port_name_t host_self_trap(void);
extern mach_port_name_t thread_self_trap(void);
__END_DECLS

#endif
