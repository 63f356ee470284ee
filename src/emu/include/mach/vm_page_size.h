/* Emulated Darwin <mach/vm_page_size.h>. */
#ifndef MACHPORT_EMU_MACH_VM_PAGE_SIZE_H
#define MACHPORT_EMU_MACH_VM_PAGE_SIZE_H

#include <sys/cdefs.h>
#include <mach/mach_types.h>

__BEGIN_DECLS
extern vm_size_t vm_page_size;
extern vm_size_t vm_page_mask;
extern int vm_page_shift;
extern vm_size_t vm_kernel_page_size;
extern vm_size_t vm_kernel_page_mask;
extern int vm_kernel_page_shift;
__END_DECLS

#define trunc_page(x) ((x) & (~(vm_page_size - 1)))
#define round_page(x) trunc_page((x) + (vm_page_size - 1))
#define mach_vm_trunc_page(x) ((mach_vm_offset_t)(x) & ~((signed)vm_page_mask))
#define mach_vm_round_page(x) (((mach_vm_offset_t)(x) + vm_page_mask) & ~((signed)vm_page_mask))

#endif
