/* Emulated Darwin <mach/mach_init.h>. */
#ifndef MACHPORT_EMU_MACH_MACH_INIT_H
#define MACHPORT_EMU_MACH_MACH_INIT_H

#include <sys/cdefs.h>
#include <mach/mach_types.h>
#include <mach/vm_page_size.h>

__BEGIN_DECLS
/* The calling thread's current task's name for itself. The SDK spells this as a macro over the
 * global mach_task_self_; here each emulated task has its own, so it is a function. The value
 * is the same reserved name in every space. (The SDK's current_task() macro is left out: it
 * would clash with machport_emu::current_task.) */
extern mach_port_t mach_task_self(void);
extern boolean_t mach_task_is_self(task_name_t task);

/* The reserved bootstrap name, the same in every emulated space. */
extern mach_port_t bootstrap_port;
__END_DECLS

#define NAME_SERVER_SLOT 0
#define ENVIRONMENT_SLOT 1
#define SERVICE_SLOT 2
#define MACH_PORTS_SLOTS_USED 3

#endif
