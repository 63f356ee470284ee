/* Emulated Darwin <bsm/libbsm.h>: only the audit-token accessors. */
#ifndef MACHPORT_EMU_BSM_LIBBSM_H
#define MACHPORT_EMU_BSM_LIBBSM_H

#include <sys/cdefs.h>
#include <sys/types.h>
#include <mach/message.h>

typedef uid_t au_id_t;
typedef pid_t au_asid_t;

__BEGIN_DECLS
au_id_t audit_token_to_auid(audit_token_t atoken);
uid_t audit_token_to_euid(audit_token_t atoken);
gid_t audit_token_to_egid(audit_token_t atoken);
uid_t audit_token_to_ruid(audit_token_t atoken);
gid_t audit_token_to_rgid(audit_token_t atoken);
pid_t audit_token_to_pid(audit_token_t atoken);
au_asid_t audit_token_to_asid(audit_token_t atoken);
int audit_token_to_pidversion(audit_token_t atoken);
__END_DECLS

#endif
