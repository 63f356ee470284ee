/* Emulated Darwin <mach/mach_vm.h>: only allocation. */
#ifndef MACHPORT_EMU_MACH_MACH_VM_H
#define MACHPORT_EMU_MACH_MACH_VM_H

#include <sys/cdefs.h>
#include <mach/mach_types.h>

__BEGIN_DECLS
kern_return_t mach_vm_allocate(vm_map_t target, mach_vm_address_t *address, mach_vm_size_t size,
                               int flags);
kern_return_t mach_vm_deallocate(vm_map_t target, mach_vm_address_t address, mach_vm_size_t size);
__END_DECLS

#endif
