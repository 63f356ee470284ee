/* Emulated Darwin <mach/std_types.h>. */
#ifndef MACHPORT_EMU_MACH_STD_TYPES_H
#define MACHPORT_EMU_MACH_STD_TYPES_H

#include <stdint.h>
#include <mach/boolean.h>
#include <mach/kern_return.h>
#include <mach/port.h>
#include <mach/vm_types.h>

#endif
