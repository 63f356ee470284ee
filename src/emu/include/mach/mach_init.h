/* Emulated Darwin <mach/mach_init.h>. */
#ifndef MACHPORT_EMU_MACH_MACH_INIT_H
#define MACHPORT_EMU_MACH_MACH_INIT_H

#include <sys/cdefs.h>
#include <mach/mach_types.h>
#include <mach/vm_page_size.h>

__BEGIN_DECLS
/* The calling thread's task's name for itself. Every emulated space names its own task port
 * with the same reserved name, so, as in the SDK, it is a global read through a macro. */
extern mach_port_t mach_task_self_;
#define mach_task_self() mach_task_self_
/* (The SDK's current_task() macro is left out: it would clash with machport_emu::current_task.) */
extern boolean_t mach_task_is_self(task_name_t task);
/* Reserved send-right names (same in every space) for the host and the calling thread. They
 * only identify; no host or thread interface is emulated. Deallocating them is a no-op. */
extern mach_port_t mach_host_self(void);
extern mach_port_t mach_thread_self(void);

/* The reserved bootstrap name, the same in every emulated space. */
extern mach_port_t bootstrap_port;
__END_DECLS

#define NAME_SERVER_SLOT 0
#define ENVIRONMENT_SLOT 1
#define SERVICE_SLOT 2
#define MACH_PORTS_SLOTS_USED 3

#endif
