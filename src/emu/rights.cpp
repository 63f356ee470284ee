// Rights: copy-in / copy-out, accounting, port and set death, notifications, the kqueue seam.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <mach/notify.h>

#include <algorithm>
#include <cstring>

#include "internal.hpp"

namespace machport_emu::detail {

port_ref new_port_locked() { return std::make_shared<port>(); }

// ---- accounting ---------------------------------------------------------------------------

kright make_send_locked(const port_ref& p) {
  ++p->mscount;
  ++p->srights;
  return kright{p, MACH_MSG_TYPE_PORT_SEND, false};
}

kright make_send_once_locked(const port_ref& p) {
  ++p->sorights;
  return kright{p, MACH_MSG_TYPE_PORT_SEND_ONCE, false};
}

void release_send_locked(port* p) {
  if (p->srights > 0) --p->srights;
  // No-senders fires only on a live port; a dead port's request was already destroyed.
  if (p->srights == 0 && p->active && p->nsrequest.p) {
    kright notify = std::move(p->nsrequest);
    p->nsrequest = kright{};
    send_no_senders_locked(std::move(notify), p->mscount);
  }
}

void release_send_once_locked(port* p) {
  if (p->sorights > 0) --p->sorights;
}

void destroy_kright_locked(kright& r) {
  port_ref p = std::move(r.p);
  const mach_msg_type_name_t t = r.type;
  r = kright{};
  if (!p) return;
  switch (t) {
    case MACH_MSG_TYPE_PORT_SEND:
      release_send_locked(p.get());
      break;
    case MACH_MSG_TYPE_PORT_SEND_ONCE:
      send_once_notification_locked(kright{p, MACH_MSG_TYPE_PORT_SEND_ONCE, false});
      break;
    case MACH_MSG_TYPE_PORT_RECEIVE:
      destroy_receive_locked(p);
      break;
    default:
      break;
  }
}

// ---- notifications ------------------------------------------------------------------------

namespace {
const std::uint8_t ndr_bytes[8] = {0, 0, 0, 0, 1, 0, 0, 0};

kmsg_ptr notification_base(kright&& notify, mach_msg_id_t id) {
  auto m = std::make_unique<kmsg>();
  m->bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_PORT_SEND_ONCE, 0, 0, 0);
  m->dest = std::move(notify);
  m->id = id;
  m->user_size = sizeof(mach_msg_header_t);
  m->sender_security = KERNEL_SECURITY_TOKEN;
  m->sender_audit = KERNEL_AUDIT_TOKEN;
  m->from_kernel = true;
  return m;
}

void add_ndr_u32(kmsg& m, std::uint32_t v) {
  m.body.resize(12);
  std::memcpy(m.body.data(), ndr_bytes, 8);
  std::memcpy(m.body.data() + 8, &v, 4);
  m.user_size = sizeof(mach_msg_header_t) + 12;
}
}  // namespace

void send_notification_locked(kright&& notify, mach_msg_id_t id, mach_port_name_t not_port) {
  if (!notify.p) return;
  auto m = notification_base(std::move(notify), id);
  add_ndr_u32(*m, not_port);
  kernel_send_locked(std::move(m));
}

void send_no_senders_locked(kright&& notify, mach_port_mscount_t mscount) {
  if (!notify.p) return;
  auto m = notification_base(std::move(notify), MACH_NOTIFY_NO_SENDERS);
  add_ndr_u32(*m, mscount);
  kernel_send_locked(std::move(m));
}

void send_once_notification_locked(kright&& so) {
  if (!so.p) return;
  if (!so.p->active) {  // nobody can receive it: just drop the right
    release_send_once_locked(so.p.get());
    return;
  }
  kernel_send_locked(notification_base(std::move(so), MACH_NOTIFY_SEND_ONCE));
}

void send_port_destroyed_locked(kright&& notify, kright&& receive) {
  auto m = notification_base(std::move(notify), MACH_NOTIFY_PORT_DESTROYED);
  m->bits |= MACH_MSGH_BITS_COMPLEX;
  kdesc d;
  d.type = MACH_MSG_PORT_DESCRIPTOR;
  d.disposition = MACH_MSG_TYPE_PORT_RECEIVE;
  d.right = std::move(receive);
  m->descriptors.push_back(std::move(d));
  m->user_size = sizeof(mach_msg_header_t) + sizeof(mach_msg_body_t) +
                 sizeof(mach_msg_port_descriptor_t);
  kernel_send_locked(std::move(m));
}

void port_deleted_notify_locked(kright&& notify, mach_port_name_t name) {
  send_notification_locked(std::move(notify), MACH_NOTIFY_PORT_DELETED, name);
}

// The request registered on (s, name), removed from its port. The notify right is returned
// in *out_notify (for a port-deleted notification) or destroyed when out_notify is null.
void cancel_request_locked(space* s, mach_port_name_t name, entry& e, kright* out_notify) {
  if (!e.has_request) return;
  e.has_request = false;
  if (!e.p) return;
  auto& reqs = e.p->dnrequests;
  for (auto it = reqs.begin(); it != reqs.end(); ++it) {
    if (it->requester == s && it->name == name) {
      kright n = std::move(it->notify);
      reqs.erase(it);
      if (out_notify) *out_notify = std::move(n);
      else destroy_kright_locked(n);
      return;
    }
  }
}

port_ref take_last_send_right_locked(space* s, mach_port_name_t name, entry& e, kright* deleted) {
  port_ref p = e.p;
  if (e.type & MACH_PORT_TYPE_RECEIVE) {
    e.type &= ~MACH_PORT_TYPE_SEND;
    e.urefs = 0;
  } else {
    cancel_request_locked(s, name, e, deleted);
    free_name_locked(s, name);
  }
  return p;
}

// ---- kqueue seam --------------------------------------------------------------------------

namespace {
void vanish_knotes_locked(ipc_object* o) {
  while (!o->knotes.empty()) {
    knote* kn = o->knotes.back();
    knote_vanished_locked(kn);
    auto it = std::find(o->knotes.begin(), o->knotes.end(), kn);
    if (it != o->knotes.end()) o->knotes.erase(it);
  }
}
}  // namespace

int kq_lookup_locked(std::uint32_t owner, mach_port_name_t name, ipc_object** obj) {
  space* s = space_by_id_locked(owner);
  if (!s || !MACH_PORT_VALID(name)) return ENOENT;
  if (is_reserved_name(name)) return ENOTSUP;
  entry* e = lookup_entry_locked(s, name);
  if (!e) return ENOENT;
  if (check_dead_locked(s, name, *e)) return ENOENT;
  if (e->type & MACH_PORT_TYPE_RECEIVE) {
    *obj = e->p.get();
    return 0;
  }
  if (e->type & MACH_PORT_TYPE_PORT_SET) {
    *obj = e->set.get();
    return 0;
  }
  return ENOTSUP;
}

void kq_attach_locked(ipc_object* obj, knote* kn) { obj->knotes.push_back(kn); }

void kq_detach_locked(ipc_object* obj, knote* kn) {
  auto it = std::find(obj->knotes.begin(), obj->knotes.end(), kn);
  if (it != obj->knotes.end()) obj->knotes.erase(it);
}

void notify_enqueued_locked(port* p, bool was_empty) {
  auto copy = p->knotes;
  for (knote* kn : copy) knote_queue_changed_locked(kn, was_empty);
  for (pset* ps : p->sets) {
    auto sc = ps->knotes;
    for (knote* kn : sc) knote_queue_changed_locked(kn, was_empty);
    ps->receivers.notify_all();
  }
}

void notify_dequeued_locked(port* p) {
  auto copy = p->knotes;
  for (knote* kn : copy) knote_queue_changed_locked(kn, false);
  for (pset* ps : p->sets) {
    auto sc = ps->knotes;
    for (knote* kn : sc) knote_queue_changed_locked(kn, false);
  }
}

// ---- sets -----------------------------------------------------------------------------------

void add_to_set_locked(port* p, pset* ps) {
  p->sets.push_back(ps);
  ps->members.push_back(p);
  if (!p->messages.empty()) ps->preposts.emplace(p->nonempty_stamp, p);
  auto sc = ps->knotes;
  for (knote* kn : sc) knote_queue_changed_locked(kn, !p->messages.empty());
  if (!p->messages.empty()) ps->receivers.notify_all();
}

void remove_from_set_locked(port* p, pset* ps) {
  p->sets.erase(std::remove(p->sets.begin(), p->sets.end(), ps), p->sets.end());
  ps->members.erase(std::remove(ps->members.begin(), ps->members.end(), p), ps->members.end());
  if (!p->messages.empty()) ps->preposts.erase(p->nonempty_stamp);
  auto sc = ps->knotes;
  for (knote* kn : sc) knote_queue_changed_locked(kn, false);
}

void destroy_pset_by_name_locked(space* s, mach_port_name_t name) {
  entry* e = lookup_entry_locked(s, name);
  if (!e || !e->set) return;
  pset_ref ps = e->set;
  free_name_locked(s, name);
  ps->active = false;
  auto members = ps->members;
  for (port* p : members) {
    p->sets.erase(std::remove(p->sets.begin(), p->sets.end(), ps.get()), p->sets.end());
  }
  ps->members.clear();
  ps->preposts.clear();
  ipc_object_changed_locked(ps.get());
  vanish_knotes_locked(ps.get());
}

// ---- receive rights ---------------------------------------------------------------------

void detach_receive_locked(port* p) {
  p->receiver = nullptr;
  p->receiver_name = MACH_PORT_NULL;
  auto sets = p->sets;
  for (pset* ps : sets) remove_from_set_locked(p, ps);
  p->mscount = 0;
  p->seqno = 0;
  p->context = 0;
  p->guarded = false;
  p->strict_guard = false;
  ipc_object_changed_locked(p);  // blocked receivers: MACH_RCV_PORT_CHANGED
  vanish_knotes_locked(p);
}

void destroy_receive_locked(const port_ref& pr) {
  port* p = pr.get();
  if (!p->active) return;
  if (p->receiver) detach_receive_locked(p);
  if (p->pdrequest.p) {
    kright notify = std::move(p->pdrequest);
    p->pdrequest = kright{};
    if (notify.p.get() != p) {
      // §3.4: the port survives; its receive right travels in the notification.
      send_port_destroyed_locked(std::move(notify), kright{pr, MACH_MSG_TYPE_PORT_RECEIVE, false});
      return;
    }
    // Notify port == the port itself: the message would hold its own receive right forever
    // (XNU's circularity check); the port dies instead and the request is destroyed.
    release_send_once_locked(p);
  }
  p->active = false;
  vanish_knotes_locked(p);
  // Same order as ipc_port_destroy: queued messages die (with every right they carry), then
  // the armed no-senders request is destroyed, not fired (a send-once notification), then
  // every dead-name / send-possible request gets MACH_NOTIFY_DEAD_NAME. The requester's entry
  // keeps has_request, which becomes the +1 uref at lazy conversion.
  mqueue_port_dead_locked(p);  // wakes senders/receivers, destroys every queued message
  if (p->nsrequest.p) {
    kright n = std::move(p->nsrequest);
    p->nsrequest = kright{};
    destroy_kright_locked(n);
  }
  auto reqs = std::move(p->dnrequests);
  p->dnrequests.clear();
  for (auto& r : reqs) send_notification_locked(std::move(r.notify), MACH_NOTIFY_DEAD_NAME, r.name);
}

void destroy_receive_by_name_locked(space* s, mach_port_name_t name) {
  entry* e = lookup_entry_locked(s, name);
  if (!e || !(e->type & MACH_PORT_TYPE_RECEIVE)) return;
  port_ref p = e->p;
  kright deleted;
  if (e->type & MACH_PORT_TYPE_SEND) {
    e->type &= ~MACH_PORT_TYPE_RECEIVE;
    if (!p->pdrequest.p) {
      // The port will die: the name becomes a dead name now (+1 for the request, whose
      // dead-name notification the port's death sends).
      s->port_names.erase(p.get());
      e->type = MACH_PORT_TYPE_DEAD_NAME;
      if (e->has_request && e->urefs < 0xFFFF) ++e->urefs;
      e->has_request = false;
      e->p.reset();
    }
  } else {
    cancel_request_locked(s, name, *e, &deleted);
    free_name_locked(s, name);
  }
  destroy_receive_locked(p);
  if (deleted.p) port_deleted_notify_locked(std::move(deleted), name);
}

// ---- lazy dead names ----------------------------------------------------------------------

bool check_dead_locked(space* s, mach_port_name_t name, entry& e) {
  if (e.type & MACH_PORT_TYPE_DEAD_NAME) return true;
  if (!(e.type & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE)) || !e.p || e.p->active)
    return false;
  (void)name;
  mach_port_urefs_t u = (e.type & MACH_PORT_TYPE_SEND) ? e.urefs : 1;
  if (e.type & MACH_PORT_TYPE_SEND) {
    auto r = s->port_names.find(e.p.get());
    if (r != s->port_names.end() && r->second == name) s->port_names.erase(r);
    release_send_locked(e.p.get());
  } else {
    release_send_once_locked(e.p.get());
  }
  if (e.has_request && u < 0xFFFF) ++u;
  e.has_request = false;
  e.type = MACH_PORT_TYPE_DEAD_NAME;
  e.urefs = u;
  e.p.reset();
  return true;
}

// ---- copy-in --------------------------------------------------------------------------------

namespace {

// Removes a dead name's uref for a MOVE of it.
void consume_dead_uref(space* s, mach_port_name_t name, entry& e) {
  if (e.urefs == 1) free_name_locked(s, name);
  else if (e.urefs < 0xFFFF) --e.urefs;
}

// A dead name copied in where one may travel (it arrives as MACH_PORT_DEAD): a COPY_SEND
// leaves its urefs, a move takes one.
kern_return_t copyin_dead_name(space* s, mach_port_name_t name, entry& e, mach_msg_type_name_t type,
                               bool move, bool deadok, bool dry, kright* out) {
  if (!deadok) return KERN_INVALID_RIGHT;
  if (!dry) {
    if (move) consume_dead_uref(s, name, e);
    *out = kright{nullptr, type, true};
  }
  return KERN_SUCCESS;
}

kern_return_t copyin_impl(space* s, mach_port_name_t name, mach_msg_type_name_t disp, kright* out,
                          copyin_reason why, const guard_check* guard, bool dry) {
  if (is_reserved_name(name)) return KERN_INVALID_RIGHT;  // kernel objects are not emulated
  entry* ep = lookup_entry_locked(s, name);
  if (!ep) return KERN_INVALID_NAME;
  entry& e = *ep;
  // ipc_object_copyin (body, reply, and the mach_port_* calls) accepts dead names; only the
  // destination of a message must be live.
  const bool deadok = why != copyin_reason::dest;
  switch (disp) {
    case MACH_MSG_TYPE_MAKE_SEND:
      if (!(e.type & MACH_PORT_TYPE_RECEIVE)) return KERN_INVALID_RIGHT;
      if (!dry) *out = make_send_locked(e.p);
      return KERN_SUCCESS;
    case MACH_MSG_TYPE_MAKE_SEND_ONCE:
      if (!(e.type & MACH_PORT_TYPE_RECEIVE)) return KERN_INVALID_RIGHT;
      if (!dry) *out = make_send_once_locked(e.p);
      return KERN_SUCCESS;
    case MACH_MSG_TYPE_MOVE_RECEIVE: {
      if (!(e.type & MACH_PORT_TYPE_RECEIVE)) return KERN_INVALID_RIGHT;
      port_ref p = e.p;
      if (p->immovable_receive) return KERN_INVALID_CAPABILITY;
      if (guard) {
        const bool ok = ((guard->flags & MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND) && !p->guarded &&
                         guard->context == 0) ||
                        (p->guarded && p->context == guard->context);
        if (!ok) return KERN_INVALID_ARGUMENT;
      }
      if (dry) return KERN_SUCCESS;
      kright deleted;
      if (e.type & MACH_PORT_TYPE_SEND) {
        e.type &= ~MACH_PORT_TYPE_RECEIVE;  // keeps a plain SEND (and the reverse mapping)
      } else {
        cancel_request_locked(s, name, e, &deleted);
        free_name_locked(s, name);
      }
      detach_receive_locked(p.get());
      *out = kright{p, MACH_MSG_TYPE_PORT_RECEIVE, false};
      if (deleted.p) port_deleted_notify_locked(std::move(deleted), name);
      return KERN_SUCCESS;
    }
    case MACH_MSG_TYPE_COPY_SEND: {
      if (!(e.type & (MACH_PORT_TYPE_DEAD_NAME | MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE)))
        return KERN_INVALID_RIGHT;
      if (check_dead_locked(s, name, e))
        return copyin_dead_name(s, name, e, MACH_MSG_TYPE_PORT_SEND, false, deadok, dry, out);
      if (!(e.type & MACH_PORT_TYPE_SEND)) return KERN_INVALID_RIGHT;
      if (!dry) {
        ++e.p->srights;
        *out = kright{e.p, MACH_MSG_TYPE_PORT_SEND, false};
      }
      return KERN_SUCCESS;
    }
    case MACH_MSG_TYPE_MOVE_SEND: {
      if (!(e.type & (MACH_PORT_TYPE_DEAD_NAME | MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE)))
        return KERN_INVALID_RIGHT;
      if (check_dead_locked(s, name, e))
        return copyin_dead_name(s, name, e, MACH_MSG_TYPE_PORT_SEND, true, deadok, dry, out);
      if (!(e.type & MACH_PORT_TYPE_SEND)) return KERN_INVALID_RIGHT;
      if (dry) return KERN_SUCCESS;
      kright deleted;
      if (e.urefs == 1) {
        *out = kright{take_last_send_right_locked(s, name, e, &deleted), MACH_MSG_TYPE_PORT_SEND,
                      false};
      } else {
        ++e.p->srights;  // the entry keeps its right; the message gets another
        if (e.urefs < 0xFFFF) --e.urefs;
        *out = kright{e.p, MACH_MSG_TYPE_PORT_SEND, false};
      }
      if (deleted.p) port_deleted_notify_locked(std::move(deleted), name);
      return KERN_SUCCESS;
    }
    case MACH_MSG_TYPE_MOVE_SEND_ONCE: {
      if (!(e.type & (MACH_PORT_TYPE_DEAD_NAME | MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE)))
        return KERN_INVALID_RIGHT;
      // XNU lets an untouched send-once right to a dead port (no request) be a destination;
      // the message is then silently destroyed.
      const bool dest_quirk = why == copyin_reason::dest && (e.type & MACH_PORT_TYPE_SEND_ONCE) &&
                              e.p && !e.p->active && !e.has_request;
      if (!dest_quirk && check_dead_locked(s, name, e))
        return copyin_dead_name(s, name, e, MACH_MSG_TYPE_PORT_SEND_ONCE, true, deadok, dry, out);
      if (!(e.type & MACH_PORT_TYPE_SEND_ONCE)) return KERN_INVALID_RIGHT;
      if (dry) return KERN_SUCCESS;
      port_ref p = e.p;
      kright deleted;
      cancel_request_locked(s, name, e, &deleted);
      free_name_locked(s, name);
      *out = kright{p, MACH_MSG_TYPE_PORT_SEND_ONCE, false};
      if (deleted.p) port_deleted_notify_locked(std::move(deleted), name);
      return KERN_SUCCESS;
    }
    default:
      return KERN_INVALID_RIGHT;
  }
}

}  // namespace

kern_return_t copyin_right_locked(space* s, mach_port_name_t name, mach_msg_type_name_t disposition,
                                  kright& out, copyin_reason why, const guard_check* guard) {
  out = kright{};
  return copyin_impl(s, name, disposition, &out, why, guard, false);
}

kern_return_t copyin_check_locked(space* s, mach_port_name_t name, mach_msg_type_name_t disposition,
                                  copyin_reason why) {
  return copyin_impl(s, name, disposition, nullptr, why, nullptr, true);
}

// ---- copy-out -------------------------------------------------------------------------------

mach_port_name_t copyout_right_locked(space* s, kright&& r, kern_return_t* err) {
  if (err) *err = KERN_SUCCESS;
  kright right = std::move(r);
  r = kright{};
  if (!right.p) return right.dead_name ? MACH_PORT_DEAD : MACH_PORT_NULL;
  port_ref p = right.p;
  if (!s || !s->active) {
    destroy_kright_locked(right);
    if (err) *err = KERN_NO_SPACE;
    return MACH_PORT_NULL;
  }
  if (!p->active && right.type != MACH_MSG_TYPE_PORT_RECEIVE) {
    if (right.type == MACH_MSG_TYPE_PORT_SEND) release_send_locked(p.get());
    else release_send_once_locked(p.get());
    return MACH_PORT_DEAD;
  }
  mach_port_name_t name = MACH_PORT_NULL;
  switch (right.type) {
    case MACH_MSG_TYPE_PORT_SEND_ONCE: {
      if (alloc_name_locked(s, &name) != KERN_SUCCESS) break;
      entry& e = new_entry_locked(s, name);
      e.type = MACH_PORT_TYPE_SEND_ONCE;
      e.urefs = 1;
      e.p = p;
      return name;
    }
    case MACH_MSG_TYPE_PORT_SEND: {
      name = find_port_name_locked(s, p.get());
      if (name != MACH_PORT_NULL) {
        entry& e = s->entries.at(name);
        if (e.type & MACH_PORT_TYPE_SEND) {
          release_send_locked(p.get());  // merged: the entry already holds a send right
          if (e.urefs < 0xFFFF) ++e.urefs;
        } else {
          e.type |= MACH_PORT_TYPE_SEND;
          e.urefs = 1;
        }
        return name;
      }
      if (alloc_name_locked(s, &name) != KERN_SUCCESS) break;
      entry& e = new_entry_locked(s, name);
      e.type = MACH_PORT_TYPE_SEND;
      e.urefs = 1;
      e.p = p;
      s->port_names[p.get()] = name;
      return name;
    }
    case MACH_MSG_TYPE_PORT_RECEIVE: {
      name = find_port_name_locked(s, p.get());
      if (name != MACH_PORT_NULL) {
        s->entries.at(name).type |= MACH_PORT_TYPE_RECEIVE;
      } else {
        if (alloc_name_locked(s, &name) != KERN_SUCCESS) break;
        entry& e = new_entry_locked(s, name);
        e.type = MACH_PORT_TYPE_RECEIVE;
        e.p = p;
        s->port_names[p.get()] = name;
      }
      p->receiver = s;
      p->receiver_name = name;
      return name;
    }
    default:
      break;
  }
  destroy_kright_locked(right);
  if (err) *err = KERN_NO_SPACE;
  return MACH_PORT_NULL;
}

// Copies a right out under a chosen name (insert_right general path). On failure the right
// is destroyed, with every side effect.
kern_return_t copyout_right_name_locked(space* s, kright&& r, mach_port_name_t name) {
  kright right = std::move(r);
  r = kright{};
  port_ref p = right.p;
  kern_return_t kr = KERN_SUCCESS;
  if (!p || (!p->active && right.type != MACH_MSG_TYPE_PORT_RECEIVE)) {
    kr = KERN_INVALID_CAPABILITY;
  } else if (right.type != MACH_MSG_TYPE_PORT_SEND_ONCE) {
    mach_port_name_t existing = find_port_name_locked(s, p.get());
    if (existing != MACH_PORT_NULL && existing != name) {
      kr = KERN_RIGHT_EXISTS;
    } else if (existing == name) {
      entry& e = s->entries.at(name);
      if (right.type == MACH_MSG_TYPE_PORT_SEND) {
        if (e.type & MACH_PORT_TYPE_SEND) {
          release_send_locked(p.get());
          if (e.urefs < 0xFFFF) ++e.urefs;
        } else {
          e.type |= MACH_PORT_TYPE_SEND;
          e.urefs = 1;
        }
      } else {
        e.type |= MACH_PORT_TYPE_RECEIVE;
        p->receiver = s;
        p->receiver_name = name;
      }
      return KERN_SUCCESS;
    }
  }
  if (kr == KERN_SUCCESS) {
    if (lookup_entry_locked(s, name) || is_reserved_name(name)) kr = KERN_NAME_EXISTS;
    else kr = claim_name_locked(s, name);
  }
  if (kr != KERN_SUCCESS) {
    destroy_kright_locked(right);
    return kr;
  }
  entry& e = new_entry_locked(s, name);
  e.p = p;
  switch (right.type) {
    case MACH_MSG_TYPE_PORT_SEND_ONCE:
      e.type = MACH_PORT_TYPE_SEND_ONCE;
      e.urefs = 1;
      break;
    case MACH_MSG_TYPE_PORT_SEND:
      e.type = MACH_PORT_TYPE_SEND;
      e.urefs = 1;
      s->port_names[p.get()] = name;
      break;
    default:
      e.type = MACH_PORT_TYPE_RECEIVE;
      s->port_names[p.get()] = name;
      p->receiver = s;
      p->receiver_name = name;
      break;
  }
  return KERN_SUCCESS;
}

void guard_received_port_locked(port* p, std::uint64_t context, bool immovable) {
  p->guarded = true;
  p->strict_guard = false;
  p->context = context;
  if (immovable) p->immovable_receive = true;
}

// ---- send-possible ------------------------------------------------------------------------

void fire_send_possible_locked(port* p) {
  auto& reqs = p->dnrequests;
  for (auto it = reqs.begin(); it != reqs.end();) {
    if (it->send_possible && it->armed) {
      kright n = std::move(it->notify);
      mach_port_name_t name = it->name;
      space* req = it->requester;
      it = reqs.erase(it);
      if (entry* e = lookup_entry_locked(req, name)) e->has_request = false;
      send_notification_locked(std::move(n), MACH_NOTIFY_SEND_POSSIBLE, name);
    } else {
      ++it;
    }
  }
}

// ---- task exit ----------------------------------------------------------------------------

void terminate_space_locked(space* s) {
  // ipc_space_terminate: receive rights first (fewer notifications into this space), then
  // everything else, each in table (name) order, as on process exit.
  s->active = false;  // nothing may be copied out into the space from now on
  const std::vector<mach_port_name_t> names = sorted_names_locked(s);
  std::vector<mach_port_name_t> receives;
  for (mach_port_name_t n : names)
    if (s->entries.at(n).type & MACH_PORT_TYPE_RECEIVE) receives.push_back(n);
  for (mach_port_name_t n : receives)
    if (lookup_entry_locked(s, n)) destroy_name_locked(s, n, false);
  for (mach_port_name_t n : names)
    if (lookup_entry_locked(s, n)) destroy_name_locked(s, n, false);
  // Nothing is copied out into an inactive space, so no name can have appeared meanwhile.
  while (!s->entries.empty()) destroy_name_locked(s, s->entries.begin()->first, false);
}

}  // namespace machport_emu::detail
