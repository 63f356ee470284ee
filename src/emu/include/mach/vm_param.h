/* Emulated Darwin <mach/vm_param.h>: page constants. PAGE_SIZE follows the running system (as
 * on arm64 Darwin, where it is vm_page_size). Guarded: glibc's <sys/user.h> has its own. */
#ifndef MACHPORT_EMU_MACH_VM_PARAM_H
#define MACHPORT_EMU_MACH_VM_PARAM_H

#include <mach/vm_page_size.h>

#ifndef PAGE_SIZE
#define PAGE_SIZE vm_page_size
#endif
#ifndef PAGE_MASK
#define PAGE_MASK vm_page_mask
#endif
#ifndef PAGE_SHIFT
#define PAGE_SHIFT vm_page_shift
#endif
#define PAGE_MIN_SIZE 4096
#define PAGE_MIN_SHIFT 12
#define PAGE_MIN_MASK (PAGE_MIN_SIZE - 1)
#define PAGE_MAX_SIZE 16384
#define PAGE_MAX_SHIFT 14
#define PAGE_MAX_MASK (PAGE_MAX_SIZE - 1)

#endif
