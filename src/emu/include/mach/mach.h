/* Emulated Darwin <mach/mach.h>: what the SDK umbrella gives a program (types, messages, ports,
 * mach_port_* (whose MIG header pulls in <mach/notify.h>), mach_init, vm allocation,
 * mach_error). Like the SDK it does not include <mach/mach_vm.h>. */
#ifndef MACHPORT_EMU_MACH_MACH_H
#define MACHPORT_EMU_MACH_MACH_H

#define __MACH30__
#define MACH_IPC_FLAVOR UNTYPED

#include <sys/cdefs.h>
#include <mach/std_types.h>
#include <mach/mach_types.h>
#include <mach/message.h>
#include <mach/ndr.h>
#include <mach/mach_port.h>
#include <mach/task.h>
#include <mach/task_special_ports.h>
#include <mach/mach_traps.h>
#include <mach/mach_interface.h>
#include <mach/mig.h>
#include <mach/mach_init.h>
#include <mach/vm_map.h>
#include <mach/mach_error.h>
#include <mach/mig_errors.h>

__BEGIN_DECLS
extern void mach_msg_destroy(mach_msg_header_t *);
extern mach_msg_return_t mach_msg_receive(mach_msg_header_t *);
extern mach_msg_return_t mach_msg_send(mach_msg_header_t *);
extern mach_msg_return_t mach_msg_server_once(boolean_t (*)(mach_msg_header_t *, mach_msg_header_t *),
                                              mach_msg_size_t, mach_port_t, mach_msg_options_t);
extern mach_msg_return_t mach_msg_server(boolean_t (*)(mach_msg_header_t *, mach_msg_header_t *),
                                         mach_msg_size_t, mach_port_t, mach_msg_options_t);
__END_DECLS

#endif
