// libsystem pieces around the kernel: bootstrap namespace, mach_error strings, mach_msg
// convenience wrappers, libbsm accessors, NDR_record and the kernel tokens.
#include <bootstrap.h>
#include <bsm/libbsm.h>
#include <machport_emu/task.hpp>
#include <mach/mach.h>
#include <mach/mach_time.h>
#include <time.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "internal.hpp"

using namespace machport_emu::detail;

extern "C" {
NDR_record_t NDR_record = {0, 0, 0, 0, NDR_INT_LITTLE_ENDIAN, NDR_CHAR_ASCII, NDR_FLOAT_IEEE, 0};
const security_token_t KERNEL_SECURITY_TOKEN = KERNEL_SECURITY_TOKEN_VALUE;
const audit_token_t KERNEL_AUDIT_TOKEN = KERNEL_AUDIT_TOKEN_VALUE;
}

// ---- bootstrap ------------------------------------------------------------------------------

namespace {

// The service, or null; a service whose port died is forgotten here (launchd notices the
// dead port the same way).
kernel_state::service* find_service_locked(const std::string& name) {
  auto& svcs = kernel().services;
  auto it = svcs.find(name);
  if (it == svcs.end()) return nullptr;
  if (!it->second.p->active) {
    release_send_locked(it->second.p.get());
    svcs.erase(it);
    return nullptr;
  }
  return &it->second;
}

bool name_ok(const char* n) { return n && ::strnlen(n, BOOTSTRAP_MAX_NAME_LEN) < BOOTSTRAP_MAX_NAME_LEN; }

}  // namespace

extern "C" {

kern_return_t bootstrap_check_in(mach_port_t bp, const name_t service_name, mach_port_t* sp) {
  const kernel_entry k(kcall::bootstrap_check_in);
  space* const s = k.caller();
  if (bp != bootstrap_name || !s || !s->active) return MACH_SEND_INVALID_DEST;
  if (!name_ok(service_name) || !sp) return BOOTSTRAP_BAD_COUNT;
  const std::string key(service_name);
  if (auto* svc = find_service_locked(key)) {
    // A name registered with bootstrap_register belongs to its registrant; an active check-in
    // cannot be taken over.
    return svc->checked_in ? BOOTSTRAP_SERVICE_ACTIVE : BOOTSTRAP_NOT_PRIVILEGED;
  }
  port_ref p = new_port_locked();
  kern_return_t err = KERN_SUCCESS;
  kernel_state::service svc;
  svc.p = p;
  svc.checked_in = true;
  kright send = make_send_locked(p);  // the namespace's own send right
  send.p.reset();                     // held as svc.p; counted in srights
  mach_port_name_t name =
      copyout_right_locked(s, kright{p, MACH_MSG_TYPE_PORT_RECEIVE, false}, &err);
  if (err != KERN_SUCCESS) {
    release_send_locked(p.get());
    return BOOTSTRAP_NO_MEMORY;
  }
  // make_send bumped mscount; launchd's right comes from MAKE_SEND too, so keep it.
  kernel().services.emplace(key, std::move(svc));
  *sp = name;
  return BOOTSTRAP_SUCCESS;
}

kern_return_t bootstrap_register(mach_port_t bp, name_t service_name, mach_port_t sp) {
  const kernel_entry k(kcall::bootstrap_register);
  space* const s = k.caller();
  if (bp != bootstrap_name || !s || !s->active) return MACH_SEND_INVALID_DEST;
  if (!name_ok(service_name)) return BOOTSTRAP_BAD_COUNT;
  const std::string key(service_name);
  if (auto* svc = find_service_locked(key)) {
    if (svc->checked_in) return BOOTSTRAP_SERVICE_ACTIVE;
    if (sp == MACH_PORT_NULL) {  // unregister
      release_send_locked(svc->p.get());
      kernel().services.erase(key);
      return BOOTSTRAP_SUCCESS;
    }
    return BOOTSTRAP_NAME_IN_USE;
  }
  if (!MACH_PORT_VALID(sp)) return BOOTSTRAP_NOT_PRIVILEGED;
  kright r;
  kern_return_t kr = copyin_right_locked(s, sp, MACH_MSG_TYPE_COPY_SEND, r, copyin_reason::api);
  if (kr != KERN_SUCCESS)
    kr = copyin_right_locked(s, sp, MACH_MSG_TYPE_MAKE_SEND, r, copyin_reason::api);
  if (kr != KERN_SUCCESS) return MACH_SEND_INVALID_RIGHT;  // what the MIG send would report
  kernel_state::service svc;
  svc.p = r.p;
  svc.checked_in = false;
  r.p.reset();  // the send right is now held by the namespace
  kernel().services.emplace(key, std::move(svc));
  return BOOTSTRAP_SUCCESS;
}

kern_return_t bootstrap_look_up(mach_port_t bp, const name_t service_name, mach_port_t* sp) {
  const kernel_entry k(kcall::bootstrap_look_up);
  space* const s = k.caller();
  if (bp != bootstrap_name || !s || !s->active) return MACH_SEND_INVALID_DEST;
  if (!name_ok(service_name) || !sp) return BOOTSTRAP_BAD_COUNT;
  auto* svc = find_service_locked(service_name);
  if (!svc) return BOOTSTRAP_UNKNOWN_SERVICE;
  ++svc->p->srights;  // COPY_SEND of the namespace's right
  kern_return_t err = KERN_SUCCESS;
  mach_port_name_t name =
      copyout_right_locked(s, kright{svc->p, MACH_MSG_TYPE_PORT_SEND, false}, &err);
  if (err != KERN_SUCCESS) return BOOTSTRAP_NO_MEMORY;
  *sp = name;
  return BOOTSTRAP_SUCCESS;
}

const char* bootstrap_strerror(kern_return_t r) {
  switch (r) {
    case BOOTSTRAP_SUCCESS: return "Success";
    case BOOTSTRAP_NOT_PRIVILEGED: return "Permission denied";
    case BOOTSTRAP_NAME_IN_USE:
    case BOOTSTRAP_SERVICE_ACTIVE: return "Service name already exists";
    case BOOTSTRAP_UNKNOWN_SERVICE: return "Unknown service name";
    case BOOTSTRAP_BAD_COUNT: return "Too many lookups were requested in one request";
    case BOOTSTRAP_NO_MEMORY: return "Out of memory";
    default: return mach_error_string(r);
  }
}

// ---- mach_error -----------------------------------------------------------------------------

static const char* const kern_codes[] = {
    "(os/kern) successful", "(os/kern) invalid address", "(os/kern) protection failure",
    "(os/kern) no space available", "(os/kern) invalid argument", "(os/kern) failure",
    "(os/kern) resource shortage", "(os/kern) not receiver", "(os/kern) no access",
    "(os/kern) memory failure", "(os/kern) memory error", "(os/kern) already in set",
    "(os/kern) not in set", "(os/kern) name exists", "(os/kern) aborted",
    "(os/kern) invalid name", "(os/kern) invalid task", "(os/kern) invalid right",
    "(os/kern) invalid value", "(os/kern) urefs overflow", "(os/kern) invalid capability",
    "(os/kern) right exists", "(os/kern) invalid host", "(os/kern) memory present",
    "(os/kern) memory data moved", "(os/kern) memory restart copy",
    "(os/kern) invalid processor set", "(os/kern) policy limit", "(os/kern) invalid policy",
    "(os/kern) invalid object", "(os/kern) already waiting", "(os/kern) default set",
    "(os/kern) exception protected", "(os/kern) invalid ledger",
    "(os/kern) invalid memory control", "(os/kern) invalid security",
    "(os/kern) not depressed", "(os/kern) object terminated", "(os/kern) lock set destroyed",
    "(os/kern) lock unstable", "(os/kern) lock owned by another",
    "(os/kern) lock owned by self", "(os/kern) semaphore destroyed",
    "(os/kern) RPC terminated", "(os/kern) terminate orphan", "(os/kern) let orphan continue",
    "(os/kern) service not supported", "(os/kern) remote node down",
    "(os/kern) thread not waiting", "(os/kern) operation timed out",
    "(os/kern) code signing error", "(os/kern) policy is static",
    "(os/kern) insufficient input buffer size", "(os/kern) denied by security policy",
    "(os/kern) missing kernel collection", "(os/kern) invalid kernel collection",
    "(os/kern) result not found"};

static const char* const send_codes[] = {
    "(ipc/send) no error", "(ipc/send) send in progress", "(ipc/send) invalid data",
    "(ipc/send) invalid destination port", "(ipc/send) timed out",
    "(ipc/send) invalid voucher", "(ipc/send) unused error", "(ipc/send) interrupted",
    "(ipc/send) msg too small", "(ipc/send) invalid reply port",
    "(ipc/send) invalid port right", "(ipc/send) invalid notify port",
    "(ipc/send) invalid memory", "(ipc/send) no msg buffer", "(ipc/send) msg too large",
    "(ipc/send) invalid msg-type", "(ipc/send) invalid msg-header",
    "(ipc/send) invalid msg-trailer", "(ipc/send) invalid context for reply",
    "(ipc/send) unused error", "(ipc/send) unused error",
    "(ipc/send) out-of-line buffer too large",
    "(ipc/send) destination does not accept OOL ports"};

static const char* const rcv_codes[] = {
    "(ipc/rcv) no error", "(ipc/rcv) receive in progress", "(ipc/rcv) invalid name",
    "(ipc/rcv) timed out", "(ipc/rcv) msg too large", "(ipc/rcv) interrupted",
    "(ipc/rcv) port changed", "(ipc/rcv) invalid notify port", "(ipc/rcv) invalid data",
    "(ipc/rcv) port died", "(ipc/rcv) port in set", "(ipc/rcv) header error",
    "(ipc/rcv) body error", "(ipc/rcv) invalid scatter list entry",
    "(ipc/rcv) overwrite region too small", "(ipc/rcv) invalid msg-trailer",
    "(ipc/rcv) DIPC transport error"};

static const char* const mig_codes[] = {
    "(ipc/mig) client type check failure", "(ipc/mig) wrong reply message ID",
    "(ipc/mig) server detected error", "(ipc/mig) bad request message ID",
    "(ipc/mig) server type check failure", "(ipc/mig) no reply should be sent",
    "(ipc/mig) server raised exception", "(ipc/mig) array not large enough",
    "(ipc/mig) server died", "(ipc/mig) unknown trailer format"};

}  // extern "C"
template <std::size_t N>
static char* pick(const char* const (&table)[N], unsigned code) {
  return const_cast<char*>(code < N ? table[code] : "unknown error code");
}
extern "C" {

char* mach_error_string(mach_error_t err) {
  if (err <= MIG_TYPE_ERROR && err >= MIG_TRAILER_ERROR) return pick(mig_codes, unsigned(MIG_TYPE_ERROR - err));
  const unsigned sys = err_get_system(unsigned(err));
  const unsigned sub = err_get_sub(unsigned(err));
  const unsigned code = err_get_code(unsigned(err));
  if (sys == 0) {
    if (sub == 0) return pick(kern_codes, code);
    return const_cast<char*>("(os/?) unknown subsystem");
  }
  if (sys == 4) {
    if (sub == 0) return pick(send_codes, code);
    if (sub == 1) return pick(rcv_codes, code);
    if (sub == 2) return pick(mig_codes, code);
    return const_cast<char*>("(ipc/?) unknown subsystem");
  }
  return const_cast<char*>("(?/?) unknown error system");
}

char* mach_error_type(mach_error_t err) {
  if (err <= MIG_TYPE_ERROR && err >= MIG_TRAILER_ERROR) return const_cast<char*>("(ipc/mig)");
  const unsigned sys = err_get_system(unsigned(err));
  const unsigned sub = err_get_sub(unsigned(err));
  if (sys == 0) return const_cast<char*>(sub == 0 ? "(os/kern)" : "(os/?)");
  if (sys == 4) {
    if (sub == 0) return const_cast<char*>("(ipc/send)");
    if (sub == 1) return const_cast<char*>("(ipc/rcv)");
    if (sub == 2) return const_cast<char*>("(ipc/mig)");
    return const_cast<char*>("(ipc/?)");
  }
  return const_cast<char*>("(?/?)");
}

void mach_error(const char* str, mach_error_t err) {
  std::fprintf(stderr, "%s %s (0x%x)\n", str ? str : "", mach_error_string(err), unsigned(err));
}

// ---- libsyscall wrappers ------------------------------------------------------------------

mach_msg_return_t mach_msg_send(mach_msg_header_t* msg) {
  return mach_msg(msg, MACH_SEND_MSG, msg->msgh_size, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                  MACH_PORT_NULL);
}

mach_msg_return_t mach_msg_receive(mach_msg_header_t* msg) {
  return mach_msg(msg, MACH_RCV_MSG, 0, msg->msgh_size, msg->msgh_local_port,
                  MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
}

kern_return_t mach_voucher_deallocate(mach_port_name_t voucher) {
  return mach_port_deallocate(mach_task_self(), voucher);
}

// One receive + demux + reply, as libsyscall's mach_msg_server_once (libsyscall/mach/mach_msg.c).
mach_msg_return_t mach_msg_server_once(boolean_t (*demux)(mach_msg_header_t*, mach_msg_header_t*),
                                       mach_msg_size_t max_size, mach_port_t rcv_name,
                                       mach_msg_options_t options) {
  options &= ~(MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_VOUCHER);
  const mach_msg_size_t trailer_alloc = REQUESTED_TRAILER_SIZE(options);
  mach_msg_size_t request_alloc = mach_msg_size_t(round_page(max_size + trailer_alloc));
  // Without MACH_RCV_LARGE the receive limit is exactly max_size + trailer: a bigger request is
  // MACH_RCV_TOO_LARGE (and destroyed by the kernel).
  mach_msg_size_t request_size =
      (options & MACH_RCV_LARGE) ? request_alloc : max_size + trailer_alloc;
  const mach_msg_size_t reply_alloc = mach_msg_size_t(
      round_page((options & MACH_SEND_TRAILER) ? (max_size + MAX_TRAILER_SIZE) : max_size));

  vm_address_t rep_addr = 0, req_addr = 0;
  kern_return_t kr = vm_allocate(mach_task_self(), &rep_addr, reply_alloc, VM_FLAGS_ANYWHERE);
  if (kr != KERN_SUCCESS) return kr;
  mach_msg_return_t mr;
  for (;;) {
    kr = vm_allocate(mach_task_self(), &req_addr, request_alloc, VM_FLAGS_ANYWHERE);
    if (kr != KERN_SUCCESS) {
      vm_deallocate(mach_task_self(), rep_addr, reply_alloc);
      return kr;
    }
    mr = mach_msg(reinterpret_cast<mach_msg_header_t*>(req_addr), MACH_RCV_MSG | options, 0,
                  request_size, rcv_name, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (!(mr == MACH_RCV_TOO_LARGE && (options & MACH_RCV_LARGE))) break;
    // The message stayed queued and msgh_size says how big it is: grow and receive again.
    const mach_msg_size_t grown = mach_msg_size_t(
        round_page(reinterpret_cast<mach_msg_header_t*>(req_addr)->msgh_size + trailer_alloc));
    vm_deallocate(mach_task_self(), req_addr, request_alloc);
    request_size = request_alloc = grown;
  }
  auto* req = reinterpret_cast<mig_reply_error_t*>(req_addr);
  auto* rep = reinterpret_cast<mig_reply_error_t*>(rep_addr);
  if (mr == MACH_MSG_SUCCESS) {
    (void)(*demux)(&req->Head, &rep->Head);
    // A complex reply carries a descriptor count where RetCode would be: treat it as success.
    const kern_return_t ret =
        (rep->Head.msgh_bits & MACH_MSGH_BITS_COMPLEX) ? KERN_SUCCESS : rep->RetCode;
    if (ret == MIG_NO_REPLY) {
      rep->Head.msgh_remote_port = MACH_PORT_NULL;
    } else if (ret != KERN_SUCCESS) {
      // Destroy the request, but not its reply port (MIG moved it into the reply).
      req->Head.msgh_remote_port = MACH_PORT_NULL;
      mach_msg_destroy(&req->Head);
    }
    if (rep->Head.msgh_remote_port != MACH_PORT_NULL) {
      // A send right could block forever on a client that does not receive: time out.
      const mach_msg_option_t send_opts =
          (MACH_MSGH_BITS_REMOTE(rep->Head.msgh_bits) == MACH_MSG_TYPE_MOVE_SEND_ONCE)
              ? (MACH_SEND_MSG | options)
              : (MACH_SEND_MSG | MACH_SEND_TIMEOUT | options);
      mr = mach_msg(&rep->Head, send_opts, rep->Head.msgh_size, 0, MACH_PORT_NULL,
                    MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
      if (mr == MACH_SEND_INVALID_DEST || mr == MACH_SEND_TIMED_OUT ||
          mr == MACH_SEND_INTERRUPTED) {
        // mach_msg_destroy does not handle the local port.
        const mach_port_name_t local = rep->Head.msgh_local_port;
        if (MACH_PORT_VALID(local)) {
          const mach_msg_type_name_t lt = MACH_MSGH_BITS_LOCAL(rep->Head.msgh_bits);
          if (lt == MACH_MSG_TYPE_MOVE_SEND || lt == MACH_MSG_TYPE_MOVE_SEND_ONCE) {
            (void)mach_port_deallocate(mach_task_self(), local);
            rep->Head.msgh_local_port = MACH_PORT_NULL;
          }
        }
        mach_msg_destroy(&rep->Head);
        mr = MACH_MSG_SUCCESS;
      }
    }
  }
  (void)vm_deallocate(mach_task_self(), req_addr, request_alloc);
  (void)vm_deallocate(mach_task_self(), rep_addr, reply_alloc);
  return mr;
}

mach_msg_return_t mach_msg_server(boolean_t (*demux)(mach_msg_header_t*, mach_msg_header_t*),
                                  mach_msg_size_t max_size, mach_port_t rcv_name,
                                  mach_msg_options_t options) {
  for (;;) {
    mach_msg_return_t mr = mach_msg_server_once(demux, max_size, rcv_name, options);
    if (mr != MACH_MSG_SUCCESS) return mr;
  }
}

// ---- libbsm ---------------------------------------------------------------------------------

au_id_t audit_token_to_auid(audit_token_t t) { return t.val[0]; }
uid_t audit_token_to_euid(audit_token_t t) { return t.val[1]; }
gid_t audit_token_to_egid(audit_token_t t) { return t.val[2]; }
uid_t audit_token_to_ruid(audit_token_t t) { return t.val[3]; }
gid_t audit_token_to_rgid(audit_token_t t) { return t.val[4]; }
pid_t audit_token_to_pid(audit_token_t t) { return pid_t(t.val[5]); }
au_asid_t audit_token_to_asid(audit_token_t t) { return au_asid_t(t.val[6]); }
int audit_token_to_pidversion(audit_token_t t) { return int(t.val[7]); }

}  // extern "C"

// ---- MIG reply port -------------------------------------------------------------------------

namespace {
// Per thread and per task (a thread can run as several tasks via task_scope).
thread_local std::map<std::uint32_t, mach_port_name_t> tls_reply_ports;
}  // namespace

extern "C" {

mach_port_t mig_get_reply_port(void) {
  const auto task = machport_emu::current_task();
  auto it = tls_reply_ports.find(task);
  if (it != tls_reply_ports.end()) {
    // A cache hit is user space on macOS (no kernel call). The emulator still checks that the
    // cached name holds a receive right, so a test that destroyed it gets a fresh one.
    std::lock_guard g(kernel_mutex());
    space* s = current_space_locked();
    entry* e = s ? lookup_entry_locked(s, it->second) : nullptr;
    if (e && (e->type & MACH_PORT_TYPE_RECEIVE)) return it->second;
    tls_reply_ports.erase(it);
  }
  const mach_port_name_t name = mach_reply_port();
  if (name != MACH_PORT_NULL) tls_reply_ports[task] = name;
  return name;
}

void mig_dealloc_reply_port(mach_port_t reply_port) {
  const auto task = machport_emu::current_task();
  auto it = tls_reply_ports.find(task);
  if (it != tls_reply_ports.end() && it->second == reply_port) tls_reply_ports.erase(it);
  (void)mach_port_mod_refs(mach_task_self(), reply_port, MACH_PORT_RIGHT_RECEIVE, -1);
}

void mig_put_reply_port(mach_port_t reply_port) { (void)reply_port; }

}  // extern "C"

// ---- traps, special ports, time ---------------------------------------------------------------

extern "C" {

mach_port_name_t task_self_trap(void) {
  const kernel_entry k(kcall::task_self_trap);
  return task_self_name;
}
mach_port_name_t host_self_trap(void) {
  const kernel_entry k(kcall::host_self_trap);
  return host_self_name;
}
mach_port_name_t thread_self_trap(void) {
  const kernel_entry k(kcall::thread_self_trap);
  return thread_self_name;
}

kern_return_t task_get_special_port(task_inspect_t task, int which_port, mach_port_t* special_port) {
  const kernel_entry k(kcall::task_get_special_port);
  if (!k.space_of(task)) return MACH_SEND_INVALID_DEST;
  switch (which_port) {
    case TASK_KERNEL_PORT:
    case TASK_NAME_PORT:
    case TASK_INSPECT_PORT:
    case TASK_READ_PORT:
      *special_port = task_self_name;
      return KERN_SUCCESS;
    case TASK_HOST_PORT:
      *special_port = host_self_name;
      return KERN_SUCCESS;
    case TASK_BOOTSTRAP_PORT:
      *special_port = bootstrap_name;
      return KERN_SUCCESS;
    default:
      return KERN_INVALID_ARGUMENT;
  }
}

static uint64_t clock_ns(clockid_t c) {
  timespec ts{};
  ::clock_gettime(c, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

kern_return_t mach_timebase_info(mach_timebase_info_t info) {
  info->numer = 1;  // mach_absolute_time counts nanoseconds here
  info->denom = 1;
  return KERN_SUCCESS;
}
uint64_t mach_absolute_time(void) { return clock_ns(CLOCK_MONOTONIC); }
uint64_t mach_approximate_time(void) { return clock_ns(CLOCK_MONOTONIC_COARSE); }
uint64_t mach_continuous_time(void) { return clock_ns(CLOCK_BOOTTIME); }
uint64_t mach_continuous_approximate_time(void) { return clock_ns(CLOCK_BOOTTIME); }

}  // extern "C"
