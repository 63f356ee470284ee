/*
 * machport: stand-in for the macOS SDK's <bsm/libbsm.h>, used ONLY by the zig cross build
 * (zig's SDK subset lacks it). Just the audit-token accessors, with the SDK's signatures.
 * They live in /usr/lib/libbsm.0.dylib (link with -lbsm); ../libbsm.tbd is our link stub for
 * it. A real Mac uses the SDK header and library, never these files.
 */
#ifndef MACHPORT_MACOS_SDK_SHIM_BSM_LIBBSM_H
#define MACHPORT_MACOS_SDK_SHIM_BSM_LIBBSM_H

#include <bsm/audit.h>
#include <mach/message.h>
#include <sys/cdefs.h>
#include <sys/types.h>

__BEGIN_DECLS

uid_t audit_token_to_auid(audit_token_t atoken);
uid_t audit_token_to_euid(audit_token_t atoken);
gid_t audit_token_to_egid(audit_token_t atoken);
uid_t audit_token_to_ruid(audit_token_t atoken);
gid_t audit_token_to_rgid(audit_token_t atoken);
pid_t audit_token_to_pid(audit_token_t atoken);
au_asid_t audit_token_to_asid(audit_token_t atoken);
int audit_token_to_pidversion(audit_token_t atoken);
void audit_token_to_au32(audit_token_t atoken, uid_t *auidp, uid_t *euidp, gid_t *egidp,
                         uid_t *ruidp, gid_t *rgidp, pid_t *pidp, au_asid_t *asidp,
                         au_tid_t *tidp);

__END_DECLS

#endif
