/* Emulated Darwin <mach/mach_types.h>: the port-typed handles MIG interfaces use. In user space
 * every one of them is a mach_port_t name. */
#ifndef MACHPORT_EMU_MACH_MACH_TYPES_H
#define MACHPORT_EMU_MACH_MACH_TYPES_H

#include <stdint.h>
#include <sys/cdefs.h>
#include <mach/std_types.h>
#include <mach/message.h>
#include <mach/port.h>
#include <mach/vm_prot.h>
#include <mach/vm_statistics.h>
#include <mach/vm_types.h>
#include <mach/vm_param.h>

typedef mach_port_t task_t;
typedef mach_port_t task_name_t;
typedef mach_port_t task_policy_set_t;
typedef mach_port_t task_policy_get_t;
typedef mach_port_t task_inspect_t;
typedef mach_port_t task_read_t;
typedef mach_port_t task_suspension_token_t;
typedef mach_port_t thread_t;
typedef mach_port_t thread_act_t;
typedef mach_port_t thread_inspect_t;
typedef mach_port_t thread_read_t;
typedef mach_port_t ipc_space_t;
typedef mach_port_t ipc_space_read_t;
typedef mach_port_t ipc_space_inspect_t;
typedef mach_port_t host_t;
typedef mach_port_t host_priv_t;
typedef mach_port_t host_security_t;
typedef mach_port_t processor_t;
typedef mach_port_t processor_set_t;
typedef mach_port_t processor_set_control_t;
typedef mach_port_t semaphore_t;
typedef mach_port_t lock_set_t;
typedef mach_port_t ledger_t;
typedef mach_port_t alarm_t;
typedef mach_port_t clock_serv_t;
typedef mach_port_t clock_ctrl_t;
typedef mach_port_t mach_voucher_t;
typedef mach_port_t mach_voucher_name_t;
typedef mach_port_t io_master_t;
typedef mach_port_t UNDServerRef;

typedef task_t *task_array_t;
typedef thread_t *thread_array_t;
typedef thread_act_t *thread_act_array_t;
typedef ledger_t *ledger_array_t;

typedef task_t task_port_t;
typedef thread_t thread_port_t;
typedef ipc_space_t ipc_space_port_t;
typedef host_t host_name_t;
typedef host_t host_name_port_t;

typedef natural_t ledger_item_t;

#define TASK_NULL ((task_t)0)
#define TASK_NAME_NULL ((task_name_t)0)
#define THREAD_NULL ((thread_t)0)
#define IPC_SPACE_NULL ((ipc_space_t)0)
#define HOST_NULL ((host_t)0)
#define MACH_VOUCHER_NULL ((mach_voucher_t)0)

#endif
