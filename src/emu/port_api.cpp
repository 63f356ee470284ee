// The mach_port_* interface of §2 and §3.1.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <mach/mach.h>
#include <mach/notify.h>

#include <algorithm>
#include <cstring>

#include "internal.hpp"

using namespace machport_emu::detail;

namespace machport_emu::detail {

namespace {

// ipc_port_translate_receive: the port whose receive right `name` denotes.
kern_return_t translate_receive(space* s, mach_port_name_t name, port** out) {
  if (is_reserved_name(name)) return KERN_INVALID_RIGHT;
  entry* e = lookup_entry_locked(s, name);
  if (!e) return KERN_INVALID_NAME;
  if (check_dead_locked(s, name, *e)) return KERN_INVALID_NAME;
  if (!(e->type & MACH_PORT_TYPE_RECEIVE)) return KERN_INVALID_RIGHT;
  *out = e->p.get();
  return KERN_SUCCESS;
}

// The same for calls that reject MACH_PORT_NULL / MACH_PORT_DEAD before the lookup, each with
// its own code (XNU differs per call).
kern_return_t translate_receive(space* s, mach_port_name_t name, port** out,
                                kern_return_t null_or_dead) {
  if (!MACH_PORT_VALID(name)) return null_or_dead;
  return translate_receive(s, name, out);
}

// The body of a routine acting on one receive right: enters the kernel as `call`, finds the
// receive right `name` (NULL / DEAD fail with `null_or_dead`), then runs f(port&).
template <class F>
kern_return_t with_receive_right(kcall call, mach_port_t task, mach_port_name_t name,
                                 kern_return_t null_or_dead, F&& f) {
  const kernel_entry k(call);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  port* p = nullptr;
  const kern_return_t kr = translate_receive(s, name, &p, null_or_dead);
  return kr == KERN_SUCCESS ? f(*p) : kr;
}

kern_return_t translate_pset(space* s, mach_port_name_t name, pset** out) {
  if (is_reserved_name(name)) return KERN_INVALID_RIGHT;
  entry* e = lookup_entry_locked(s, name);
  if (!e) return KERN_INVALID_NAME;
  if (check_dead_locked(s, name, *e)) return KERN_INVALID_NAME;
  if (!(e->type & MACH_PORT_TYPE_PORT_SET)) return KERN_INVALID_RIGHT;
  *out = e->set.get();
  return KERN_SUCCESS;
}

kern_return_t allocate_receive(space* s, mach_port_name_t* name, bool chosen) {
  kern_return_t kr = chosen ? claim_name_locked(s, *name) : alloc_name_locked(s, name);
  if (kr != KERN_SUCCESS) return kr;
  port_ref p = new_port_locked();
  entry& e = new_entry_locked(s, *name);
  e.type = MACH_PORT_TYPE_RECEIVE;
  e.p = p;
  s->port_names[p.get()] = *name;
  p->receiver = s;
  p->receiver_name = *name;
  return KERN_SUCCESS;
}

kern_return_t allocate_right(space* s, mach_port_right_t right, mach_port_name_t* name,
                             bool chosen) {
  switch (right) {
    case MACH_PORT_RIGHT_RECEIVE:
      return allocate_receive(s, name, chosen);
    case MACH_PORT_RIGHT_PORT_SET: {
      kern_return_t kr = chosen ? claim_name_locked(s, *name) : alloc_name_locked(s, name);
      if (kr != KERN_SUCCESS) return kr;
      auto ps = std::make_shared<pset>();
      ps->owner = s;
      ps->name = *name;
      entry& e = new_entry_locked(s, *name);
      e.type = MACH_PORT_TYPE_PORT_SET;
      e.set = ps;
      return KERN_SUCCESS;
    }
    case MACH_PORT_RIGHT_DEAD_NAME: {
      kern_return_t kr = chosen ? claim_name_locked(s, *name) : alloc_name_locked(s, name);
      if (kr != KERN_SUCCESS) return kr;
      entry& e = new_entry_locked(s, *name);
      e.type = MACH_PORT_TYPE_DEAD_NAME;
      e.urefs = 1;
      return KERN_SUCCESS;
    }
    default:
      return KERN_INVALID_VALUE;
  }
}

// mach_port_allocate_qos / _full: a chosen name only for rights that can have one.
kern_return_t allocate_qos(space* s, mach_port_right_t right, mach_port_qos_t* qos,
                           mach_port_name_t* name) {
  if (!qos || !name) return KERN_INVALID_ARGUMENT;
  if (qos->name && right != MACH_PORT_RIGHT_RECEIVE && right != MACH_PORT_RIGHT_PORT_SET &&
      right != MACH_PORT_RIGHT_DEAD_NAME)
    return KERN_INVALID_VALUE;
  return allocate_right(s, right, name, qos->name != 0);
}

// Applies a uref delta with XNU's range checks and 0xFFFF pegging. Returns the new count in
// *out (0 = release).
kern_return_t apply_delta(mach_port_urefs_t urefs, mach_port_delta_t delta, mach_port_urefs_t* out) {
  if (delta > 0xFFFF || delta < -0xFFFF) return KERN_INVALID_VALUE;
  if (urefs == 0xFFFF) {
    // Pegged: only a release of exactly all the references counts.
    *out = delta == -0xFFFF ? 0 : 0xFFFF;
    return KERN_SUCCESS;
  }
  const long n = long(urefs) + delta;
  if (n < 0) return KERN_INVALID_VALUE;
  *out = n >= 0xFFFF ? 0xFFFF : mach_port_urefs_t(n);
  return KERN_SUCCESS;
}

// Sets a dead name's urefs (freeing it at 0).
void set_dead_urefs(space* s, mach_port_name_t name, entry& e, mach_port_urefs_t u) {
  if (u == 0) free_name_locked(s, name);
  else e.urefs = u;
}

// Drops the SEND right of `name` (urefs reached 0): no-senders may fire, then port-deleted.
void drop_send_right(space* s, mach_port_name_t name, entry& e) {
  kright deleted;
  const port_ref p = take_last_send_right_locked(s, name, e, &deleted);
  release_send_locked(p.get());
  if (deleted.p) port_deleted_notify_locked(std::move(deleted), name);
}

// Drops a live send-once right of `name` unused: send-once notification to its port.
void drop_send_once_right(space* s, mach_port_name_t name, entry& e) {
  port_ref p = e.p;
  kright deleted;
  cancel_request_locked(s, name, e, &deleted);
  free_name_locked(s, name);
  send_once_notification_locked(kright{p, MACH_MSG_TYPE_PORT_SEND_ONCE, false});
  if (deleted.p) port_deleted_notify_locked(std::move(deleted), name);
}

void fill_status(port* p, mach_port_status_t* st) {
  st->mps_pset = p->sets.empty() ? 0 : 1;
  st->mps_seqno = p->seqno;
  st->mps_mscount = p->mscount;
  st->mps_qlimit = p->qlimit;
  st->mps_msgcount = mqueue_count_locked(p);
  st->mps_sorights = p->sorights;
  st->mps_srights = p->srights > 0;
  st->mps_pdrequest = p->pdrequest.p != nullptr;
  st->mps_nsrequest = p->nsrequest.p != nullptr;
  natural_t f = 0;
  if (p->mpo_flags & MPO_TEMPOWNER) f |= MACH_PORT_STATUS_FLAG_TEMPOWNER;
  if (p->guarded) f |= MACH_PORT_STATUS_FLAG_GUARDED;
  if (p->strict_guard) f |= MACH_PORT_STATUS_FLAG_STRICT_GUARD;
  if (p->mpo_flags & (MPO_IMPORTANCE_RECEIVER | MPO_DENAP_RECEIVER)) f |= MACH_PORT_STATUS_FLAG_IMP_DONATION;
  if (p->immovable_receive) f |= MACH_PORT_STATUS_FLAG_GUARD_IMMOVABLE_RECEIVE;
  st->mps_flags = f;
}

}  // namespace

kern_return_t destroy_name_locked(space* s, mach_port_name_t name, bool check_guard) {
  entry* ep = lookup_entry_locked(s, name);
  if (!ep) return KERN_INVALID_NAME;
  entry& e = *ep;
  if (e.type & MACH_PORT_TYPE_PORT_SET) {
    destroy_pset_by_name_locked(s, name);
    return KERN_SUCCESS;
  }
  if (check_dead_locked(s, name, e)) {
    free_name_locked(s, name);
    return KERN_SUCCESS;
  }
  // ipc_right_destroy: only a guard with a non-zero value protects the receive right.
  if ((e.type & MACH_PORT_TYPE_RECEIVE) && check_guard && e.p->guarded && e.p->context != 0)
    return KERN_INVALID_RIGHT;  // + fatal kGUARD_EXC_DESTROY on a real kernel
  if (e.type & MACH_PORT_TYPE_SEND_ONCE) {
    drop_send_once_right(s, name, e);
    return KERN_SUCCESS;
  }
  if (e.type & MACH_PORT_TYPE_RECEIVE) {
    port_ref p = e.p;
    // The send right goes first, so a last-send no-senders is emitted before the death.
    if (e.type & MACH_PORT_TYPE_SEND) drop_send_right(s, name, e);
    kright deleted;
    cancel_request_locked(s, name, e, &deleted);
    free_name_locked(s, name);
    destroy_receive_locked(p);
    if (deleted.p) port_deleted_notify_locked(std::move(deleted), name);
    return KERN_SUCCESS;
  }
  if (e.type & MACH_PORT_TYPE_SEND) {
    drop_send_right(s, name, e);
    return KERN_SUCCESS;
  }
  free_name_locked(s, name);
  return KERN_SUCCESS;
}

kern_return_t dealloc_name_locked(space* s, mach_port_name_t name) {
  entry* ep = lookup_entry_locked(s, name);
  if (!ep) return KERN_INVALID_NAME;
  entry& e = *ep;
  if (e.type & MACH_PORT_TYPE_PORT_SET) {
    destroy_pset_by_name_locked(s, name);
    return KERN_SUCCESS;
  }
  if (check_dead_locked(s, name, e)) {
    if (e.urefs == 1) free_name_locked(s, name);
    else if (e.urefs < 0xFFFF) --e.urefs;
    return KERN_SUCCESS;
  }
  if (e.type & MACH_PORT_TYPE_SEND_ONCE) {
    drop_send_once_right(s, name, e);
    return KERN_SUCCESS;
  }
  if (e.type & MACH_PORT_TYPE_SEND) {
    if (e.urefs == 1) drop_send_right(s, name, e);
    else if (e.urefs < 0xFFFF) --e.urefs;
    return KERN_SUCCESS;
  }
  return KERN_INVALID_RIGHT;  // receive alone
}

bool arm_send_possible_locked(port* p, space* s, mach_port_name_t name) {
  for (auto& r : p->dnrequests) {
    if (r.requester == s && r.name == name && r.send_possible) {
      r.armed = true;
      return true;
    }
  }
  return false;
}

}  // namespace machport_emu::detail

extern "C" {

kern_return_t mach_port_allocate(ipc_space_t task, mach_port_right_t right, mach_port_name_t* name) {
  const kernel_entry k(kcall::mach_port_allocate);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  mach_port_name_t n = MACH_PORT_NULL;
  kern_return_t kr = allocate_right(s, right, &n, false);
  if (kr == KERN_SUCCESS && name) *name = n;
  return kr;
}

kern_return_t mach_port_allocate_name(ipc_space_t task, mach_port_right_t right, mach_port_name_t name) {
  const kernel_entry k(kcall::mach_port_allocate_name);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (right != MACH_PORT_RIGHT_RECEIVE && right != MACH_PORT_RIGHT_PORT_SET &&
      right != MACH_PORT_RIGHT_DEAD_NAME)
    return KERN_INVALID_VALUE;
  return allocate_right(s, right, &name, true);
}

kern_return_t mach_port_allocate_qos(ipc_space_t task, mach_port_right_t right, mach_port_qos_t* qos,
                                     mach_port_name_t* name) {
  const kernel_entry k(kcall::mach_port_allocate_qos);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  return allocate_qos(s, right, qos, name);
}

kern_return_t mach_port_allocate_full(ipc_space_t task, mach_port_right_t right, mach_port_t proto,
                                      mach_port_qos_t* qos, mach_port_name_t* name) {
  const kernel_entry k(kcall::mach_port_allocate_full);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (proto != MACH_PORT_NULL) return KERN_INVALID_VALUE;  // XNU: subsystems are gone
  return allocate_qos(s, right, qos, name);
}

// The trap behind MIG reply ports; NULL when the space is full or the task is gone.
mach_port_name_t mach_reply_port(void) {
  const kernel_entry k(kcall::mach_reply_port);
  space* const s = k.caller();
  mach_port_name_t name = MACH_PORT_NULL;
  if (!s || !s->active || allocate_receive(s, &name, false) != KERN_SUCCESS) return MACH_PORT_NULL;
  return name;
}

kern_return_t mach_port_type(ipc_space_t task, mach_port_name_t name, mach_port_type_t* ptype) {
  const kernel_entry k(kcall::mach_port_type);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (name == MACH_PORT_NULL) return KERN_INVALID_NAME;
  if (name == MACH_PORT_DEAD) {
    *ptype = MACH_PORT_TYPE_DEAD_NAME;
    return KERN_SUCCESS;
  }
  if (is_reserved_name(name)) {
    *ptype = MACH_PORT_TYPE_SEND;
    return KERN_SUCCESS;
  }
  entry* e = lookup_entry_locked(s, name);
  if (!e) return KERN_INVALID_NAME;
  check_dead_locked(s, name, *e);
  *ptype = e->type | (e->has_request ? MACH_PORT_TYPE_DNREQUEST : 0);
  return KERN_SUCCESS;
}

kern_return_t mach_port_names(ipc_space_t task, mach_port_name_array_t* names,
                              mach_msg_type_number_t* namesCnt, mach_port_type_array_t* types,
                              mach_msg_type_number_t* typesCnt) {
  const kernel_entry k(kcall::mach_port_names);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  std::vector<std::pair<mach_port_name_t, mach_port_type_t>> all;
  for (mach_port_name_t n : sorted_names_locked(s)) {
    entry& e = s->entries.at(n);
    check_dead_locked(s, n, e);
    all.emplace_back(n, e.type | (e.has_request ? MACH_PORT_TYPE_DNREQUEST : 0));
  }
  const std::size_t count = all.size();
  mach_port_name_t* na = nullptr;
  mach_port_type_t* ta = nullptr;
  if (count) {
    na = static_cast<mach_port_name_t*>(vm_alloc_locked(count * sizeof(mach_port_name_t)));
    ta = static_cast<mach_port_type_t*>(vm_alloc_locked(count * sizeof(mach_port_type_t)));
    if (!na || !ta) {
      if (na) vm_free(na, count * sizeof(mach_port_name_t));
      if (ta) vm_free(ta, count * sizeof(mach_port_type_t));
      return KERN_RESOURCE_SHORTAGE;
    }
    for (std::size_t i = 0; i < count; ++i) {
      na[i] = all[i].first;
      ta[i] = all[i].second;
    }
  }
  *names = na;
  *types = ta;
  *namesCnt = *typesCnt = mach_msg_type_number_t(count);
  return KERN_SUCCESS;
}

kern_return_t mach_port_get_refs(ipc_space_t task, mach_port_name_t name, mach_port_right_t right,
                                 mach_port_urefs_t* refs) {
  const kernel_entry k(kcall::mach_port_get_refs);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (right >= MACH_PORT_RIGHT_NUMBER) return KERN_INVALID_VALUE;
  if (!MACH_PORT_VALID(name)) {
    if (right == MACH_PORT_RIGHT_SEND || right == MACH_PORT_RIGHT_SEND_ONCE) {
      *refs = 1;
      return KERN_SUCCESS;
    }
    return KERN_INVALID_NAME;
  }
  if (is_reserved_name(name)) {
    *refs = right == MACH_PORT_RIGHT_SEND ? 1 : 0;
    return KERN_SUCCESS;
  }
  entry* e = lookup_entry_locked(s, name);
  if (!e) return KERN_INVALID_NAME;
  check_dead_locked(s, name, *e);
  const mach_port_type_t want = MACH_PORT_TYPE(right);
  if (!(e->type & want)) {
    *refs = 0;
  } else if (right == MACH_PORT_RIGHT_SEND || right == MACH_PORT_RIGHT_DEAD_NAME) {
    *refs = e->urefs;
  } else {
    *refs = 1;
  }
  return KERN_SUCCESS;
}

kern_return_t mach_port_mod_refs(ipc_space_t task, mach_port_name_t name, mach_port_right_t right,
                                 mach_port_delta_t delta) {
  const kernel_entry k(kcall::mach_port_mod_refs);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (right >= MACH_PORT_RIGHT_NUMBER) return KERN_INVALID_VALUE;
  if (!MACH_PORT_VALID(name)) {
    return (right == MACH_PORT_RIGHT_SEND || right == MACH_PORT_RIGHT_SEND_ONCE) ? KERN_SUCCESS
                                                                                 : KERN_INVALID_NAME;
  }
  if (is_reserved_name(name)) return right == MACH_PORT_RIGHT_SEND ? KERN_SUCCESS : KERN_INVALID_RIGHT;
  entry* ep = lookup_entry_locked(s, name);
  if (!ep) return KERN_INVALID_NAME;
  entry& e = *ep;
  switch (right) {
    case MACH_PORT_RIGHT_PORT_SET:
      if (!(e.type & MACH_PORT_TYPE_PORT_SET)) return KERN_INVALID_RIGHT;
      if (delta == 0) return KERN_SUCCESS;
      if (delta != -1) return KERN_INVALID_VALUE;
      destroy_pset_by_name_locked(s, name);
      return KERN_SUCCESS;
    case MACH_PORT_RIGHT_RECEIVE:
      if (!(e.type & MACH_PORT_TYPE_RECEIVE)) return KERN_INVALID_RIGHT;
      if (delta == 0) return KERN_SUCCESS;
      if (delta != -1) return KERN_INVALID_VALUE;
      if (e.p->guarded) return KERN_INVALID_RIGHT;  // + fatal kGUARD_EXC_DESTROY
      destroy_receive_by_name_locked(s, name);
      return KERN_SUCCESS;
    case MACH_PORT_RIGHT_SEND_ONCE:
      if (!(e.type & MACH_PORT_TYPE_SEND_ONCE)) return KERN_INVALID_RIGHT;
      if (check_dead_locked(s, name, e)) return KERN_INVALID_RIGHT;
      if (delta == 0) return KERN_SUCCESS;
      if (delta != -1) return KERN_INVALID_VALUE;
      drop_send_once_right(s, name, e);
      return KERN_SUCCESS;
    case MACH_PORT_RIGHT_DEAD_NAME: {
      if (e.type & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE)) {
        if (!check_dead_locked(s, name, e)) return KERN_INVALID_RIGHT;
      }
      if (!(e.type & MACH_PORT_TYPE_DEAD_NAME)) return KERN_INVALID_RIGHT;
      mach_port_urefs_t u = 0;
      kern_return_t kr = apply_delta(e.urefs, delta, &u);
      if (kr != KERN_SUCCESS) return kr;
      set_dead_urefs(s, name, e, u);
      return KERN_SUCCESS;
    }
    case MACH_PORT_RIGHT_SEND: {
      if (!(e.type & MACH_PORT_TYPE_SEND)) return KERN_INVALID_RIGHT;
      if (check_dead_locked(s, name, e)) return KERN_INVALID_RIGHT;
      mach_port_urefs_t u = 0;
      kern_return_t kr = apply_delta(e.urefs, delta, &u);
      if (kr != KERN_SUCCESS) return kr;
      if (u == 0) drop_send_right(s, name, e);
      else e.urefs = u;
      return KERN_SUCCESS;
    }
    default:
      return KERN_INVALID_RIGHT;  // MACH_PORT_RIGHT_LABELH
  }
}

kern_return_t mach_port_deallocate(ipc_space_t task, mach_port_name_t name) {
  const kernel_entry k(kcall::mach_port_deallocate);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (!MACH_PORT_VALID(name) || is_reserved_name(name)) return KERN_SUCCESS;
  return dealloc_name_locked(s, name);
}

kern_return_t mach_port_destroy(ipc_space_t task, mach_port_name_t name) {
  const kernel_entry k(kcall::mach_port_destroy);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (!MACH_PORT_VALID(name) || is_reserved_name(name)) return KERN_SUCCESS;
  return destroy_name_locked(s, name, true);
}

kern_return_t mach_port_construct(ipc_space_t task, mach_port_options_ptr_t options,
                                  mach_port_context_t context, mach_port_name_t* name) {
  const kernel_entry k(kcall::mach_port_construct);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (!options) return KERN_INVALID_ARGUMENT;
  const std::uint32_t f = options->flags;
  const int kind = !!(f & MPO_SERVICE_PORT) + !!(f & MPO_CONNECTION_PORT) + !!(f & MPO_TG_BLOCK_TRACKING);
  if (kind > 1) return KERN_INVALID_ARGUMENT;
  const int reply = !!(f & MPO_REPLY_PORT) + !!(f & MPO_ENFORCE_REPLY_PORT_SEMANTICS) +
                    !!(f & MPO_EXCEPTION_PORT) + !!(f & MPO_PROVISIONAL_REPLY_PORT);
  if (reply > 1) return KERN_INVALID_ARGUMENT;
  if ((f & MPO_SERVICE_PORT) && !options->service_port_info) return KERN_INVALID_ARGUMENT;
  if (f & MPO_CONNECTION_PORT) {
    // Only launchd makes service ports; none exist in the emulator.
    return KERN_INVALID_CAPABILITY;
  }
  if ((f & MPO_QLIMIT) && options->mpl.mpl_qlimit > MACH_PORT_QLIMIT_MAX) return KERN_INVALID_VALUE;
  mach_port_name_t n = MACH_PORT_NULL;
  kern_return_t kr = allocate_receive(s, &n, false);
  if (kr != KERN_SUCCESS) return kr;
  port* p = s->entries.at(n).p.get();
  p->mpo_flags = f;
  if (f & MPO_QLIMIT) p->qlimit = options->mpl.mpl_qlimit;
  if (f & MPO_INSERT_SEND_RIGHT) {
    entry& e = s->entries.at(n);
    e.type |= MACH_PORT_TYPE_SEND;
    e.urefs = 1;
    p->mscount = 1;
    p->srights = 1;
  }
  if (f & MPO_CONTEXT_AS_GUARD) {
    p->guarded = true;
    p->context = context;
    p->strict_guard = (f & MPO_STRICT) != 0;
    p->immovable_receive = (f & MPO_IMMOVABLE_RECEIVE) != 0;
  } else {
    p->context = context;
  }
  *name = n;
  return KERN_SUCCESS;
}

kern_return_t mach_port_destruct(ipc_space_t task, mach_port_name_t name, mach_port_delta_t srdelta,
                                 mach_port_context_t guard) {
  const kernel_entry k(kcall::mach_port_destruct);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (!MACH_PORT_VALID(name)) return KERN_INVALID_NAME;
  if (is_reserved_name(name)) return KERN_INVALID_RIGHT;
  entry* ep = lookup_entry_locked(s, name);
  if (!ep) return KERN_INVALID_NAME;
  entry& e = *ep;
  if (!(e.type & MACH_PORT_TYPE_RECEIVE)) return KERN_INVALID_RIGHT;
  if (srdelta && !(e.type & MACH_PORT_TYPE_SEND)) return KERN_INVALID_RIGHT;
  if (srdelta > 0) return KERN_INVALID_VALUE;
  port* p = e.p.get();
  if (p->guarded && guard != p->context) return KERN_INVALID_ARGUMENT;  // + fatal EXC_GUARD
  if (srdelta) {
    if (mach_port_urefs_t(-srdelta) > e.urefs) return KERN_INVALID_VALUE;
    // Pegged urefs only move when all of them are released at once.
    if (e.urefs == 0xFFFF && srdelta != -0xFFFF) srdelta = 0;
    const mach_port_urefs_t u = e.urefs - mach_port_urefs_t(-srdelta);
    if (u == 0) drop_send_right(s, name, e);
    else e.urefs = u;
  }
  destroy_receive_by_name_locked(s, name);
  return KERN_SUCCESS;
}

kern_return_t mach_port_guard(ipc_space_t task, mach_port_name_t name, mach_port_context_t guard,
                              boolean_t strict) {
  return with_receive_right(kcall::mach_port_guard, task, name, KERN_INVALID_NAME, [&](port& p) {
    if (p.context != 0) return KERN_INVALID_ARGUMENT;  // mach_port_guard_locked checks only this
    p.guarded = true;
    p.context = guard;
    p.strict_guard = strict != 0;
    return KERN_SUCCESS;
  });
}

kern_return_t mach_port_guard_with_flags(ipc_space_t task, mach_port_name_t name,
                                         mach_port_context_t guard, uint64_t flags) {
  return with_receive_right(
      kcall::mach_port_guard_with_flags, task, name, KERN_INVALID_NAME, [&](port& p) {
        if (p.context != 0) return KERN_INVALID_ARGUMENT;
        p.guarded = true;
        p.context = guard;
        // Unknown flag bits are ignored, as in XNU.
        p.strict_guard = (flags & MPG_STRICT) != 0;
        if (flags & MPG_IMMOVABLE_RECEIVE) p.immovable_receive = true;
        return KERN_SUCCESS;
      });
}

kern_return_t mach_port_unguard(ipc_space_t task, mach_port_name_t name, mach_port_context_t guard) {
  return with_receive_right(kcall::mach_port_unguard, task, name, KERN_INVALID_NAME, [&](port& p) {
    if (!p.guarded || p.context != guard) return KERN_INVALID_ARGUMENT;  // + EXC_GUARD
    p.guarded = false;
    p.strict_guard = false;
    p.context = 0;
    return KERN_SUCCESS;  // immovable_receive is sticky
  });
}

kern_return_t mach_port_swap_guard(ipc_space_t task, mach_port_name_t name,
                                   mach_port_context_t old_guard, mach_port_context_t new_guard) {
  return with_receive_right(
      kcall::mach_port_swap_guard, task, name, KERN_INVALID_NAME, [&](port& p) {
        if (!p.guarded || p.strict_guard || p.context != old_guard) return KERN_INVALID_ARGUMENT;
        p.context = new_guard;
        return KERN_SUCCESS;
      });
}

kern_return_t mach_port_get_context(ipc_space_read_t task, mach_port_name_t name,
                                    mach_port_context_t* context) {
  return with_receive_right(
      kcall::mach_port_get_context, task, name, KERN_INVALID_RIGHT, [&](port& p) {
        *context = p.strict_guard ? 0 : p.context;  // a strict guard is never revealed
        return KERN_SUCCESS;
      });
}

kern_return_t mach_port_set_context(ipc_space_t task, mach_port_name_t name,
                                    mach_port_context_t context) {
  return with_receive_right(
      kcall::mach_port_set_context, task, name, KERN_INVALID_RIGHT, [&](port& p) {
        if (p.strict_guard) return KERN_INVALID_ARGUMENT;  // + kGUARD_EXC_SET_CONTEXT
        p.context = context;
        return KERN_SUCCESS;
      });
}

kern_return_t mach_port_set_mscount(ipc_space_t task, mach_port_name_t name,
                                    mach_port_mscount_t mscount) {
  return with_receive_right(
      kcall::mach_port_set_mscount, task, name, KERN_INVALID_RIGHT, [&](port& p) {
        p.mscount = mscount;
        return KERN_SUCCESS;
      });
}

kern_return_t mach_port_set_seqno(ipc_space_t task, mach_port_name_t name, mach_port_seqno_t seqno) {
  return with_receive_right(
      kcall::mach_port_set_seqno, task, name, KERN_INVALID_RIGHT, [&](port& p) {
        p.seqno = seqno;
        return KERN_SUCCESS;
      });
}

kern_return_t mach_port_get_srights(ipc_space_t task, mach_port_name_t name,
                                    mach_port_rights_t* srights) {
  return with_receive_right(
      kcall::mach_port_get_srights, task, name, KERN_INVALID_RIGHT, [&](port& p) {
        *srights = p.srights;
        return KERN_SUCCESS;
      });
}

kern_return_t mach_port_get_attributes(ipc_space_read_t task, mach_port_name_t name,
                                       mach_port_flavor_t flavor, mach_port_info_t info,
                                       mach_msg_type_number_t* count) {
  const kernel_entry k(kcall::mach_port_get_attributes);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  port* p = nullptr;
  kern_return_t kr;
  switch (flavor) {
    case MACH_PORT_LIMITS_INFO:
      if (*count < MACH_PORT_LIMITS_INFO_COUNT) return KERN_FAILURE;
      if (!MACH_PORT_VALID(name)) {
        *count = 0;
        return KERN_SUCCESS;
      }
      if ((kr = translate_receive(s, name, &p)) != KERN_SUCCESS) return kr;
      reinterpret_cast<mach_port_limits_t*>(info)->mpl_qlimit = p->qlimit;
      *count = MACH_PORT_LIMITS_INFO_COUNT;
      return KERN_SUCCESS;
    case MACH_PORT_RECEIVE_STATUS:
      if (*count < MACH_PORT_RECEIVE_STATUS_COUNT) return KERN_FAILURE;
      if ((kr = translate_receive(s, name, &p, KERN_INVALID_RIGHT)) != KERN_SUCCESS) return kr;
      fill_status(p, reinterpret_cast<mach_port_status_t*>(info));
      *count = MACH_PORT_RECEIVE_STATUS_COUNT;
      return KERN_SUCCESS;
    case MACH_PORT_DNREQUESTS_SIZE:
      if (*count < MACH_PORT_DNREQUESTS_SIZE_COUNT) return KERN_FAILURE;
      if (!MACH_PORT_VALID(name)) {
        *reinterpret_cast<int*>(info) = 0;
        return KERN_SUCCESS;
      }
      if ((kr = translate_receive(s, name, &p)) != KERN_SUCCESS) return kr;
      *reinterpret_cast<int*>(info) = int(p->dnrequests.size());
      *count = MACH_PORT_DNREQUESTS_SIZE_COUNT;
      return KERN_SUCCESS;
    case MACH_PORT_INFO_EXT: {
      if (*count < MACH_PORT_INFO_EXT_COUNT) return KERN_FAILURE;
      if ((kr = translate_receive(s, name, &p, KERN_INVALID_RIGHT)) != KERN_SUCCESS) return kr;
      auto* ext = reinterpret_cast<mach_port_info_ext_t*>(info);
      std::memset(ext, 0, sizeof *ext);
      fill_status(p, &ext->mpie_status);
      *count = MACH_PORT_INFO_EXT_COUNT;
      return KERN_SUCCESS;
    }
    case MACH_PORT_SERVICE_THROTTLED:
      if (*count < MACH_PORT_SERVICE_THROTTLED_COUNT) return KERN_FAILURE;
      if ((kr = translate_receive(s, name, &p, KERN_INVALID_RIGHT)) != KERN_SUCCESS) return kr;
      return KERN_INVALID_CAPABILITY;  // no service ports here
    default:
      return KERN_INVALID_ARGUMENT;
  }
}

kern_return_t mach_port_set_attributes(ipc_space_t task, mach_port_name_t name,
                                       mach_port_flavor_t flavor, mach_port_info_t info,
                                       mach_msg_type_number_t count) {
  const kernel_entry k(kcall::mach_port_set_attributes);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  port* p = nullptr;
  kern_return_t kr;
  switch (flavor) {
    case MACH_PORT_LIMITS_INFO: {
      if (count < MACH_PORT_LIMITS_INFO_COUNT) return KERN_FAILURE;
      const auto q = reinterpret_cast<mach_port_limits_t*>(info)->mpl_qlimit;
      if (q > MACH_PORT_QLIMIT_MAX) return KERN_INVALID_VALUE;
      if ((kr = translate_receive(s, name, &p, KERN_INVALID_RIGHT)) != KERN_SUCCESS) return kr;
      mqueue_set_qlimit_locked(p, q);  // wakes up to (new - old) blocked senders
      return KERN_SUCCESS;
    }
    case MACH_PORT_DNREQUESTS_SIZE:
      if (count < MACH_PORT_DNREQUESTS_SIZE_COUNT) return KERN_FAILURE;
      return translate_receive(s, name, &p, KERN_INVALID_RIGHT);
    case MACH_PORT_TEMPOWNER:
    case MACH_PORT_IMPORTANCE_RECEIVER:
    case MACH_PORT_DENAP_RECEIVER:
      if ((kr = translate_receive(s, name, &p, KERN_INVALID_RIGHT)) != KERN_SUCCESS) return kr;
      p->mpo_flags |= flavor == MACH_PORT_TEMPOWNER ? MPO_TEMPOWNER
                      : flavor == MACH_PORT_IMPORTANCE_RECEIVER ? MPO_IMPORTANCE_RECEIVER
                                                                : MPO_DENAP_RECEIVER;
      return KERN_SUCCESS;
    case MACH_PORT_SERVICE_THROTTLED:
      if ((kr = translate_receive(s, name, &p, KERN_INVALID_RIGHT)) != KERN_SUCCESS) return kr;
      return KERN_INVALID_CAPABILITY;
    default:
      return KERN_INVALID_ARGUMENT;
  }
}

kern_return_t mach_port_move_member(ipc_space_t task, mach_port_name_t member, mach_port_name_t after) {
  const kernel_entry k(kcall::mach_port_move_member);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (!MACH_PORT_VALID(member) || after == MACH_PORT_DEAD) return KERN_INVALID_RIGHT;
  port* p = nullptr;
  kern_return_t kr = translate_receive(s, member, &p);
  if (kr != KERN_SUCCESS) return kr;
  pset* target = nullptr;
  if (after != MACH_PORT_NULL) {
    if ((kr = translate_pset(s, after, &target)) != KERN_SUCCESS) return kr;
  }
  if (!target) {
    if (p->sets.empty()) return KERN_NOT_IN_SET;
  } else if (std::find(p->sets.begin(), p->sets.end(), target) == p->sets.end()) {
    add_to_set_locked(p, target);
  }
  auto sets = p->sets;
  for (pset* ps : sets)
    if (ps != target) remove_from_set_locked(p, ps);
  return KERN_SUCCESS;
}

kern_return_t mach_port_insert_member(ipc_space_t task, mach_port_name_t name, mach_port_name_t psname) {
  const kernel_entry k(kcall::mach_port_insert_member);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (!MACH_PORT_VALID(name) || !MACH_PORT_VALID(psname)) return KERN_INVALID_RIGHT;
  port* p = nullptr;
  pset* ps = nullptr;
  kern_return_t kr = translate_receive(s, name, &p);
  if (kr != KERN_SUCCESS) return kr;
  if ((kr = translate_pset(s, psname, &ps)) != KERN_SUCCESS) return kr;
  if (std::find(p->sets.begin(), p->sets.end(), ps) != p->sets.end()) return KERN_ALREADY_IN_SET;
  add_to_set_locked(p, ps);
  return KERN_SUCCESS;
}

kern_return_t mach_port_extract_member(ipc_space_t task, mach_port_name_t name, mach_port_name_t psname) {
  const kernel_entry k(kcall::mach_port_extract_member);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (!MACH_PORT_VALID(name) || !MACH_PORT_VALID(psname)) return KERN_INVALID_RIGHT;
  port* p = nullptr;
  pset* ps = nullptr;
  kern_return_t kr = translate_receive(s, name, &p);
  if (kr != KERN_SUCCESS) return kr;
  if ((kr = translate_pset(s, psname, &ps)) != KERN_SUCCESS) return kr;
  if (std::find(p->sets.begin(), p->sets.end(), ps) == p->sets.end()) return KERN_NOT_IN_SET;
  remove_from_set_locked(p, ps);
  return KERN_SUCCESS;
}

kern_return_t mach_port_get_set_status(ipc_space_read_t task, mach_port_name_t name,
                                       mach_port_name_array_t* members,
                                       mach_msg_type_number_t* membersCnt) {
  const kernel_entry k(kcall::mach_port_get_set_status);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (!MACH_PORT_VALID(name)) return KERN_INVALID_RIGHT;
  pset* ps = nullptr;
  kern_return_t kr = translate_pset(s, name, &ps);
  if (kr != KERN_SUCCESS) return kr;
  std::vector<mach_port_name_t> names;
  for (port* p : ps->members) names.push_back(p->receiver_name);
  std::sort(names.begin(), names.end());
  mach_port_name_t* arr = nullptr;
  if (!names.empty()) {
    arr = static_cast<mach_port_name_t*>(vm_alloc_locked(names.size() * sizeof(mach_port_name_t)));
    if (!arr) return KERN_RESOURCE_SHORTAGE;
    std::copy(names.begin(), names.end(), arr);
  }
  *members = arr;
  *membersCnt = mach_msg_type_number_t(names.size());
  return KERN_SUCCESS;
}

kern_return_t mach_port_insert_right(ipc_space_t task, mach_port_name_t name, mach_port_t poly,
                                     mach_msg_type_name_t polyPoly) {
  const kernel_entry k(kcall::mach_port_insert_right);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (name == poly && (polyPoly == MACH_MSG_TYPE_MAKE_SEND || polyPoly == MACH_MSG_TYPE_COPY_SEND) &&
      MACH_PORT_VALID(name)) {
    // Fast path: ipc_object_insert_send_right.
    if (is_reserved_name(name)) return KERN_INVALID_RIGHT;
    entry* e = lookup_entry_locked(s, name);
    if (!e) return KERN_INVALID_NAME;
    if (e->type & MACH_PORT_TYPE_DEAD_NAME) return KERN_INVALID_CAPABILITY;
    if (!(e->type & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_RECEIVE | MACH_PORT_TYPE_SEND_ONCE)))
      return KERN_INVALID_RIGHT;
    if (!e->p->active) return KERN_INVALID_CAPABILITY;
    if (polyPoly == MACH_MSG_TYPE_MAKE_SEND) {
      if (!(e->type & MACH_PORT_TYPE_RECEIVE)) return KERN_INVALID_RIGHT;
      ++e->p->mscount;
      if (e->type & MACH_PORT_TYPE_SEND) {
        if (e->urefs < 0xFFFF) ++e->urefs;
      } else {
        ++e->p->srights;
        e->type |= MACH_PORT_TYPE_SEND;
        e->urefs = 1;
      }
    } else {
      if (!(e->type & MACH_PORT_TYPE_SEND)) return KERN_INVALID_RIGHT;
      if (e->urefs < 0xFFFF) ++e->urefs;
    }
    return KERN_SUCCESS;
  }
  // The trap copies poly in first (unknown/NULL/DEAD poly → INVALID_NAME, bad disposition →
  // INVALID_RIGHT); only then is the name checked.
  kright r;
  kern_return_t kr = copyin_right_locked(s, poly, polyPoly, r, copyin_reason::api);
  if (kr != KERN_SUCCESS) return kr;
  kr = check_name_locked(s, name);
  if (kr != KERN_SUCCESS) {
    destroy_kright_locked(r);
    return kr;
  }
  return copyout_right_name_locked(s, std::move(r), name);
}

kern_return_t mach_port_extract_right(ipc_space_t task, mach_port_name_t name,
                                      mach_msg_type_name_t msgt_name, mach_port_t* poly,
                                      mach_msg_type_name_t* polyPoly) {
  const kernel_entry k(kcall::mach_port_extract_right);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  if (msgt_name < MACH_MSG_TYPE_MOVE_RECEIVE || msgt_name > MACH_MSG_TYPE_MAKE_SEND_ONCE)
    return KERN_INVALID_VALUE;
  if (!MACH_PORT_VALID(name)) return KERN_INVALID_RIGHT;
  kright r;
  kern_return_t kr = copyin_right_locked(s, name, msgt_name, r, copyin_reason::api);
  if (kr != KERN_SUCCESS) return kr;
  const mach_msg_type_name_t t = r.type;
  // The MIG reply carries the right back into the caller's own space.
  kern_return_t err = KERN_SUCCESS;
  *poly = copyout_right_locked(s, std::move(r), &err);
  *polyPoly = t;
  return KERN_SUCCESS;
}

kern_return_t mach_port_request_notification(ipc_space_t task, mach_port_name_t name,
                                             mach_msg_id_t msgid, mach_port_mscount_t sync,
                                             mach_port_t notify, mach_msg_type_name_t notifyPoly,
                                             mach_port_t* previous) {
  const kernel_entry k(kcall::mach_port_request_notification);
  space* const s = k.space_of(task);
  if (!s) return MACH_SEND_INVALID_DEST;
  kright n;
  if (MACH_PORT_VALID(notify)) {
    if (notifyPoly != MACH_MSG_TYPE_MAKE_SEND_ONCE && notifyPoly != MACH_MSG_TYPE_MOVE_SEND_ONCE)
      return KERN_INVALID_VALUE;
    kern_return_t kr = copyin_right_locked(s, notify, notifyPoly, n, copyin_reason::body);
    if (kr != KERN_SUCCESS) return kr;
  } else if (notify == MACH_PORT_DEAD) {
    n.dead_name = true;
  }
  kright prev;
  auto fail = [&](kern_return_t kr) {
    destroy_kright_locked(n);
    return kr;
  };
  if (n.dead_name) return fail(KERN_INVALID_CAPABILITY);  // the dead uref is already gone
  switch (msgid) {
    case MACH_NOTIFY_PORT_DESTROYED: {
      if (sync != 0) return fail(KERN_INVALID_VALUE);
      if (!MACH_PORT_VALID(name)) return fail(KERN_INVALID_RIGHT);
      port* p = nullptr;
      kern_return_t kr = translate_receive(s, name, &p);
      if (kr != KERN_SUCCESS) return fail(kr);
      if (p->pdrequest.p) return fail(KERN_FAILURE);
      p->pdrequest = std::move(n);
      break;
    }
    case MACH_NOTIFY_NO_SENDERS: {
      if (!MACH_PORT_VALID(name)) return fail(KERN_INVALID_RIGHT);
      port* p = nullptr;
      kern_return_t kr = translate_receive(s, name, &p);
      if (kr != KERN_SUCCESS) return fail(kr);
      prev = std::move(p->nsrequest);
      p->nsrequest = kright{};
      if (n.p && p->srights == 0 && sync <= p->mscount) {
        send_no_senders_locked(std::move(n), p->mscount);
      } else {
        p->nsrequest = std::move(n);
      }
      break;
    }
    case MACH_NOTIFY_DEAD_NAME:
    case MACH_NOTIFY_SEND_POSSIBLE: {
      // ipc_right_request_alloc.
      const bool sp = msgid == MACH_NOTIFY_SEND_POSSIBLE;
      if (!MACH_PORT_VALID(name)) return fail(KERN_INVALID_ARGUMENT);
      if (is_reserved_name(name)) return fail(KERN_INVALID_RIGHT);
      entry* e = lookup_entry_locked(s, name);
      if (!e) return fail(KERN_INVALID_NAME);
      if (!n.p && !e->has_request) break;  // nothing to do or undo
      if ((e->type & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE | MACH_PORT_TYPE_RECEIVE)) &&
          !check_dead_locked(s, name, *e)) {
        port* p = e->p.get();
        cancel_request_locked(s, name, *e, &prev);  // any previous request is replaced
        if (!n.p) break;
        if (sp && sync != 0 &&
            ((e->type & MACH_PORT_TYPE_SEND_ONCE) || p->msgcount < p->qlimit)) {  // !ip_full
          send_notification_locked(std::move(n), MACH_NOTIFY_SEND_POSSIBLE, name);
          break;
        }
        dead_name_request req;
        req.requester = s;
        req.name = name;
        req.notify = std::move(n);
        req.send_possible = sp;
        req.armed = sp && sync != 0;
        p->dnrequests.push_back(std::move(req));
        e->has_request = true;
        break;
      }
      if (sp && n.p && (e->type & MACH_PORT_TYPE_DEAD_NAME)) {
        // Send-possible on a dead name: an immediate dead-name notification, which carries
        // a uref.
        if (e->urefs < 0xFFFF) ++e->urefs;
        send_notification_locked(std::move(n), MACH_NOTIFY_DEAD_NAME, name);
        break;
      }
      return fail((e->type & (MACH_PORT_TYPE_PORT_RIGHTS | MACH_PORT_TYPE_DEAD_NAME))
                      ? KERN_INVALID_ARGUMENT
                      : KERN_INVALID_RIGHT);
    }
    default:
      return fail(KERN_INVALID_VALUE);
  }
  kern_return_t err = KERN_SUCCESS;
  *previous = copyout_right_locked(s, std::move(prev), &err);
  return KERN_SUCCESS;
}

}  // extern "C"
