/* Emulated Darwin <mach/task_info.h>: only the token flavors (what receivers see in trailers). */
#ifndef MACHPORT_EMU_MACH_TASK_INFO_H
#define MACHPORT_EMU_MACH_TASK_INFO_H

#include <mach/machine/vm_types.h>
#include <mach/message.h>

typedef natural_t task_flavor_t;
typedef integer_t *task_info_t;

#define TASK_INFO_MAX (1024)
typedef integer_t task_info_data_t[TASK_INFO_MAX];

#define TASK_SECURITY_TOKEN 13
#define TASK_SECURITY_TOKEN_COUNT ((mach_msg_type_number_t)(sizeof(security_token_t) / sizeof(natural_t)))
#define TASK_AUDIT_TOKEN 15
#define TASK_AUDIT_TOKEN_COUNT (sizeof(audit_token_t) / sizeof(natural_t))

#endif
