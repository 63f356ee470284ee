/* kqueue / kevent for the emulated XNU kernel (machport_emu, Linux only).
 *
 * Our own declarations: names, types, layouts and values follow the macOS SDK so that code
 * written for <sys/event.h> on macOS compiles unchanged. Implemented: EVFILT_MACHPORT on Mach
 * receive rights and port sets, EVFILT_READ on another emulated kqueue (nesting), EVFILT_READ /
 * EVFILT_WRITE on ordinary descriptors (pipes, sockets...; readiness from poll()) and
 * EVFILT_USER; every other filter is rejected with ENOTSUP (see src/emu/kqueue.cpp for the
 * exact rules).
 *
 * The kqueue descriptor is a real Linux file descriptor: poll()/epoll report it readable
 * exactly while it has deliverable Mach, nested-kqueue or EVFILT_USER events, so another
 * reactor can watch it. Knotes on ordinary descriptors do NOT make it readable (they are
 * polled by kevent() itself): a reactor watching the kqueue descriptor must watch those
 * descriptors too. Close it with
 * close() (interposed by machport_emu), close_range(), dup2() or dup3(); nothing else releases
 * the emulated kqueue. glibc has no <sys/event.h>, so nothing here clashes with it. */
#ifndef MACHPORT_EMU_SYS_EVENT_H
#define MACHPORT_EMU_SYS_EVENT_H

#include <stdint.h>

/* Filters (negative numbers, as on macOS). */
#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_AIO (-3)
#define EVFILT_VNODE (-4)
#define EVFILT_PROC (-5)
#define EVFILT_SIGNAL (-6)
#define EVFILT_TIMER (-7)
#define EVFILT_MACHPORT (-8)
#define EVFILT_FS (-9)
#define EVFILT_USER (-10)
#define EVFILT_VM (-12)
#define EVFILT_EXCEPT (-15)
#define EVFILT_SYSCOUNT 17
#define EVFILT_THREADMARKER EVFILT_SYSCOUNT

/* 32 bytes on LP64: 8 + 2 + 2 + 4 + 8 + 8. */
struct kevent {
  uintptr_t ident;
  int16_t filter;
  uint16_t flags;
  uint32_t fflags;
  intptr_t data;
  void* udata;
};

/* 48 bytes: the 64-bit variant with two filter-specific extension words. */
struct kevent64_s {
  uint64_t ident;
  int16_t filter;
  uint16_t flags;
  uint32_t fflags;
  int64_t data;
  uint64_t udata;
  uint64_t ext[2];
};

#define EV_SET(kevp, a, b, c, d, e, f) \
  do {                                 \
    struct kevent* ev_set_p_ = (kevp); \
    ev_set_p_->ident = (a);            \
    ev_set_p_->filter = (b);           \
    ev_set_p_->flags = (c);            \
    ev_set_p_->fflags = (d);           \
    ev_set_p_->data = (e);             \
    ev_set_p_->udata = (f);            \
  } while (0)

#define EV_SET64(kevp, a, b, c, d, e, f, g, h) \
  do {                                         \
    struct kevent64_s* ev_set64_p_ = (kevp);   \
    ev_set64_p_->ident = (a);                  \
    ev_set64_p_->filter = (b);                 \
    ev_set64_p_->flags = (c);                  \
    ev_set64_p_->fflags = (d);                 \
    ev_set64_p_->data = (e);                   \
    ev_set64_p_->udata = (f);                  \
    ev_set64_p_->ext[0] = (g);                 \
    ev_set64_p_->ext[1] = (h);                 \
  } while (0)

/* kevent64() flags. */
#define KEVENT_FLAG_NONE 0x000000
#define KEVENT_FLAG_IMMEDIATE 0x000001    /* do not wait: timeout treated as zero */
#define KEVENT_FLAG_ERROR_EVENTS 0x000002 /* only apply changes; output only their errors */

/* Actions. */
#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008

/* Flags. */
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_RECEIPT 0x0040
#define EV_DISPATCH 0x0080
#define EV_UDATA_SPECIFIC 0x0100
#define EV_DISPATCH2 (EV_DISPATCH | EV_UDATA_SPECIFIC)
#define EV_VANISHED 0x0200
#define EV_SYSFLAGS 0xF000
#define EV_FLAG0 0x1000
#define EV_FLAG1 0x2000

/* Returned. */
#define EV_EOF 0x8000
#define EV_ERROR 0x4000

/* EVFILT_READ input flags. */
#define EV_POLL EV_FLAG0
#define EV_OOBAND EV_FLAG1

/* EVFILT_USER. */
#define NOTE_TRIGGER 0x01000000
#define NOTE_FFNOP 0x00000000
#define NOTE_FFAND 0x40000000
#define NOTE_FFOR 0x80000000
#define NOTE_FFCOPY 0xc0000000
#define NOTE_FFCTRLMASK 0xc0000000
#define NOTE_FFLAGSMASK 0x00ffffff

/* EVFILT_READ / EVFILT_WRITE. */
#define NOTE_LOWAT 0x00000001
#define NOTE_OOB 0x00000002

/* EVFILT_VNODE. */
#define NOTE_DELETE 0x00000001
#define NOTE_WRITE 0x00000002
#define NOTE_EXTEND 0x00000004
#define NOTE_ATTRIB 0x00000008
#define NOTE_LINK 0x00000010
#define NOTE_RENAME 0x00000020
#define NOTE_REVOKE 0x00000040
#define NOTE_NONE 0x00000080
#define NOTE_FUNLOCK 0x00000100
#define NOTE_LEASE_DOWNGRADE 0x00000200
#define NOTE_LEASE_RELEASE 0x00000400

/* EVFILT_PROC. */
#define NOTE_EXIT 0x80000000
#define NOTE_FORK 0x40000000
#define NOTE_EXEC 0x20000000
#define NOTE_REAP 0x10000000
#define NOTE_SIGNAL 0x08000000
#define NOTE_EXITSTATUS 0x04000000
#define NOTE_EXIT_DETAIL 0x02000000
#define NOTE_PDATAMASK 0x000fffff
#define NOTE_PCTRLMASK (~NOTE_PDATAMASK)
#define NOTE_EXIT_REPARENTED 0x00080000
#define NOTE_EXIT_DETAIL_MASK 0x00070000
#define NOTE_EXIT_DECRYPTFAIL 0x00010000
#define NOTE_EXIT_MEMORY 0x00020000
#define NOTE_EXIT_CSERROR 0x00040000
#define NOTE_TRACK 0x00000001
#define NOTE_TRACKERR 0x00000002
#define NOTE_CHILD 0x00000004

/* EVFILT_VM. */
#define NOTE_VM_PRESSURE 0x80000000
#define NOTE_VM_PRESSURE_TERMINATE 0x40000000
#define NOTE_VM_PRESSURE_SUDDEN_TERMINATE 0x20000000
#define NOTE_VM_ERROR 0x10000000

/* EVFILT_TIMER. */
#define NOTE_SECONDS 0x00000001
#define NOTE_USECONDS 0x00000002
#define NOTE_NSECONDS 0x00000004
#define NOTE_ABSOLUTE 0x00000008
#define NOTE_LEEWAY 0x00000010
#define NOTE_CRITICAL 0x00000020
#define NOTE_BACKGROUND 0x00000040
#define NOTE_MACH_CONTINUOUS_TIME 0x00000080
#define NOTE_MACHTIME 0x00000100

/* EVFILT_MACHPORT takes MACH_RCV_* options from <mach/message.h> in fflags. */

struct timespec;

#ifdef __cplusplus
extern "C" {
#endif

int kqueue(void);
int kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist,
           int nevents, const struct timespec* timeout);
int kevent64(int kq, const struct kevent64_s* changelist, int nchanges,
             struct kevent64_s* eventlist, int nevents, unsigned int flags,
             const struct timespec* timeout);

#ifdef __cplusplus
}
#endif

#endif /* MACHPORT_EMU_SYS_EVENT_H */
