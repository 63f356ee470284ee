/* Emulated Darwin <mach/mig.h>: the per-thread MIG reply port helpers. */
#ifndef MACHPORT_EMU_MACH_MIG_H
#define MACHPORT_EMU_MACH_MIG_H

#include <sys/cdefs.h>
#include <mach/message.h>
#include <mach/port.h>

__BEGIN_DECLS
/* A receive right owned by the calling thread in its current task, created on first use. */
extern mach_port_t mig_get_reply_port(void);
/* Destroys it; the next mig_get_reply_port makes a new one. */
extern void mig_dealloc_reply_port(mach_port_t reply_port);
extern void mig_put_reply_port(mach_port_t reply_port);
__END_DECLS

#endif
