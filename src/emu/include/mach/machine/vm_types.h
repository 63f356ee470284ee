/* Emulated Darwin <mach/machine/vm_types.h>: the machine-sized scalar types. */
#ifndef MACHPORT_EMU_MACH_MACHINE_VM_TYPES_H
#define MACHPORT_EMU_MACH_MACHINE_VM_TYPES_H

#include <stdint.h>

typedef unsigned int natural_t;
typedef int integer_t;

typedef uintptr_t vm_offset_t;
typedef uintptr_t vm_size_t;

typedef uint64_t mach_vm_address_t;
typedef uint64_t mach_vm_offset_t;
typedef uint64_t mach_vm_size_t;

/* A port's context / guard value (64 bits on every 64-bit Darwin target). */
typedef mach_vm_address_t mach_port_context_t;

typedef uint64_t vm_map_offset_t;
typedef uint64_t vm_map_address_t;
typedef uint64_t vm_map_size_t;

typedef uint32_t vm32_offset_t;
typedef uint32_t vm32_address_t;
typedef uint32_t vm32_size_t;

#endif
