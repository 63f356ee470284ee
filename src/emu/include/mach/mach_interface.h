/* Emulated Darwin <mach/mach_interface.h>: the emulated subset of the MIG interfaces. */
#ifndef MACHPORT_EMU_MACH_MACH_INTERFACE_H
#define MACHPORT_EMU_MACH_MACH_INTERFACE_H
#include <mach/task.h>
#include <mach/vm_map.h>
#include <mach/mach_port.h>
#endif
