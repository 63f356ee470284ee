/* Emulated Darwin <mach/vm_map.h>: only allocation. Memory comes from mmap; every emulated task
 * shares the one process address space. */
#ifndef MACHPORT_EMU_MACH_VM_MAP_H
#define MACHPORT_EMU_MACH_VM_MAP_H

#include <sys/cdefs.h>
#include <mach/mach_types.h>

__BEGIN_DECLS
kern_return_t vm_allocate(vm_map_t target_task, vm_address_t *address, vm_size_t size, int flags);
kern_return_t vm_deallocate(vm_map_t target_task, vm_address_t address, vm_size_t size);
__END_DECLS

#endif
