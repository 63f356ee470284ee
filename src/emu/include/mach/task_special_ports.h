/* Emulated Darwin <mach/task_special_ports.h>: only reading the kernel, host, name and bootstrap
 * special ports (all reserved names). */
#ifndef MACHPORT_EMU_MACH_TASK_SPECIAL_PORTS_H
#define MACHPORT_EMU_MACH_TASK_SPECIAL_PORTS_H

#include <sys/cdefs.h>
#include <mach/mach_types.h>

typedef int task_special_port_t;

#define TASK_KERNEL_PORT 1
#define TASK_HOST_PORT 2
#define TASK_NAME_PORT 3
#define TASK_BOOTSTRAP_PORT 4
#define TASK_INSPECT_PORT 5
#define TASK_READ_PORT 6
#define TASK_ACCESS_PORT 9
#define TASK_DEBUG_CONTROL_PORT 10
#define TASK_RESOURCE_NOTIFY_PORT 11

__BEGIN_DECLS
/* KERNEL/NAME/INSPECT/READ → the task self name, HOST → mach_host_self(), BOOTSTRAP →
 * bootstrap_port; anything else → KERN_INVALID_ARGUMENT. */
kern_return_t task_get_special_port(task_inspect_t task, int which_port, mach_port_t *special_port);
__END_DECLS

#define task_get_kernel_port(task, port) (task_get_special_port((task), TASK_KERNEL_PORT, (port)))
#define task_get_host_port(task, port) (task_get_special_port((task), TASK_HOST_PORT, (port)))
#define task_get_bootstrap_port(task, port) (task_get_special_port((task), TASK_BOOTSTRAP_PORT, (port)))

#endif
