/* Emulated Darwin <mach/mach_time.h>: nanosecond monotonic time, timebase 1/1. */
#ifndef MACHPORT_EMU_MACH_MACH_TIME_H
#define MACHPORT_EMU_MACH_MACH_TIME_H

#include <stdint.h>
#include <sys/cdefs.h>
#include <mach/kern_return.h>

struct mach_timebase_info {
  uint32_t numer;
  uint32_t denom;
};
typedef struct mach_timebase_info *mach_timebase_info_t;
typedef struct mach_timebase_info mach_timebase_info_data_t;

__BEGIN_DECLS
kern_return_t mach_timebase_info(mach_timebase_info_t info);
uint64_t mach_absolute_time(void);
uint64_t mach_approximate_time(void);
uint64_t mach_continuous_time(void);
uint64_t mach_continuous_approximate_time(void);
__END_DECLS

#endif
