/* Emulated Darwin <mach/boolean.h> (own declarations, SDK names and values). */
#ifndef MACHPORT_EMU_MACH_BOOLEAN_H
#define MACHPORT_EMU_MACH_BOOLEAN_H

/* x86_64 user space uses unsigned int, arm64 int; both are 4 bytes. */
#if defined(__x86_64__)
typedef unsigned int boolean_t;
#else
typedef int boolean_t;
#endif

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

#endif
