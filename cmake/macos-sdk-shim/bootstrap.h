/*
 * machport: stand-in for the macOS SDK's <bootstrap.h> (included by <servers/bootstrap.h>),
 * used ONLY by the zig cross build: zig's SDK subset does not ship it, though the functions
 * are in its libSystem stubs. Our own declarations of the subset machport needs, with the
 * SDK's signatures and values. A real Mac uses the SDK header, never this file.
 */
#ifndef MACHPORT_MACOS_SDK_SHIM_BOOTSTRAP_H
#define MACHPORT_MACOS_SDK_SHIM_BOOTSTRAP_H

#include <mach/mach.h>
#include <sys/cdefs.h>
#include <sys/types.h>

__BEGIN_DECLS

#define BOOTSTRAP_MAX_NAME_LEN 128
#define BOOTSTRAP_MAX_CMD_LEN 512
#define BOOTSTRAP_MAX_LOOKUP_COUNT 20

#define BOOTSTRAP_SUCCESS 0
#define BOOTSTRAP_NOT_PRIVILEGED 1100
#define BOOTSTRAP_NAME_IN_USE 1101
#define BOOTSTRAP_UNKNOWN_SERVICE 1102
#define BOOTSTRAP_SERVICE_ACTIVE 1103
#define BOOTSTRAP_BAD_COUNT 1104
#define BOOTSTRAP_NO_MEMORY 1105
#define BOOTSTRAP_NO_CHILDREN 1106

#define BOOTSTRAP_STATUS_INACTIVE 0
#define BOOTSTRAP_STATUS_ACTIVE 1
#define BOOTSTRAP_STATUS_ON_DEMAND 2

typedef char name_t[BOOTSTRAP_MAX_NAME_LEN];
typedef char cmd_t[BOOTSTRAP_MAX_CMD_LEN];
typedef name_t *name_array_t;
typedef int bootstrap_status_t;
typedef bootstrap_status_t *bootstrap_status_array_t;

/* bootstrap_port itself is declared by <mach/mach_init.h>. */

kern_return_t bootstrap_check_in(mach_port_t bp, const name_t service_name, mach_port_t *sp);
kern_return_t bootstrap_look_up(mach_port_t bp, const name_t service_name, mach_port_t *sp);
kern_return_t bootstrap_register(mach_port_t bp, name_t service_name, mach_port_t sp);
kern_return_t bootstrap_create_service(mach_port_t bp, name_t service_name, mach_port_t *sp);
kern_return_t bootstrap_status(mach_port_t bp, name_t service_name,
                               bootstrap_status_t *service_active);
kern_return_t bootstrap_parent(mach_port_t bp, mach_port_t *parent_port);
kern_return_t bootstrap_subset(mach_port_t bp, mach_port_t requestor_port, mach_port_t *subset_port);
const char *bootstrap_strerror(kern_return_t r);

__END_DECLS

#endif
