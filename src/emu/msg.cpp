// mach_msg in the emulated kernel: send (user-buffer validation, right and memory copy-in,
// enqueue with queue limits, pseudo-receive), receive (ports and port sets, hand-off to blocked
// receivers, copy-out, trailers), kernel-generated messages, mach_port_peek and the kqueue
// receive hooks. Behaviour follows docs/xnu-ipc-semantics.md §4/§5 and, where that is
// silent, XNU's ipc_kmsg.c / ipc_mqueue.c / mach_msg.c.
//
// Everything runs under kernel_mutex(); a thread only releases it while blocked on a condition
// variable (full queue, empty queue).
//
// Not emulated: vouchers (any voucher name with a non-zero disposition is
// MACH_SEND_INVALID_VOUCHER), importance / QoS bits, signals (no *_INTERRUPTED), kobject
// destinations, mach_msg2 vectors and aux data, 32-bit layouts. "Bad user memory" means an
// unmapped range, not an unreadable one (see user_range_mapped).
#include <mach/mach.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <mutex>

#include "ipc.hpp"
#include <machport_emu/task.hpp>

namespace machport_emu::detail {

// A thread blocked in a receive. A sender that finds one hands its message over directly (the
// message never occupies a queue slot), as ipc_mqueue_post does.
struct rcv_waiter {
  ipc_object* obj = nullptr;
  std::uint64_t generation = 0;  // obj->generation when it started waiting
  mach_msg_option_t option = 0;
  mach_msg_size_t rcv_size = 0;
  bool done = false;
  mach_msg_return_t state = MACH_RCV_IN_PROGRESS;  // SUCCESS or TOO_LARGE once done
  kmsg_ptr msg;                                    // null for TOO_LARGE with MACH_RCV_LARGE
  port_ref from;
  std::uint32_t seqno = 0;
  mach_port_context_t context = 0;
  mach_msg_size_t msize = 0;  // user size of the message, no trailer
  mach_port_name_t receiver_name = MACH_PORT_NULL;
};

// A thread blocked sending to a full queue; a dequeue grants it the freed slot.
struct send_waiter {
  bool granted = false;
};

namespace {

constexpr mach_msg_size_t header_size = 24;
constexpr mach_msg_size_t base_size = 28;
constexpr mach_msg_size_t max_send_size = 50331580;  // IPC_KMSG_MAX_BODY_SPACE (48 MiB - 68)
constexpr std::uint32_t max_ool_ports = 16383;       // IPC_KMSG_MAX_OOL_PORT_COUNT
constexpr std::uint32_t qlimit_kernel = MACH_PORT_QLIMIT_KERNEL;
constexpr mach_msg_size_t max_trailer = 68;

std::uint64_t g_nonempty_stamp = 0;

template <class T>
T rd(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
void wr(std::uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

std::size_t page_size() {
  static const std::size_t ps = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return ps;
}

mach_msg_size_t trailer_size_for(mach_msg_option_t option) {
  switch ((static_cast<std::uint32_t>(option) >> 24) & 0xf) {
    case MACH_RCV_TRAILER_NULL: return 8;
    case MACH_RCV_TRAILER_SEQNO: return 12;
    case MACH_RCV_TRAILER_SENDER: return 20;
    case MACH_RCV_TRAILER_AUDIT: return 52;
    case MACH_RCV_TRAILER_CTX: return 60;
    default: return 68;  // AV, LABELS and every other value: the whole max trailer
  }
}

mach_msg_size_t user_desc_size(mach_msg_descriptor_type_t t) {
  return t == MACH_MSG_PORT_DESCRIPTOR ? 12 : 16;
}

bool is_complex(const kmsg& m) { return (m.bits & MACH_MSGH_BITS_COMPLEX) != 0; }

// The size the receiver sees (64-bit user layout), without trailer.
mach_msg_size_t kmsg_user_size(const kmsg& m) {
  std::uint64_t s = header_size;
  if (is_complex(m)) {
    s += 4;
    for (const auto& d : m.descriptors) s += user_desc_size(d.type);
  }
  s += m.body.size();
  return static_cast<mach_msg_size_t>(s);
}

// The in-kernel msgh_size XNU reports through mach_port_peek: 64-bit kernel header (+8) and
// 16-byte kernel descriptors (+4 per port descriptor).
mach_msg_size_t kmsg_kernel_size(const kmsg& m) {
  mach_msg_size_t s = kmsg_user_size(m) + 8;
  if (is_complex(m))
    for (const auto& d : m.descriptors)
      if (d.type == MACH_MSG_PORT_DESCRIPTOR) s += 4;
  return s;
}

mach_msg_type_name_t copyin_type(mach_msg_type_name_t disp) {
  switch (disp) {
    case MACH_MSG_TYPE_MOVE_RECEIVE: return MACH_MSG_TYPE_PORT_RECEIVE;
    case MACH_MSG_TYPE_MOVE_SEND:
    case MACH_MSG_TYPE_COPY_SEND:
    case MACH_MSG_TYPE_MAKE_SEND: return MACH_MSG_TYPE_PORT_SEND;
    case MACH_MSG_TYPE_MOVE_SEND_ONCE:
    case MACH_MSG_TYPE_MAKE_SEND_ONCE: return MACH_MSG_TYPE_PORT_SEND_ONCE;
    default: return 0;
  }
}

bool any_send_disposition(mach_msg_type_name_t d) {
  return d >= MACH_MSG_TYPE_MOVE_SEND && d <= MACH_MSG_TYPE_MAKE_SEND_ONCE;
}

bool any_right_disposition(mach_msg_type_name_t d) {
  return d >= MACH_MSG_TYPE_MOVE_RECEIVE && d <= MACH_MSG_TYPE_MAKE_SEND_ONCE;
}

// User memory. A copy-in or copy-out that would fault in XNU fails the call
// (MACH_SEND_INVALID_DATA / _INVALID_MEMORY, MACH_RCV_INVALID_DATA); here "would fault" means
// "not mapped", which only mincore() can tell, at the price of a system call. So each thread
// keeps a few page ranges mincore() found mapped, valid while no mapping has been removed
// since: vm.cpp counts every munmap() / mremap() made through libc's symbols (it interposes
// them, which covers the program's own calls and the emulator's vm_deallocate and OOL
// deallocation) in unmap_generation(). A range is remembered with the generation read before
// mincore(), so an unmap racing the check makes it stale at once.
// LIMIT: unmaps inside libc itself (free() of a large block, heap trimming, a thread's stack at
// exit), shmdt() and raw system calls are not seen: a buffer used after it was freed that way
// may then crash here instead of failing with *_INVALID_DATA. Using freed memory is undefined
// on macOS as well.
struct mapped_range {
  std::uintptr_t start = 0, end = 0;  // whole pages
  std::uint64_t generation = 0;
};
constexpr std::size_t mapped_cache_size = 8;
thread_local std::array<mapped_range, mapped_cache_size> tls_mapped;
thread_local std::size_t tls_mapped_next = 0;

bool pages_mapped(std::uintptr_t start, std::uintptr_t end) {
  const std::size_t pages = (end - start) / page_size();
  unsigned char small[256];
  std::vector<unsigned char> big;
  unsigned char* vec = small;
  if (pages > sizeof small) {
    big.resize(pages);
    vec = big.data();
  }
  return ::mincore(reinterpret_cast<void*>(start), end - start, vec) == 0;
}

// True if [addr, addr+len) is mapped in this process.
bool user_range_mapped(const void* addr, std::size_t len) {
  if (len == 0) return true;
  if (addr == nullptr) return false;
  const std::size_t ps = page_size();
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  const std::uintptr_t start = a & ~(ps - 1);
  const std::uintptr_t end = (a + len + ps - 1) & ~(ps - 1);
  if (end <= start) return false;
  const std::uint64_t generation = unmap_generation();
  for (const mapped_range& r : tls_mapped)
    if (r.generation == generation && r.start <= start && end <= r.end) return true;
  if (!pages_mapped(start, end)) return false;
  tls_mapped[tls_mapped_next] = mapped_range{start, end, generation};
  tls_mapped_next = (tls_mapped_next + 1) % mapped_cache_size;
  return true;
}

// vm_deallocate semantics for the sender's range: whole pages covering it.
void deallocate_user_range(std::uint64_t addr, std::uint64_t len) {
  if (len == 0 || addr == 0) return;
  const std::uint64_t ps = page_size();
  std::uint64_t start = addr & ~(ps - 1);
  std::uint64_t end = (addr + len + ps - 1) & ~(ps - 1);
  vm_free(reinterpret_cast<void*>(start), static_cast<std::size_t>(end - start));
}

// ---- parsed user message ------------------------------------------------------------------

struct user_desc {
  mach_msg_descriptor_type_t type = 0;
  mach_port_name_t name = MACH_PORT_NULL;  // port / guarded
  mach_msg_type_name_t disposition = 0;    // port / OOL ports / guarded
  std::uint64_t address = 0;               // OOL / OOL ports
  std::uint32_t size = 0;                  // OOL size / OOL ports count
  bool deallocate = false;
  mach_msg_copy_options_t copy = 0;
  std::uint16_t flags = 0;     // guarded
  std::uint64_t context = 0;   // guarded
};

struct user_msg {
  mach_msg_bits_t bits = 0;  // masked with MACH_MSGH_BITS_USER
  mach_port_name_t remote = 0, local = 0, voucher = 0;
  mach_msg_id_t id = 0;
  std::vector<user_desc> descs;
  const std::uint8_t* body = nullptr;
  std::size_t body_size = 0;
};

user_desc decode_desc(const std::uint8_t* p) {
  user_desc d;
  d.type = p[11];
  switch (d.type) {
    case MACH_MSG_PORT_DESCRIPTOR:
      d.name = rd<std::uint32_t>(p);
      d.disposition = p[10];
      break;
    case MACH_MSG_OOL_DESCRIPTOR:
    case MACH_MSG_OOL_VOLATILE_DESCRIPTOR:
      d.address = rd<std::uint64_t>(p);
      d.deallocate = p[8] != 0;
      d.copy = p[9];
      d.size = rd<std::uint32_t>(p + 12);
      break;
    case MACH_MSG_OOL_PORTS_DESCRIPTOR:
      d.address = rd<std::uint64_t>(p);
      d.deallocate = p[8] != 0;
      d.copy = p[9];
      d.disposition = p[10];
      d.size = rd<std::uint32_t>(p + 12);
      break;
    case MACH_MSG_GUARDED_PORT_DESCRIPTOR:
      d.context = rd<std::uint64_t>(p);
      d.flags = rd<std::uint16_t>(p + 8);
      d.disposition = p[10];
      d.name = rd<std::uint32_t>(p + 12);
      break;
  }
  return d;
}

// §4.2 steps 1-5: sizes, descriptor walk and per-descriptor checks, in XNU's order. Touches no
// kernel state.
mach_msg_return_t parse_user_message(const std::uint8_t* buf, mach_msg_size_t send_size,
                                     user_msg& out) {
  if (send_size < header_size || (send_size & 3)) return MACH_SEND_MSG_TOO_SMALL;
  if (send_size > max_send_size) return MACH_SEND_TOO_LARGE;
  if (!user_range_mapped(buf, send_size)) return MACH_SEND_INVALID_DATA;

  const mach_msg_bits_t raw_bits = rd<std::uint32_t>(buf);
  out.bits = raw_bits & MACH_MSGH_BITS_USER;  // other bits are dropped silently
  out.remote = rd<std::uint32_t>(buf + 8);
  out.local = rd<std::uint32_t>(buf + 12);
  out.voucher = rd<std::uint32_t>(buf + 16);
  out.id = rd<std::int32_t>(buf + 20);

  std::uint32_t dsc_count = 0;
  mach_msg_size_t pos = header_size;
  if (raw_bits & MACH_MSGH_BITS_COMPLEX) {
    if (send_size < base_size) return MACH_SEND_MSG_TOO_SMALL;
    dsc_count = rd<std::uint32_t>(buf + header_size);
    if (dsc_count > (send_size - base_size) / 12) return MACH_SEND_MSG_TOO_SMALL;
    pos = base_size;
  }

  // Measure (ipc_kmsg_measure_descriptors_from_user): sizes and types, left to right.
  std::vector<mach_msg_size_t> offsets;
  offsets.reserve(dsc_count);
  for (std::uint32_t i = 0; i < dsc_count; i++) {
    if (static_cast<std::uint64_t>(pos) + 12 > send_size) return MACH_SEND_MSG_TOO_SMALL;
    const mach_msg_descriptor_type_t t = buf[pos + 11];
    if (t > MACH_MSG_GUARDED_PORT_DESCRIPTOR) return MACH_SEND_INVALID_TYPE;
    offsets.push_back(pos);
    pos += user_desc_size(t);
    if (pos > send_size) return MACH_SEND_MSG_TOO_SMALL;
  }

  out.descs.resize(dsc_count);
  for (std::uint32_t i = 0; i < dsc_count; i++) out.descs[i] = decode_desc(buf + offsets[i]);

  // Inflate (ipc_kmsg_inflate_descriptors): right to left for up to 64 descriptors, else left
  // to right; the first failure in that order wins.
  std::uint32_t port_count = 0;
  bool overflow = false;
  auto inflate = [&](const user_desc& d) -> mach_msg_return_t {
    switch (d.type) {
      case MACH_MSG_PORT_DESCRIPTOR:
        if (__builtin_add_overflow(port_count, 1u, &port_count)) overflow = true;
        return overflow ? MACH_SEND_TOO_LARGE : MACH_MSG_SUCCESS;
      case MACH_MSG_OOL_DESCRIPTOR:
      case MACH_MSG_OOL_VOLATILE_DESCRIPTOR:
        if (d.copy != MACH_MSG_PHYSICAL_COPY && d.copy != MACH_MSG_VIRTUAL_COPY)
          return MACH_SEND_INVALID_TYPE;
        return MACH_MSG_SUCCESS;
      case MACH_MSG_OOL_PORTS_DESCRIPTOR:
        if (__builtin_add_overflow(port_count, d.size, &port_count)) return MACH_SEND_TOO_LARGE;
        return MACH_MSG_SUCCESS;
      case MACH_MSG_GUARDED_PORT_DESCRIPTOR:
        if (__builtin_add_overflow(port_count, 1u, &port_count)) return MACH_SEND_TOO_LARGE;
        if (d.disposition != MACH_MSG_TYPE_MOVE_RECEIVE) return MACH_SEND_INVALID_TYPE;
        if (d.flags == 0 || (d.flags & ~MACH_MSG_GUARD_FLAGS_MASK) ||
            ((d.flags & MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND) && d.context != 0))
          return MACH_SEND_INVALID_TYPE;
        return MACH_MSG_SUCCESS;
    }
    return MACH_SEND_INVALID_TYPE;
  };
  if (dsc_count <= 64) {
    for (std::uint32_t i = dsc_count; i-- > 0;)
      if (mach_msg_return_t mr = inflate(out.descs[i]); mr != MACH_MSG_SUCCESS) return mr;
  } else {
    for (std::uint32_t i = 0; i < dsc_count; i++)
      if (mach_msg_return_t mr = inflate(out.descs[i]); mr != MACH_MSG_SUCCESS) return mr;
  }
  if (port_count > max_ool_ports) return MACH_SEND_TOO_LARGE;

  out.body = buf + pos;
  out.body_size = send_size - pos;
  return MACH_MSG_SUCCESS;
}

// §4.2 step 6: header dispositions and names, no lookups.
mach_msg_return_t validate_header(const user_msg& um, mach_port_name_t* voucher_name) {
  const mach_msg_type_name_t reply_type = MACH_MSGH_BITS_LOCAL(um.bits);
  const mach_msg_type_name_t voucher_type = MACH_MSGH_BITS_VOUCHER(um.bits);
  const mach_msg_type_name_t dest_type = MACH_MSGH_BITS_REMOTE(um.bits);
  if (reply_type == 0) {
    if (um.local != MACH_PORT_NULL) return MACH_SEND_INVALID_HEADER;
  } else if (!any_send_disposition(reply_type)) {
    return MACH_SEND_INVALID_HEADER;
  }
  *voucher_name = MACH_PORT_NULL;
  switch (voucher_type) {
    case 0: break;
    case MACH_MSG_TYPE_MOVE_SEND:
    case MACH_MSG_TYPE_COPY_SEND:
      *voucher_name = um.voucher;
      if (um.voucher == MACH_PORT_DEAD) return MACH_SEND_INVALID_VOUCHER;
      break;
    default: return MACH_SEND_INVALID_VOUCHER;
  }
  if (!any_send_disposition(dest_type)) return MACH_SEND_INVALID_HEADER;
  if (!MACH_PORT_VALID(um.remote)) return MACH_SEND_INVALID_DEST;
  if (um.remote == *voucher_name && dest_type != MACH_MSG_TYPE_MOVE_SEND &&
      dest_type != MACH_MSG_TYPE_COPY_SEND)
    return MACH_SEND_INVALID_DEST;
  if (um.remote == um.local && (dest_type == MACH_MSG_TYPE_MOVE_SEND_ONCE ||
                                reply_type == MACH_MSG_TYPE_MOVE_SEND_ONCE))
    return MACH_SEND_INVALID_DEST;
  if (MACH_PORT_VALID(um.local) && um.local == *voucher_name) return MACH_SEND_INVALID_REPLY;
  return MACH_MSG_SUCCESS;
}

void destroy_right(kright& r) {
  if (r.p) destroy_kright_locked(r);
  r = kright{};
}

void destroy_desc(kdesc& d) {
  destroy_right(d.right);
  for (auto& r : d.rights) destroy_right(r);
  d.rights.clear();
  d.ool.clear();
  d.ool.shrink_to_fit();
}

// Consumes the destination right of a received message without notification beyond what XNU's
// ipc_object_copyout_dest does (a send right may fire no-senders; a send-once right is used).
void consume_dest_locked(kright& r) {
  if (r.p && r.p->active) {
    if (r.type == MACH_MSG_TYPE_PORT_SEND)
      release_send_locked(r.p.get());
    else if (r.type == MACH_MSG_TYPE_PORT_SEND_ONCE)
      release_send_once_locked(r.p.get());
  }
  r = kright{};
}

// ---- header rights (§4.2 step 7-8) ----------------------------------------------------------

mach_msg_return_t copyin_header_locked(space* sp, const user_msg& um, mach_port_name_t voucher_name,
                                       kmsg& m) {
  const mach_msg_type_name_t dest_type = MACH_MSGH_BITS_REMOTE(um.bits);
  const mach_msg_type_name_t reply_type = MACH_MSGH_BITS_LOCAL(um.bits);
  const mach_port_name_t dest_name = um.remote, reply_name = um.local;

  // The emulator has no voucher objects: any voucher name is "not a voucher".
  if (voucher_name != MACH_PORT_NULL) return MACH_SEND_INVALID_VOUCHER;

  entry* de = lookup_entry_locked(sp, dest_name);
  if (!de || !(de->type & MACH_PORT_TYPE_PORT_RIGHTS)) return MACH_SEND_INVALID_DEST;
  if (MACH_PORT_VALID(reply_name)) {
    entry* re = reply_name == dest_name ? de : lookup_entry_locked(sp, reply_name);
    if (!re || !(re->type & MACH_PORT_TYPE_PORT_RIGHTS)) return MACH_SEND_INVALID_REPLY;
    if (copyin_check_locked(sp, reply_name, reply_type, copyin_reason::reply) != KERN_SUCCESS)
      return MACH_SEND_INVALID_REPLY;
    de = lookup_entry_locked(sp, dest_name);  // the check may have converted entries
    if (!de) return MACH_SEND_INVALID_DEST;
  }

  auto is_make = [](mach_msg_type_name_t t) {
    return t == MACH_MSG_TYPE_MAKE_SEND || t == MACH_MSG_TYPE_MAKE_SEND_ONCE;
  };
  const bool joint = dest_name == reply_name && !is_make(dest_type) && !is_make(reply_type);
  bool reply_done = false;
  if (joint) {
    // Same name for dest and reply with MOVE_SEND / COPY_SEND on both sides: atomic in XNU
    // (one entry, "moves" = number of MOVE_SENDs); here checked first, then two copy-ins.
    const int moves = (dest_type == MACH_MSG_TYPE_MOVE_SEND) + (reply_type == MACH_MSG_TYPE_MOVE_SEND);
    if (moves == 2 && (de->type & MACH_PORT_TYPE_SEND) && de->p && de->p->active && de->urefs < 2)
      return MACH_SEND_INVALID_DEST;
    // A COPY first so a MOVE of the last uref comes second.
    const mach_msg_type_name_t first = moves == 1 ? MACH_MSG_TYPE_COPY_SEND : dest_type;
    const mach_msg_type_name_t second = moves == 1 ? MACH_MSG_TYPE_MOVE_SEND : reply_type;
    if (copyin_right_locked(sp, dest_name, first, m.dest, copyin_reason::dest) != KERN_SUCCESS)
      return MACH_SEND_INVALID_DEST;
    if (copyin_right_locked(sp, dest_name, second, m.reply, copyin_reason::dest) != KERN_SUCCESS) {
      destroy_right(m.dest);
      return MACH_SEND_INVALID_DEST;
    }
    reply_done = true;
  } else {
    if (copyin_right_locked(sp, dest_name, dest_type, m.dest, copyin_reason::dest) != KERN_SUCCESS)
      return MACH_SEND_INVALID_DEST;
  }
  if (!reply_done) {
    if (MACH_PORT_VALID(reply_name)) {
      if (copyin_right_locked(sp, reply_name, reply_type, m.reply, copyin_reason::reply) !=
          KERN_SUCCESS) {
        // Cannot happen after copyin_check_locked; keep the space consistent anyway.
        destroy_right(m.dest);
        return MACH_SEND_INVALID_REPLY;
      }
    } else {
      m.reply = kright{};
      m.reply.dead_name = reply_name == MACH_PORT_DEAD;
    }
  }
  m.bits = MACH_MSGH_BITS_SET(copyin_type(dest_type), copyin_type(reply_type),
                              MACH_MSGH_BITS_VOUCHER(um.bits), um.bits);
  return MACH_MSG_SUCCESS;
}

// Does queueing receive right `moved` in a message to `dest` create a cycle of ports in
// transit (ipc_port_check_circularity)? Also records where `moved` is in transit to.
bool check_circularity(const port_ref& moved, const port_ref& dest) {
  if (!moved || !dest) return false;
  if (moved == dest) return true;
  port_ref base = dest;
  for (int depth = 0; depth < 100000 && base; depth++) {
    if (base->receiver != nullptr || !base->active) break;
    port_ref next = base->transit_dest.lock();
    if (!next) break;
    if (next == moved) return true;
    base = next;
  }
  moved->transit_dest = dest;
  return false;
}

// One descriptor (§4.3). On failure the descriptor holds nothing.
mach_msg_return_t copyin_desc_locked(space* sp, const user_desc& ud, kdesc& kd, kmsg& m) {
  kd.type = ud.type;
  switch (ud.type) {
    case MACH_MSG_PORT_DESCRIPTOR: {
      kd.disposition = copyin_type(ud.disposition);
      if (MACH_PORT_VALID(ud.name)) {
        if (!any_right_disposition(ud.disposition)) return MACH_SEND_INVALID_RIGHT;
        if (copyin_right_locked(sp, ud.name, ud.disposition, kd.right, copyin_reason::body) !=
            KERN_SUCCESS)
          return MACH_SEND_INVALID_RIGHT;
        if (kd.disposition == MACH_MSG_TYPE_PORT_RECEIVE && check_circularity(kd.right.p, m.dest.p))
          m.circular = true;
      } else {
        kd.right.dead_name = ud.name == MACH_PORT_DEAD;
      }
      return MACH_MSG_SUCCESS;
    }
    case MACH_MSG_OOL_DESCRIPTOR:
    case MACH_MSG_OOL_VOLATILE_DESCRIPTOR: {
      kd.copy = ud.copy;
      kd.deallocate = ud.deallocate;
      kd.size = ud.size;
      if (ud.size == 0) return MACH_MSG_SUCCESS;
      const void* src = reinterpret_cast<const void*>(static_cast<std::uintptr_t>(ud.address));
      if (!user_range_mapped(src, ud.size)) return MACH_SEND_INVALID_MEMORY;
      kd.ool.assign(static_cast<const std::uint8_t*>(src),
                    static_cast<const std::uint8_t*>(src) + ud.size);
      // vm_map_copyin(src_destroy = deallocate): the sender loses the range once copied.
      if (ud.deallocate) deallocate_user_range(ud.address, ud.size);
      return MACH_MSG_SUCCESS;
    }
    case MACH_MSG_OOL_PORTS_DESCRIPTOR: {
      kd.disposition = copyin_type(ud.disposition);
      kd.copy = ud.copy;
      kd.deallocate = ud.deallocate;
      kd.size = ud.size;
      const std::size_t bytes = static_cast<std::size_t>(ud.size) * sizeof(mach_port_name_t);
      std::vector<mach_port_name_t> names(ud.size);
      if (ud.size) {
        const void* src = reinterpret_cast<const void*>(static_cast<std::uintptr_t>(ud.address));
        if (!user_range_mapped(src, bytes)) return MACH_SEND_INVALID_MEMORY;
        std::memcpy(names.data(), src, bytes);
      }
      if (ud.deallocate) deallocate_user_range(ud.address, bytes);
      kd.rights.resize(ud.size);
      for (std::uint32_t i = 0; i < ud.size; i++) {
        const mach_port_name_t n = names[i];
        if (!MACH_PORT_VALID(n)) {
          kd.rights[i].dead_name = n == MACH_PORT_DEAD;
          continue;
        }
        if (!any_right_disposition(ud.disposition) ||
            copyin_right_locked(sp, n, ud.disposition, kd.rights[i], copyin_reason::body) !=
                KERN_SUCCESS) {
          for (std::uint32_t j = 0; j < i; j++) destroy_right(kd.rights[j]);
          kd.rights.clear();
          return MACH_SEND_INVALID_RIGHT;
        }
        if (kd.disposition == MACH_MSG_TYPE_PORT_RECEIVE &&
            check_circularity(kd.rights[i].p, m.dest.p))
          m.circular = true;
      }
      return MACH_MSG_SUCCESS;
    }
    case MACH_MSG_GUARDED_PORT_DESCRIPTOR: {
      kd.disposition = copyin_type(ud.disposition);
      kd.guard_context = ud.context;
      kd.guard_flags = ud.flags;
      if (MACH_PORT_VALID(ud.name)) {
        guard_check g{ud.context, ud.flags};
        if (copyin_right_locked(sp, ud.name, ud.disposition, kd.right, copyin_reason::body, &g) !=
            KERN_SUCCESS)
          return MACH_SEND_INVALID_RIGHT;
        // XNU marks the in-kernel descriptor; copy-out clears it again when it guards the port.
        kd.guard_flags |= MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND;
        if (check_circularity(kd.right.p, m.dest.p)) m.circular = true;
      } else {
        kd.right.dead_name = ud.name == MACH_PORT_DEAD;
      }
      return MACH_MSG_SUCCESS;
    }
  }
  return MACH_SEND_INVALID_TYPE;
}

// ---- queues -------------------------------------------------------------------------------

// A slot was freed: hand it to the oldest blocked sender (ipc_mqueue_release_msgcount).
void release_msgcount_locked(port* p) {
  if (p->msgcount > 0) p->msgcount--;
  if (p->msgcount < p->qlimit && !p->full_waiters.empty()) {
    send_waiter* w = p->full_waiters.front();
    p->full_waiters.pop_front();
    w->granted = true;
    p->msgcount++;
    p->senders.notify_all();
  }
}

bool too_large(mach_msg_size_t msize, mach_msg_option_t option, mach_msg_size_t rcv_size) {
  return static_cast<std::uint64_t>(msize) + trailer_size_for(option) > rcv_size;
}

// Gives m to the first blocked receiver on `obj` that can take it. Receivers whose buffer is too
// small and who asked for MACH_RCV_LARGE are told the size and skipped (the message stays).
bool hand_to_waiter_locked(ipc_object* obj, port* p, kmsg_ptr& m) {
  for (auto it = obj->rcv_waiters.begin(); it != obj->rcv_waiters.end();) {
    rcv_waiter* w = *it;
    if (w->generation != obj->generation || !obj->active) {
      // The receive right moved or the object died; that waiter returns MACH_RCV_PORT_CHANGED.
      it = obj->rcv_waiters.erase(it);
      continue;
    }
    const mach_msg_size_t msize = kmsg_user_size(*m);
    const bool large = too_large(msize, w->option, w->rcv_size);
    w->msize = msize;
    w->receiver_name = p->receiver_name;
    if (large && (w->option & MACH_RCV_LARGE)) {
      w->state = MACH_RCV_TOO_LARGE;
      w->done = true;
      it = obj->rcv_waiters.erase(it);
      obj->receivers.notify_all();
      continue;
    }
    w->state = large ? MACH_RCV_TOO_LARGE : MACH_MSG_SUCCESS;
    w->seqno = p->seqno++;
    w->context = p->context;
    w->from = m->dest.p;
    w->msg = std::move(m);
    w->done = true;
    obj->rcv_waiters.erase(it);
    obj->receivers.notify_all();
    return true;
  }
  return false;
}

// ipc_mqueue_post: the slot is already reserved (msgcount counted it).
void post_locked(kmsg_ptr m) {
  port_ref keep = m->dest.p;
  port* p = keep.get();
  if (!p->active) {
    destroy_kmsg_locked(std::move(m));
    return;
  }
  bool handed = hand_to_waiter_locked(p, p, m);
  if (!handed) {
    const std::vector<pset*> sets = p->sets;
    for (pset* s : sets) {
      if (hand_to_waiter_locked(s, p, m)) {
        handed = true;
        break;
      }
    }
  }
  if (handed) {
    release_msgcount_locked(p);
    fire_send_possible_locked(p);
    return;
  }
  const bool was_empty = p->messages.empty();
  p->messages.push_back(std::move(m));
  if (was_empty) {
    p->nonempty_stamp = ++g_nonempty_stamp;
    set_prepost_locked(p);
  }
  notify_enqueued_locked(p, was_empty);
}

// The port holding the message a receive on obj would take (sets: the member first on the
// prepost list, i.e. non-empty for longest or not received from through a set for longest).
port* first_port_locked(ipc_object* obj) {
  if (obj->object_kind == ipc_object::kind::port) {
    port* p = static_cast<port*>(obj);
    return p->messages.empty() ? nullptr : p;
  }
  const auto& preposts = static_cast<pset*>(obj)->preposts;
  return preposts.empty() ? nullptr : preposts.begin()->second;
}

// ipc_mqueue_select_on_thread: takes (or, for MACH_RCV_LARGE, only measures) the first message.
void select_locked(port* p, bool via_set, mach_msg_option_t option, mach_msg_size_t rcv_size,
                   rcv_waiter& r) {
  const kmsg& head = *p->messages.front();
  r.msize = kmsg_user_size(head);
  r.receiver_name = p->receiver_name;
  r.done = true;
  if (via_set) {  // to the back of its sets' prepost lists
    set_unprepost_locked(p);
    p->nonempty_stamp = ++g_nonempty_stamp;
    set_prepost_locked(p);
  }
  const bool large = too_large(r.msize, option, rcv_size);
  r.state = large ? MACH_RCV_TOO_LARGE : MACH_MSG_SUCCESS;
  if (large && (option & MACH_RCV_LARGE)) return;
  r.msg = std::move(p->messages.front());
  p->messages.pop_front();
  if (p->messages.empty()) set_unprepost_locked(p);
  r.from = r.msg->dest.p;
  r.seqno = p->seqno++;
  r.context = p->context;
  release_msgcount_locked(p);
  notify_dequeued_locked(p);
  fire_send_possible_locked(p);
}

// ipc_mqueue_send_locked. Returns MACH_MSG_SUCCESS when the message was queued, handed over or
// destroyed; MACH_SEND_TIMED_OUT / MACH_SEND_NO_BUFFER leave it in `m` for pseudo-receive.
mach_msg_return_t send_kmsg_locked(std::unique_lock<std::mutex>& lk, kmsg_ptr& m,
                                   mach_msg_option_t option, mach_msg_timeout_t timeout) {
  if (m->circular) {
    destroy_kmsg_locked(std::move(m));
    return MACH_MSG_SUCCESS;
  }
  port_ref p = m->dest.p;
  if (!p || !p->active) {
    destroy_kmsg_locked(std::move(m));
    return MACH_MSG_SUCCESS;
  }
  const bool send_once = MACH_MSGH_BITS_REMOTE(m->bits) == MACH_MSG_TYPE_PORT_SEND_ONCE;
  const bool full = p->msgcount >= p->qlimit;
  const bool full_kernel = p->msgcount >= qlimit_kernel;
  if (!full || (!full_kernel && (send_once || m->from_kernel))) {
    p->msgcount++;
    post_locked(std::move(m));
    return MACH_MSG_SUCCESS;
  }
  if ((option & MACH_SEND_TIMEOUT) && timeout == 0) return MACH_SEND_TIMED_OUT;
  if (full_kernel) return MACH_SEND_NO_BUFFER;

  send_waiter w;
  p->full_waiters.push_back(&w);
  blocked_changed().notify_all();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
  bool timed_out = false;
  while (!w.granted && p->active) {
    bool expired = false;
    if (option & MACH_SEND_TIMEOUT)
      expired = p->senders.wait_until(lk, deadline) == std::cv_status::timeout;
    else
      p->senders.wait(lk);
    if (!w.granted && p->active && p->msgcount < p->qlimit) {
      // Room appeared without a hand-over (qlimit raised through the port API): take it.
      auto it = std::find(p->full_waiters.begin(), p->full_waiters.end(), &w);
      if (it != p->full_waiters.end()) p->full_waiters.erase(it);
      w.granted = true;
      p->msgcount++;
    }
    if (expired && !w.granted && p->active) {
      timed_out = true;
      break;
    }
  }
  if (w.granted) {
    post_locked(std::move(m));  // destroys it if the port died meanwhile
    return MACH_MSG_SUCCESS;
  }
  auto it = std::find(p->full_waiters.begin(), p->full_waiters.end(), &w);
  if (it != p->full_waiters.end()) p->full_waiters.erase(it);
  if (!p->active || !timed_out) {
    destroy_kmsg_locked(std::move(m));
    return MACH_MSG_SUCCESS;
  }
  return MACH_SEND_TIMED_OUT;
}

// ---- copy-out -----------------------------------------------------------------------------

mach_port_name_t copyout_port_locked(space* sp, kright& r, mach_msg_return_t& mr) {
  if (!r.p) {
    const mach_port_name_t n = r.dead_name ? MACH_PORT_DEAD : MACH_PORT_NULL;
    r = kright{};
    return n;
  }
  kern_return_t err = KERN_SUCCESS;
  const mach_port_name_t n = copyout_right_locked(sp, std::move(r), &err);
  r = kright{};
  if (err != KERN_SUCCESS) mr |= MACH_MSG_IPC_SPACE;
  return n;
}

void write_header(std::uint8_t* out, mach_msg_bits_t bits, mach_msg_size_t size,
                  mach_port_name_t remote, mach_port_name_t local, mach_port_name_t voucher,
                  mach_msg_id_t id) {
  wr<std::uint32_t>(out, bits);
  wr<std::uint32_t>(out + 4, size);
  wr<std::uint32_t>(out + 8, remote);
  wr<std::uint32_t>(out + 12, local);
  wr<std::uint32_t>(out + 16, voucher);
  wr<std::int32_t>(out + 20, id);
}

// Descriptors and body into `out` (the user image, starting at the header). `buf_addr` is the
// address of the user buffer (guard context for received guarded ports).
mach_msg_return_t copyout_body_locked(space* sp, kmsg& m, std::uint8_t* out, mach_msg_option_t option,
                                      std::uint64_t buf_addr, bool pseudo) {
  mach_msg_return_t mr = MACH_MSG_SUCCESS;
  std::size_t pos = header_size;
  if (is_complex(m)) {
    wr<std::uint32_t>(out + pos, static_cast<std::uint32_t>(m.descriptors.size()));
    pos += 4;
    for (kdesc& d : m.descriptors) {
      std::uint8_t* o = out + pos;
      std::memset(o, 0, user_desc_size(d.type));
      switch (d.type) {
        case MACH_MSG_PORT_DESCRIPTOR: {
          const mach_port_name_t n = copyout_port_locked(sp, d.right, mr);
          wr<std::uint32_t>(o, n);
          o[10] = static_cast<std::uint8_t>(d.disposition);
          break;
        }
        case MACH_MSG_OOL_DESCRIPTOR:
        case MACH_MSG_OOL_VOLATILE_DESCRIPTOR: {
          std::uint64_t addr = 0;
          mach_msg_size_t size = d.size;
          if (size != 0) {
            void* mem = vm_alloc_locked(size);
            if (mem) {
              std::memcpy(mem, d.ool.data(), std::min<std::size_t>(d.ool.size(), size));
              addr = reinterpret_cast<std::uintptr_t>(mem);
            } else {
              mr |= MACH_MSG_VM_SPACE;
              size = 0;
            }
          }
          d.ool.clear();
          d.ool.shrink_to_fit();
          wr<std::uint64_t>(o, addr);
          o[8] = d.copy == MACH_MSG_VIRTUAL_COPY;
          o[9] = static_cast<std::uint8_t>(d.copy);
          wr<std::uint32_t>(o + 12, size);
          break;
        }
        case MACH_MSG_OOL_PORTS_DESCRIPTOR: {
          const std::size_t count = d.rights.size();
          std::uint64_t addr = 0;
          if (count != 0) {
            void* mem = vm_alloc_locked(count * sizeof(mach_port_name_t));
            if (mem) {
              auto* names = static_cast<mach_port_name_t*>(mem);
              for (std::size_t i = 0; i < count; i++) names[i] = copyout_port_locked(sp, d.rights[i], mr);
              addr = reinterpret_cast<std::uintptr_t>(mem);
            } else {
              for (auto& r : d.rights) destroy_right(r);
              mr |= MACH_MSG_VM_SPACE;
            }
          }
          d.rights.clear();
          wr<std::uint64_t>(o, addr);
          o[8] = 1;  // a fresh array the receiver owns
          o[9] = MACH_MSG_VIRTUAL_COPY;
          o[10] = static_cast<std::uint8_t>(d.disposition);
          wr<std::uint32_t>(o + 12, d.size);
          break;
        }
        case MACH_MSG_GUARDED_PORT_DESCRIPTOR: {
          std::uint64_t ctx = d.guard_context;
          std::uint16_t flags = d.guard_flags;
          mach_port_name_t n = MACH_PORT_NULL;
          if (!pseudo && !(option & MACH_RCV_GUARDED_DESC)) {
            // A receiver that did not opt in loses the receive right.
            destroy_right(d.right);
            ctx = 0;
          } else {
            port_ref keep = d.right.p;
            n = copyout_port_locked(sp, d.right, mr);
            if (keep && MACH_PORT_VALID(n) && (flags & MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE)) {
              // Pseudo-receive re-guards but does not make the right immovable.
              guard_received_port_locked(keep.get(), buf_addr, !pseudo);
              ctx = buf_addr;
              flags &= static_cast<std::uint16_t>(~MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND);
            }
          }
          wr<std::uint64_t>(o, ctx);
          wr<std::uint16_t>(o + 8, flags);
          o[10] = static_cast<std::uint8_t>(d.disposition);
          wr<std::uint32_t>(o + 12, n);
          break;
        }
      }
      o[11] = static_cast<std::uint8_t>(d.type);
      pos += user_desc_size(d.type);
    }
  }
  if (!m.body.empty()) std::memcpy(out + pos, m.body.data(), m.body.size());
  return mr;
}

void build_trailer(std::uint8_t* t, mach_msg_size_t tsize, std::uint32_t seqno,
                   const security_token_t& sec, const audit_token_t& aud, std::uint64_t context) {
  std::memset(t, 0, max_trailer);
  wr<std::uint32_t>(t, MACH_MSG_TRAILER_FORMAT_0);
  wr<std::uint32_t>(t + 4, tsize);
  wr<std::uint32_t>(t + 8, seqno);
  std::memcpy(t + 12, &sec, sizeof sec);
  std::memcpy(t + 20, &aud, sizeof aud);
  wr<std::uint64_t>(t + 52, context);
  // msgh_ad@60 and msgh_labels@64 stay 0.
}

const security_token_t kernel_security{{0, 1}};
const audit_token_t kernel_audit{{0, 0, 0, 0, 0, 0, 0, 0}};

// ipc_kmsg_put_to_user: the message, then as much of the requested trailer as fits. Only the
// bytes written are touched.
mach_msg_return_t put_to_user(std::uint8_t* buf, mach_msg_size_t rcv_size,
                              const std::vector<std::uint8_t>& image, const std::uint8_t* trailer,
                              mach_msg_size_t tsize, mach_msg_size_t* copied) {
  if (image.size() > rcv_size) return MACH_RCV_INVALID_DATA;
  const mach_msg_size_t room = rcv_size - static_cast<mach_msg_size_t>(image.size());
  const mach_msg_size_t tcopy = std::min(room, tsize);
  // One copy-out of message and trailer: it fails as a whole.
  if (!user_range_mapped(buf, image.size() + tcopy)) return MACH_RCV_INVALID_DATA;
  std::memcpy(buf, image.data(), image.size());
  if (tcopy) std::memcpy(buf + image.size(), trailer, tcopy);
  if (copied) *copied = static_cast<mach_msg_size_t>(image.size()) + tcopy;
  return MACH_MSG_SUCCESS;
}

struct deliver_out {
  mach_msg_size_t size = 0;  // bytes copied (message + trailer), or the needed size (LARGE)
  mach_port_name_t identity = MACH_PORT_NULL;
};

// mach_msg_receive_results for a selected / handed-over message.
mach_msg_return_t deliver_locked(space* sp, rcv_waiter& r, mach_msg_option_t option,
                                 std::uint8_t* buf, mach_msg_size_t rcv_size, bool kq,
                                 deliver_out* out) {
  const mach_msg_size_t tsize = trailer_size_for(option);
  if (r.state == MACH_RCV_TOO_LARGE && (option & MACH_RCV_LARGE) && !r.msg) {
    // The message stays queued; only its size (and the port) are reported.
    if (out) {
      out->size = r.msize;
      out->identity = r.receiver_name;
    }
    if (!kq && rcv_size >= 8) {
      if (!user_range_mapped(buf, rcv_size >= 16 ? 16 : 8)) return MACH_RCV_INVALID_DATA;
      if ((option & MACH_RCV_LARGE_IDENTITY) && rcv_size >= 16)
        wr<std::uint32_t>(buf + 12, r.receiver_name);
      if (rcv_size >= 8) wr<std::uint32_t>(buf + 4, r.msize);
    }
    return MACH_RCV_TOO_LARGE;
  }

  kmsg& m = *r.msg;
  port* from = r.from.get();
  const mach_msg_type_name_t dest_type = MACH_MSGH_BITS_REMOTE(m.bits);
  const mach_msg_type_name_t reply_type = MACH_MSGH_BITS_LOCAL(m.bits);
  mach_msg_type_name_t voucher_type = MACH_MSGH_BITS_VOUCHER(m.bits);
  std::uint8_t trailer[max_trailer];

  if (r.state == MACH_RCV_TOO_LARGE) {
    // ipc_kmsg_copyout_dest_to_user: keep only the destination, destroy the rest, deliver a
    // bare header with a kernel-signed trailer.
    mach_port_name_t dest_name = MACH_PORT_DEAD;
    if (from && from->active) dest_name = from->receiver == sp ? from->receiver_name : MACH_PORT_NULL;
    consume_dest_locked(m.dest);
    mach_port_name_t reply_name = m.reply.dead_name ? MACH_PORT_DEAD : MACH_PORT_NULL;
    destroy_right(m.reply);
    for (kdesc& d : m.descriptors) destroy_desc(d);
    std::vector<std::uint8_t> image(header_size);
    write_header(image.data(), MACH_MSGH_BITS_SET(reply_type, dest_type, voucher_type, m.bits),
                 header_size, reply_name, dest_name, m.voucher_raw, m.id);
    build_trailer(trailer, tsize, r.seqno, kernel_security, kernel_audit, 0);
    kmsg_ptr dead = std::move(r.msg);
    destroy_kmsg_locked(std::move(dead));
    mach_msg_size_t copied = 0;
    mach_msg_return_t mr = put_to_user(buf, rcv_size, image, trailer, tsize, &copied);
    if (out) out->size = copied;
    return mr == MACH_MSG_SUCCESS ? MACH_RCV_TOO_LARGE : mr;
  }

  const mach_msg_size_t msize = kmsg_user_size(m);
  if (buf == nullptr || msize > rcv_size || !user_range_mapped(buf, msize)) {
    destroy_kmsg_locked(std::move(r.msg));
    return MACH_RCV_INVALID_DATA;
  }
  std::vector<std::uint8_t> image(msize);
  mach_msg_return_t mr = MACH_MSG_SUCCESS;

  // Header (ipc_kmsg_copyout_header): reply right first, then the destination.
  mach_msg_return_t hmr = MACH_MSG_SUCCESS;
  const mach_port_name_t reply_name = copyout_port_locked(sp, m.reply, hmr);
  mach_port_name_t voucher_name;
  if (voucher_type != 0) {
    voucher_name = MACH_PORT_NULL;
    if (!(option & MACH_RCV_VOUCHER)) voucher_type = 0;
  } else {
    voucher_name = m.voucher_raw;
  }
  mach_port_name_t dest_name = MACH_PORT_DEAD;
  if (from && from->active) dest_name = from->receiver == sp ? from->receiver_name : MACH_PORT_NULL;
  consume_dest_locked(m.dest);
  write_header(image.data(),
               MACH_MSGH_BITS_SET(reply_type, dest_type, voucher_type, MACH_MSGH_BITS_OTHER(m.bits)),
               msize, reply_name, dest_name, voucher_name, m.id);

  mach_msg_return_t bmr = copyout_body_locked(sp, m, image.data(), option,
                                              reinterpret_cast<std::uintptr_t>(buf), false);
  if (bmr != MACH_MSG_SUCCESS) mr = MACH_RCV_BODY_ERROR | (bmr & MACH_MSG_MASK);
  (void)hmr;

  build_trailer(trailer, tsize, r.seqno, m.from_kernel ? kernel_security : m.sender_security,
                m.from_kernel ? kernel_audit : m.sender_audit, r.context);
  destroy_kmsg_locked(std::move(r.msg));  // now empty of rights and memory
  mach_msg_size_t copied = 0;
  mach_msg_return_t pmr = put_to_user(buf, rcv_size, image, trailer, tsize, &copied);
  if (out) out->size = copied;
  return pmr != MACH_MSG_SUCCESS ? pmr : mr;
}

// ipc_kmsg_copyout_pseudo + put_to_user into the sender's buffer: no trailer, header ports not
// swapped, post-copy-in dispositions.
mach_msg_return_t pseudo_receive_locked(space* sp, kmsg_ptr m, std::uint8_t* buf,
                                        mach_msg_size_t send_size) {
  mach_msg_return_t mr = MACH_MSG_SUCCESS;
  const mach_msg_size_t msize = kmsg_user_size(*m);
  std::vector<std::uint8_t> image(msize);
  const mach_port_name_t dest_name = copyout_port_locked(sp, m->dest, mr);
  const mach_port_name_t reply_name = copyout_port_locked(sp, m->reply, mr);
  write_header(image.data(), m->bits & MACH_MSGH_BITS_USER, msize, dest_name, reply_name,
               m->voucher_raw, m->id);
  mr |= copyout_body_locked(sp, *m, image.data(), 0, reinterpret_cast<std::uintptr_t>(buf), true);
  destroy_kmsg_locked(std::move(m));
  if (msize > send_size) return MACH_RCV_INVALID_DATA;
  std::memcpy(buf, image.data(), msize);
  return mr & MACH_MSG_MASK;
}

// ---- send and receive entry points -----------------------------------------------------

mach_msg_return_t do_send_locked(std::unique_lock<std::mutex>& lk, space* sp, std::uint8_t* buf,
                                 mach_msg_option_t option, mach_msg_size_t send_size,
                                 mach_msg_timeout_t timeout) {
  user_msg um;
  if (mach_msg_return_t mr = parse_user_message(buf, send_size, um); mr != MACH_MSG_SUCCESS)
    return mr;
  mach_port_name_t voucher_name = MACH_PORT_NULL;
  if (mach_msg_return_t mr = validate_header(um, &voucher_name); mr != MACH_MSG_SUCCESS) return mr;
  if (!sp || !sp->active) return MACH_SEND_INVALID_DEST;

  auto m = std::make_unique<kmsg>();
  m->id = um.id;
  m->voucher_raw = um.voucher;
  m->sender_security = sp->security;
  m->sender_audit = sp->audit;
  if (mach_msg_return_t mr = copyin_header_locked(sp, um, voucher_name, *m); mr != MACH_MSG_SUCCESS)
    return mr;

  // MACH_SEND_NOTIFY arms the sender's send-possible request on the destination name when the
  // queue is full (ipc_kmsg_copyin_header); it fires at the next dequeue.
  if ((option & MACH_SEND_NOTIFY) && MACH_MSGH_BITS_REMOTE(m->bits) != MACH_MSG_TYPE_PORT_SEND_ONCE &&
      m->dest.p && m->dest.p->active && m->dest.p->msgcount >= m->dest.p->qlimit) {
    for (auto& req : m->dest.p->dnrequests)
      if (req.requester == sp && req.name == um.remote && req.send_possible) req.armed = true;
  }

  if (um.bits & MACH_MSGH_BITS_COMPLEX) {
    m->descriptors.resize(um.descs.size());
    for (std::size_t i = 0; i < um.descs.size(); i++) {
      mach_msg_return_t mr = copyin_desc_locked(sp, um.descs[i], m->descriptors[i], *m);
      if (mr != MACH_MSG_SUCCESS) {
        // §4.4: header rights and earlier descriptors are destroyed; later ones untouched.
        destroy_desc(m->descriptors[i]);
        m->descriptors.resize(i);
        destroy_kmsg_locked(std::move(m));
        return mr;
      }
    }
  }
  m->body.assign(um.body, um.body + um.body_size);
  m->user_size = kmsg_user_size(*m);

  mach_msg_return_t mr = send_kmsg_locked(lk, m, option, timeout);
  if (mr != MACH_MSG_SUCCESS && m) {
    // MACH_SEND_TIMED_OUT / MACH_SEND_NO_BUFFER: the message comes back to the sender.
    mr |= pseudo_receive_locked(sp, std::move(m), buf, send_size);
  }
  return mr;
}

mach_msg_return_t receive_on_locked(std::unique_lock<std::mutex>* lk, space* sp, ipc_object* obj,
                                    mach_msg_option_t option, std::uint8_t* buf,
                                    mach_msg_size_t rcv_size, mach_msg_timeout_t timeout, bool kq,
                                    deliver_out* out) {
  rcv_waiter r;
  const bool is_set = obj->object_kind == ipc_object::kind::pset;
  if (port* p = first_port_locked(obj)) {
    select_locked(p, is_set, option, rcv_size, r);
    return deliver_locked(sp, r, option, buf, rcv_size, kq, out);
  }
  if (!obj->active) return MACH_RCV_PORT_CHANGED;
  if (!lk || ((option & MACH_RCV_TIMEOUT) && timeout == 0)) return MACH_RCV_TIMED_OUT;

  r.obj = obj;
  r.option = option;
  r.rcv_size = rcv_size;
  r.generation = obj->generation;
  obj->rcv_waiters.push_back(&r);
  blocked_changed().notify_all();
  const std::uint64_t gen = obj->generation;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
  bool timed_out = false;
  while (!r.done && obj->active && obj->generation == gen) {
    bool expired = false;
    if (option & MACH_RCV_TIMEOUT)
      expired = obj->receivers.wait_until(*lk, deadline) == std::cv_status::timeout;
    else
      obj->receivers.wait(*lk);
    if (r.done || !obj->active || obj->generation != gen) break;
    // A message can become available without a hand-over: a port with queued messages was
    // added to the set we wait on (ipc_mqueue_add_locked hands those to waiters too).
    if (port* p = first_port_locked(obj)) {
      auto it = std::find(obj->rcv_waiters.begin(), obj->rcv_waiters.end(), &r);
      if (it != obj->rcv_waiters.end()) obj->rcv_waiters.erase(it);
      select_locked(p, is_set, option, rcv_size, r);
      break;
    }
    if (expired) {
      timed_out = true;
      break;
    }
  }
  if (!r.done) {
    auto it = std::find(obj->rcv_waiters.begin(), obj->rcv_waiters.end(), &r);
    if (it != obj->rcv_waiters.end()) obj->rcv_waiters.erase(it);
    return timed_out ? MACH_RCV_TIMED_OUT : MACH_RCV_PORT_CHANGED;
  }
  return deliver_locked(sp, r, option, buf, rcv_size, kq, out);
}

mach_msg_return_t do_receive_locked(std::unique_lock<std::mutex>& lk, space* sp,
                                    mach_port_name_t rcv_name, mach_msg_option_t option,
                                    std::uint8_t* buf, mach_msg_size_t rcv_size,
                                    mach_msg_timeout_t timeout) {
  if (!sp || !sp->active || !MACH_PORT_VALID(rcv_name)) return MACH_RCV_INVALID_NAME;
  entry* e = lookup_entry_locked(sp, rcv_name);
  if (!e) return MACH_RCV_INVALID_NAME;
  // Hold the object for the whole receive: it may be destroyed while we wait.
  if (e->type & MACH_PORT_TYPE_RECEIVE) {
    port_ref p = e->p;
    if (!p) return MACH_RCV_INVALID_NAME;
    return receive_on_locked(&lk, sp, p.get(), option, buf, rcv_size, timeout, false, nullptr);
  }
  if (e->type & MACH_PORT_TYPE_PORT_SET) {
    pset_ref s = e->set;
    if (!s) return MACH_RCV_INVALID_NAME;
    return receive_on_locked(&lk, sp, s.get(), option, buf, rcv_size, timeout, false, nullptr);
  }
  return MACH_RCV_INVALID_NAME;
}

}  // namespace

// ---- services for the rest of the kernel ----------------------------------------------------

void destroy_kmsg_locked(kmsg_ptr m) {
  if (!m) return;
  // ipc_kmsg_clean: header rights first, then the body.
  destroy_right(m->dest);
  destroy_right(m->reply);
  for (kdesc& d : m->descriptors) destroy_desc(d);
}

void kernel_send_locked(kmsg_ptr m) {
  if (!m) return;
  m->from_kernel = true;
  m->user_size = kmsg_user_size(*m);
  port_ref p = m->dest.p;
  if (!p || !p->active) {
    destroy_kmsg_locked(std::move(m));
    return;
  }
  if (p->msgcount >= qlimit_kernel) {
    // Dropped. The destination (a notification's send-once right) is used up quietly: destroying
    // it would send another notification to the same full queue.
    consume_dest_locked(m->dest);
    destroy_kmsg_locked(std::move(m));
    return;
  }
  p->msgcount++;
  post_locked(std::move(m));
}

void mqueue_set_qlimit_locked(port* p, mach_port_msgcount_t qlimit) {
  if (qlimit > p->qlimit) {
    for (mach_port_msgcount_t i = 0, n = qlimit - p->qlimit; i < n && !p->full_waiters.empty(); i++) {
      send_waiter* w = p->full_waiters.front();
      p->full_waiters.pop_front();
      w->granted = true;
      p->msgcount++;  // the woken sender owns this slot
    }
    p->senders.notify_all();
  }
  p->qlimit = qlimit;
}

void ipc_object_changed_locked(ipc_object* obj) {
  obj->generation++;
  obj->receivers.notify_all();
}

void mqueue_port_dead_locked(port* p) {
  p->msgcount = 0;
  p->full_waiters.clear();  // their owners see !active and destroy their message
  p->senders.notify_all();
  ipc_object_changed_locked(p);
  if (!p->messages.empty()) set_unprepost_locked(p);
  std::deque<kmsg_ptr> msgs;
  msgs.swap(p->messages);
  while (!msgs.empty()) {
    kmsg_ptr m = std::move(msgs.front());
    msgs.pop_front();
    destroy_kmsg_locked(std::move(m));
  }
}

void set_prepost_locked(port* p) {
  for (pset* s : p->sets) s->preposts.emplace(p->nonempty_stamp, p);
}

void set_unprepost_locked(port* p) {
  for (pset* s : p->sets) s->preposts.erase(p->nonempty_stamp);
}

mach_port_msgcount_t mqueue_count_locked(const port* p) {
  return static_cast<mach_port_msgcount_t>(p->messages.size());
}

// ---- kqueue hooks -------------------------------------------------------------------------

mach_port_name_t kq_first_message_locked(std::uint32_t /*owner*/, ipc_object* obj) {
  port* p = first_port_locked(obj);
  return p ? p->receiver_name : MACH_PORT_NULL;
}

mach_msg_return_t kq_receive_locked(std::uint32_t owner, ipc_object* obj, mach_msg_option_t option,
                                    void* buf, mach_msg_size_t size, mach_msg_size_t* out_size,
                                    mach_port_name_t* identity) {
  space* sp = space_by_id_locked(owner);
  if (!sp) return MACH_RCV_PORT_CHANGED;
  deliver_out out;
  option |= MACH_RCV_MSG | MACH_RCV_TIMEOUT;
  mach_msg_return_t mr = receive_on_locked(nullptr, sp, obj, option, static_cast<std::uint8_t*>(buf),
                                           size, 0, true, &out);
  if (out_size) *out_size = out.size;
  if (identity && mr == MACH_RCV_TOO_LARGE && (option & MACH_RCV_LARGE)) *identity = out.identity;
  return mr;
}

std::condition_variable& blocked_changed() {
  static std::condition_variable cv;
  return cv;
}

}  // namespace machport_emu::detail

using namespace machport_emu::detail;

namespace machport_emu {

bool wait_until_blocked(task_id t, mach_port_name_t name, blocked_in in, std::size_t count) {
  std::unique_lock<std::mutex> lk(kernel_mutex());
  space* s = space_by_id_locked(t);
  entry* e = s ? lookup_entry_locked(s, name) : nullptr;
  if (!e) return false;
  // Hold the object: the count stays readable even if the name dies meanwhile.
  std::shared_ptr<ipc_object> obj;
  if (in == blocked_in::send && (e->type & (MACH_PORT_TYPE_SEND_RIGHTS | MACH_PORT_TYPE_RECEIVE)))
    obj = e->p;
  else if (in == blocked_in::receive && (e->type & MACH_PORT_TYPE_RECEIVE))
    obj = e->p;
  else if (in == blocked_in::receive && (e->type & MACH_PORT_TYPE_PORT_SET))
    obj = e->set;
  if (!obj) return false;
  blocked_changed().wait(lk, [&] {
    return (in == blocked_in::send ? static_cast<port*>(obj.get())->full_waiters.size()
                                   : obj->rcv_waiters.size()) >= count;
  });
  return true;
}

}  // namespace machport_emu

extern "C" {

mach_msg_return_t mach_msg_overwrite(mach_msg_header_t* msg, mach_msg_option_t option,
                                     mach_msg_size_t send_size, mach_msg_size_t rcv_size,
                                     mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
                                     mach_port_name_t /*notify: a QoS value on send*/,
                                     mach_msg_header_t* rcv_msg, mach_msg_size_t /*rcv_limit*/) {
  kernel_entry k(kcall::mach_msg);
  std::unique_lock<std::mutex>& lk = k.lock();
  space* const sp = k.caller();
  // MACH_SEND_ALWAYS from user space means MACH_SEND_FILTER_NONFATAL: never a qlimit exemption.
  option &= ~MACH_SEND_ALWAYS;
  if (option & MACH_SEND_MSG) {
    mach_msg_return_t mr = do_send_locked(lk, sp, reinterpret_cast<std::uint8_t*>(msg), option,
                                          send_size, timeout);
    if (mr != MACH_MSG_SUCCESS) return mr;
  }
  if (option & MACH_RCV_MSG) {
    mach_msg_header_t* rbuf = rcv_msg ? rcv_msg : msg;
    return do_receive_locked(lk, sp, rcv_name, option, reinterpret_cast<std::uint8_t*>(rbuf),
                             rcv_size, timeout);
  }
  return MACH_MSG_SUCCESS;
}

mach_msg_return_t mach_msg(mach_msg_header_t* msg, mach_msg_option_t option,
                           mach_msg_size_t send_size, mach_msg_size_t rcv_size,
                           mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
                           mach_port_name_t notify) {
  return mach_msg_overwrite(msg, option, send_size, rcv_size, rcv_name, timeout, notify, nullptr, 0);
}

kern_return_t mach_port_peek(ipc_space_t task, mach_port_name_t name,
                             mach_msg_trailer_type_t trailer_type, mach_port_seqno_t* seqnop,
                             mach_msg_size_t* msg_sizep, mach_msg_id_t* msg_idp,
                             mach_msg_trailer_info_t trailer_infop,
                             mach_msg_type_number_t* trailer_sizep) {
  const kernel_entry k(kcall::mach_port_peek);
  space* const sp = k.space_of(task);
  if (!sp) return KERN_INVALID_TASK;
  if (!MACH_PORT_VALID(name)) return KERN_INVALID_RIGHT;
  const mach_msg_size_t tsize = trailer_size_for(static_cast<mach_msg_option_t>(trailer_type));
  if (((trailer_type >> 24) & 0xf) > MACH_RCV_TRAILER_AUDIT || !trailer_sizep ||
      tsize > *trailer_sizep)
    return KERN_INVALID_VALUE;
  *trailer_sizep = tsize;
  entry* e = lookup_entry_locked(sp, name);
  if (!e) return KERN_INVALID_NAME;
  if (!(e->type & MACH_PORT_TYPE_RECEIVE) || !e->p) return KERN_INVALID_RIGHT;
  port* p = e->p.get();
  mach_port_seqno_t seqno = seqnop ? *seqnop : 0;
  std::size_t off = 0;
  if (seqno == 0) {
    seqno = p->seqno;
  } else if (seqno >= p->seqno && seqno - p->seqno < p->msgcount) {
    off = seqno - p->seqno;
  } else {
    return KERN_FAILURE;
  }
  if (off >= p->messages.size()) return KERN_FAILURE;
  const kmsg& m = *p->messages[off];
  if (seqnop) *seqnop = seqno;
  if (msg_sizep) *msg_sizep = kmsg_kernel_size(m);
  if (msg_idp) *msg_idp = m.id;
  if (trailer_infop) {
    // The stored trailer: minimum size field, the sender's tokens, this seqno.
    std::uint8_t t[max_trailer];
    build_trailer(t, MACH_MSG_TRAILER_MINIMUM_SIZE, seqno,
                  m.from_kernel ? kernel_security : m.sender_security,
                  m.from_kernel ? kernel_audit : m.sender_audit, 0);
    std::memcpy(trailer_infop, t, tsize);
  }
  return KERN_SUCCESS;
}

// libsyscall's mach_msg_destroy: releases what a received message carries, in the caller's
// space, through the ordinary port and vm calls.
void mach_msg_destroy(mach_msg_header_t* msg) {
  if (!msg) return;
  auto destroy_port = [](mach_port_name_t port, mach_msg_type_name_t type) {
    if (!MACH_PORT_VALID(port)) return;
    switch (type) {
      case MACH_MSG_TYPE_MOVE_SEND:
      case MACH_MSG_TYPE_MOVE_SEND_ONCE:
        (void)mach_port_deallocate(mach_task_self(), port);
        break;
      case MACH_MSG_TYPE_MOVE_RECEIVE:
        (void)mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1);
        break;
      case MACH_MSG_TYPE_MAKE_SEND:
        (void)mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND);
        (void)mach_port_deallocate(mach_task_self(), port);
        break;
      case MACH_MSG_TYPE_MAKE_SEND_ONCE: {
        mach_msg_type_name_t t = 0;
        mach_port_name_t so = MACH_PORT_NULL;
        if (mach_port_extract_right(mach_task_self(), port, MACH_MSG_TYPE_MAKE_SEND_ONCE, &so, &t) ==
            KERN_SUCCESS)
          (void)mach_port_deallocate(mach_task_self(), so);
        break;
      }
      default: break;
    }
  };
  auto* bytes = reinterpret_cast<std::uint8_t*>(msg);
  const mach_msg_bits_t bits = msg->msgh_bits;
  destroy_port(msg->msgh_remote_port, MACH_MSGH_BITS_REMOTE(bits));
  destroy_port(msg->msgh_voucher_port, MACH_MSGH_BITS_VOUCHER(bits));
  if (!(bits & MACH_MSGH_BITS_COMPLEX)) return;
  const std::uint32_t count = rd<std::uint32_t>(bytes + 24);
  std::size_t pos = 28;
  for (std::uint32_t i = 0; i < count; i++) {
    const std::uint8_t* d = bytes + pos;
    const mach_msg_descriptor_type_t type = d[11];
    switch (type) {
      case MACH_MSG_PORT_DESCRIPTOR:
        destroy_port(rd<std::uint32_t>(d), d[10]);
        break;
      case MACH_MSG_OOL_DESCRIPTOR: {
        const std::uint64_t addr = rd<std::uint64_t>(d);
        const std::uint32_t size = rd<std::uint32_t>(d + 12);
        if (d[8] && size != 0) (void)vm_deallocate(mach_task_self(), static_cast<vm_address_t>(addr), size);
        break;
      }
      case MACH_MSG_OOL_VOLATILE_DESCRIPTOR:
        break;
      case MACH_MSG_OOL_PORTS_DESCRIPTOR: {
        const std::uint64_t addr = rd<std::uint64_t>(d);
        const std::uint32_t cnt = rd<std::uint32_t>(d + 12);
        auto* names = reinterpret_cast<const mach_port_name_t*>(static_cast<std::uintptr_t>(addr));
        for (std::uint32_t j = 0; j < cnt && names; j++) destroy_port(names[j], d[10]);
        if (d[8] && cnt != 0)
          (void)vm_deallocate(mach_task_self(), static_cast<vm_address_t>(addr),
                              cnt * sizeof(mach_port_name_t));
        break;
      }
      case MACH_MSG_GUARDED_PORT_DESCRIPTOR: {
        const std::uint64_t ctx = rd<std::uint64_t>(d);
        const std::uint16_t flags = rd<std::uint16_t>(d + 8);
        const mach_port_name_t name = rd<std::uint32_t>(d + 12);
        if (!(flags & MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND))
          (void)mach_port_unguard(mach_task_self(), name, ctx);
        destroy_port(name, d[10]);
        break;
      }
      default:
        return;  // unknown layout: stop rather than misread
    }
    pos += type == MACH_MSG_PORT_DESCRIPTOR ? 12 : 16;
  }
}

}  // extern "C"
