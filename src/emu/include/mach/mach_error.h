/* Emulated Darwin <mach/mach_error.h>. */
#ifndef MACHPORT_EMU_MACH_MACH_ERROR_H
#define MACHPORT_EMU_MACH_MACH_ERROR_H

#include <sys/cdefs.h>
#include <mach/error.h>

__BEGIN_DECLS
/* XNU's text for an error ("(ipc/send) invalid destination port", ...). Static storage. */
char *mach_error_string(mach_error_t error_value);
/* Prints "str <string> (0x<hex>)" to stderr. */
void mach_error(const char *str, mach_error_t error_value);
/* The "(system/subsystem)" part only. */
char *mach_error_type(mach_error_t error_value);
__END_DECLS

#endif
