/* Emulated Darwin <mach/vm_types.h>. */
#ifndef MACHPORT_EMU_MACH_VM_TYPES_H
#define MACHPORT_EMU_MACH_VM_TYPES_H

#include <stdint.h>
#include <mach/port.h>
#include <mach/machine/vm_types.h>

typedef vm_offset_t pointer_t;
typedef vm_offset_t vm_address_t;
typedef uint64_t addr64_t;
typedef uint32_t reg64_t;
typedef uint32_t ppnum_t;

typedef mach_port_t vm_map_t, vm_map_read_t, vm_map_inspect_t;

#define VM_MAP_NULL ((vm_map_t)0)

#endif
