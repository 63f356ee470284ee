// Leak checker for Mach port names: a Boost.Test fixture shared by every test binary.
//
// Usage:
//   BOOST_FIXTURE_TEST_CASE(name, machport_test::leak_check) { ... }
//   BOOST_FIXTURE_TEST_SUITE(suite, machport_test::leak_check)   // one check per test case
//
// The constructor records a baseline; the destructor (which Boost.Test runs inside the test
// case, so failures are attributed to it) asserts that the test left nothing behind:
//
// * Emulated kernel (MACHPORT_EMULATED): every task in machport_emu::live_tasks() that existed
//   at the baseline must hold exactly the names it held then (same name, type and urefs).
//   Every task created during the test must be terminated or hold no names at all. Each
//   offending name is printed with its task, type bits (decoded) and urefs.
// * macOS: mach_port_names(mach_task_self()) must list the same (name, type) pairs as at the
//   baseline. Only the calling task can be checked there.
//
// The fixture never drains a queue or swallows a notification: a test that triggers a
// notification must receive it itself. Queued messages cannot hide from the check, because a
// message always sits on a port whose receive right is held by some name (which would be
// reported), or has already been destroyed with its port.
//
// After reporting, the emulated variant cleans up so that one leaky test does not make later
// tests fail: it destroys the leaked names in surviving tasks (best effort; a strictly guarded
// port is left alone) and terminates every task the test created that is still alive.
#pragma once

#include <machport/detail/platform.hpp>

#include <mach/mach.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#if MACHPORT_EMULATED
#include <machport_emu/task.hpp>
#endif

namespace machport_test {

// "SEND|RECEIVE" etc. for a MACH_PORT_TYPE_* mask; unknown bits are shown in hex.
inline std::string describe_port_type(mach_port_type_t type) {
  static constexpr std::pair<mach_port_type_t, const char*> bits[] = {
      {MACH_PORT_TYPE_SEND, "SEND"},           {MACH_PORT_TYPE_RECEIVE, "RECEIVE"},
      {MACH_PORT_TYPE_SEND_ONCE, "SEND_ONCE"}, {MACH_PORT_TYPE_PORT_SET, "PORT_SET"},
      {MACH_PORT_TYPE_DEAD_NAME, "DEAD_NAME"}, {MACH_PORT_TYPE_DNREQUEST, "DNREQUEST"},
  };
  std::string out;
  mach_port_type_t rest = type;
  for (auto [bit, label] : bits) {
    if (type & bit) {
      if (!out.empty()) out += '|';
      out += label;
      rest &= ~bit;
    }
  }
  if (rest != 0 || out.empty()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s0x%x", out.empty() ? "" : "|", static_cast<unsigned>(rest));
    out += buf;
  }
  return out;
}

inline std::string hex_name(mach_port_name_t name) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", static_cast<unsigned>(name));
  return buf;
}

#if MACHPORT_EMULATED

class leak_check {
 public:
  leak_check() {
    for (machport_emu::task_id t : machport_emu::live_tasks()) {
      baseline_.emplace(t, machport_emu::task_names(t));
    }
  }

  leak_check(const leak_check&) = delete;
  leak_check& operator=(const leak_check&) = delete;

  ~leak_check() {
    std::vector<std::pair<machport_emu::task_id, mach_port_name_t>> leaked_names;
    std::vector<machport_emu::task_id> new_tasks;
    for (machport_emu::task_id t : machport_emu::live_tasks()) {
      std::vector<machport_emu::name_info> now = machport_emu::task_names(t);
      auto base = baseline_.find(t);
      if (base == baseline_.end()) {
        new_tasks.push_back(t);
        for (const auto& n : now) {
          BOOST_TEST_ERROR("leak: task " << t << " (created by the test, not terminated) holds "
                                         << describe(n));
        }
        continue;
      }
      for (const auto& n : now) {
        auto old = find(base->second, n.name);
        if (old == nullptr) {
          BOOST_TEST_ERROR("leak: task " << t << " holds new " << describe(n));
          leaked_names.emplace_back(t, n.name);
        } else if (!same(*old, n)) {
          BOOST_TEST_ERROR("leak: task " << t << " name changed from " << describe(*old)
                                         << " to " << describe(n));
        }
      }
      for (const auto& o : base->second) {
        if (find(now, o.name) == nullptr) {
          BOOST_TEST_ERROR("leak check: task " << t << " lost pre-existing " << describe(o));
        }
      }
    }
    // Clean up after reporting, so later tests start from a clean kernel.
    for (auto [t, name] : leaked_names) destroy_name(t, name);
    for (machport_emu::task_id t : new_tasks) machport_emu::task_terminate(t);
  }

 private:
  static std::string describe(const machport_emu::name_info& n) {
    return "name " + hex_name(n.name) + " type " + describe_port_type(n.type) + " (" +
           hex_name(n.type) + ") send_urefs " + std::to_string(n.send_urefs) + " dead_urefs " +
           std::to_string(n.dead_urefs);
  }
  static bool same(const machport_emu::name_info& a, const machport_emu::name_info& b) {
    return a.name == b.name && a.type == b.type && a.send_urefs == b.send_urefs &&
           a.dead_urefs == b.dead_urefs;
  }
  static const machport_emu::name_info* find(const std::vector<machport_emu::name_info>& v,
                                              mach_port_name_t name) {
    auto it = std::find_if(v.begin(), v.end(), [&](const auto& n) { return n.name == name; });
    return it == v.end() ? nullptr : &*it;
  }
  // Best-effort removal of a leaked name; guarded receive rights need their guard.
  static void destroy_name(machport_emu::task_id t, mach_port_name_t name) {
    machport_emu::task_scope scope(t);
    mach_port_type_t type = 0;
    if (mach_port_type(mach_task_self(), name, &type) != KERN_SUCCESS) return;  // already gone
    if (type & MACH_PORT_TYPE_RECEIVE) {
      mach_port_status_t status{};
      mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
      if (mach_port_get_attributes(mach_task_self(), name, MACH_PORT_RECEIVE_STATUS,
                                   reinterpret_cast<mach_port_info_t>(&status),
                                   &count) != KERN_SUCCESS) {
        return;
      }
      if (status.mps_flags & MACH_PORT_STATUS_FLAG_STRICT_GUARD) return;  // cannot be undone
      if (status.mps_flags & MACH_PORT_STATUS_FLAG_GUARDED) {
        mach_port_context_t ctx = 0;
        if (mach_port_get_context(mach_task_self(), name, &ctx) != KERN_SUCCESS) return;
        if (mach_port_unguard(mach_task_self(), name, ctx) != KERN_SUCCESS) return;
      }
    }
#if defined(__clang__) || defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    (void)mach_port_destroy(mach_task_self(), name);
#if defined(__clang__) || defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
  }

  std::map<machport_emu::task_id, std::vector<machport_emu::name_info>> baseline_;
};

#else  // macOS: only the calling task's names can be listed.

class leak_check {
 public:
  leak_check() : baseline_(snapshot()) {}

  leak_check(const leak_check&) = delete;
  leak_check& operator=(const leak_check&) = delete;

  ~leak_check() {
    auto now = snapshot();
    for (auto [name, type] : now) {
      auto old = baseline_.find(name);
      if (old == baseline_.end()) {
        BOOST_TEST_ERROR("leak: new name " << hex_name(name) << " type "
                                           << describe_port_type(type) << " (" << hex_name(type)
                                           << ")");
      } else if (old->second != type) {
        BOOST_TEST_ERROR("leak: name " << hex_name(name) << " changed type from "
                                       << describe_port_type(old->second) << " to "
                                       << describe_port_type(type));
      }
    }
  }

 private:
  static std::map<mach_port_name_t, mach_port_type_t> snapshot() {
    std::map<mach_port_name_t, mach_port_type_t> out;
    mach_port_name_array_t names = nullptr;
    mach_msg_type_number_t name_count = 0;
    mach_port_type_array_t types = nullptr;
    mach_msg_type_number_t type_count = 0;
    kern_return_t kr =
        mach_port_names(mach_task_self(), &names, &name_count, &types, &type_count);
    // Not REQUIRE: this also runs in the destructor, which must not throw.
    BOOST_TEST(kr == KERN_SUCCESS);
    if (kr != KERN_SUCCESS) return out;
    for (mach_msg_type_number_t i = 0; i < name_count && i < type_count; ++i) {
      out.emplace(names[i], types[i]);
    }
    vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(names),
                  name_count * sizeof(*names));
    vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(types),
                  type_count * sizeof(*types));
    return out;
  }

  std::map<mach_port_name_t, mach_port_type_t> baseline_;
};

#endif

}  // namespace machport_test
