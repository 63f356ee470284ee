/* Emulated Darwin <mach/task.h>: only task_info (TASK_SECURITY_TOKEN, TASK_AUDIT_TOKEN). */
#ifndef MACHPORT_EMU_MACH_TASK_H
#define MACHPORT_EMU_MACH_TASK_H

#include <sys/cdefs.h>
#include <mach/mach_types.h>
#include <mach/task_info.h>

__BEGIN_DECLS
/* Other flavors → KERN_INVALID_ARGUMENT; a too-small count → KERN_INVALID_ARGUMENT (as XNU). */
kern_return_t task_info(task_name_t target_task, task_flavor_t flavor, task_info_t task_info_out,
                        mach_msg_type_number_t *task_info_outCnt);
__END_DECLS

#endif
