// Cross-task behaviour (several IPC spaces in one process, through the emulator's task API):
// name translation, right_dedup (tests/ipc_mach_port.c), mo_immovable_receive.c in two tasks,
// voucher_entry_18826844.c with a send-only name, task termination and its notifications,
// per-task audit tokens (§2.2, §2.9, §3.2, §5.4, §5.5).
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <servers/bootstrap.h>

#include <machport_emu/task.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <unistd.h>

using namespace machport_test;
namespace emu = machport_emu;

namespace {

struct port_msg {
  mach_msg_header_t header;
  mach_msg_body_t body;
  mach_msg_port_descriptor_t dsc;
  mach_msg_max_trailer_t trailer;
};

std::string unique_service_name() {
  static std::atomic<int> counter{0};
  return "org.machport.emu-tests." + std::to_string(::getpid()) + "." +
         std::to_string(counter++);
}

// Task A is the test thread's task (the initial task); task B is created per test. A holds
// `to_b`, a send right to B's receive right `b_rcv`, obtained through the bootstrap namespace.
// Teardown (before leak_check runs) tears the channel down and terminates B unless the test did.
struct two_tasks : leak_check {
  emu::task_id a = emu::current_task();
  emu::task_id b = emu::task_create({"task-b", 502, 21});
  bool b_alive = true;
  mach_port_name_t b_rcv = MACH_PORT_NULL;  // in B
  mach_port_name_t to_b = MACH_PORT_NULL;   // in A

  two_tasks() {
    const std::string service = unique_service_name();
    {
      emu::task_scope in_b(b);
      BOOST_TEST_REQUIRE(bootstrap_check_in(bootstrap_port, service.c_str(), &b_rcv) ==
                         KERN_SUCCESS);
    }
    BOOST_TEST_REQUIRE(bootstrap_look_up(bootstrap_port, service.c_str(), &to_b) ==
                       KERN_SUCCESS);
  }

  ~two_tasks() {
    if (b_alive) {
      {
        emu::task_scope in_b(b);
        (void)mach_port_destruct(self(), b_rcv, 0, 0);
      }
      emu::task_terminate(b);
    }
    (void)mach_port_deallocate(self(), to_b);  // now a dead name
  }

  void terminate_b() {
    emu::task_terminate(b);
    b_alive = false;
  }

  // Sends one port descriptor from A to B and returns B's name for what arrived.
  mach_port_name_t give_to_b(mach_port_name_t name, mach_msg_type_name_t disposition,
                             mach_msg_type_name_t* arrived = nullptr) {
    port_msg msg{};
    msg.header.msgh_bits =
        MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, MACH_MSGH_BITS_COMPLEX);
    msg.header.msgh_remote_port = to_b;
    msg.body.msgh_descriptor_count = 1;
    msg.dsc.type = MACH_MSG_PORT_DESCRIPTOR;
    msg.dsc.disposition = disposition;
    msg.dsc.name = name;
    BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_SEND_MSG, offsetof(port_msg, trailer), 0,
                                MACH_PORT_NULL, 0, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
    emu::task_scope in_b(b);
    std::memset(&msg, 0, sizeof msg);
    BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof msg,
                                b_rcv, guard_ms, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
    if (arrived) *arrived = msg.dsc.disposition;
    return msg.dsc.name;
  }

  std::vector<emu::name_info> names_of_b() { return emu::task_names(b); }
};

const emu::name_info* find_name(const std::vector<emu::name_info>& names, mach_port_name_t n) {
  for (const auto& i : names)
    if (i.name == n) return &i;
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(emu_only_tasks)

BOOST_FIXTURE_TEST_CASE(task_api_basics, leak_check) {
  const emu::task_id initial = emu::initial_task();
  BOOST_TEST(emu::current_task() == initial);
  emu::task_id t = emu::task_create({"basics", 600, 30});
  BOOST_TEST(t != initial);
  auto live = emu::live_tasks();
  BOOST_TEST((std::find(live.begin(), live.end(), t) != live.end()));
  BOOST_TEST(emu::task_names(t).empty());
  {
    emu::task_scope in_t(t);
    BOOST_TEST(emu::current_task() == t);
    mach_port_name_t p = make_receive();
    auto names = emu::task_names(t);
    BOOST_TEST_REQUIRE(names.size() == 1u);
    BOOST_TEST(names[0].name == p);
    BOOST_TEST(names[0].type == MACH_PORT_TYPE_RECEIVE);
    destroy_port(p);
  }
  BOOST_TEST(emu::current_task() == initial);
  const audit_token_t ta = emu::task_audit_token(initial);
  const audit_token_t tt = emu::task_audit_token(t);
  BOOST_TEST(ta.val[5] != tt.val[5]);  // pid
  BOOST_TEST(tt.val[1] == 600u);       // euid
  BOOST_TEST(tt.val[2] == 30u);        // egid
  const security_token_t st = emu::task_security_token(t);
  BOOST_TEST(st.val[0] == 600u);
  BOOST_TEST(st.val[1] == 30u);
  emu::task_terminate(t);
  live = emu::live_tasks();
  BOOST_TEST((std::find(live.begin(), live.end(), t) == live.end()));
}

// The receiver's trailer carries the sending task's tokens.
BOOST_FIXTURE_TEST_CASE(audit_token_per_sending_task, two_tasks) {
  mach_port_name_t pa = make_receive();
  mach_port_name_t in_b = give_to_b(pa, MACH_MSG_TYPE_MAKE_SEND);
  {
    emu::task_scope s(b);
    BOOST_TEST(send_header(in_b, MACH_MSG_TYPE_MOVE_SEND, MACH_PORT_NULL, 0, 1) ==
               MACH_MSG_SUCCESS);
  }
  BOOST_TEST(send_header(to_b, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 2) == MACH_MSG_SUCCESS);
  const mach_msg_option_t audit = MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT);
  raw_msg<> from_b;
  BOOST_TEST_REQUIRE(receive(pa, from_b, audit) == MACH_MSG_SUCCESS);
  raw_msg<> from_a;
  {
    emu::task_scope s(b);
    BOOST_TEST_REQUIRE(receive(b_rcv, from_a, audit) == MACH_MSG_SUCCESS);
  }
  audit_token_t tb{}, ta{};
  std::memcpy(&tb, from_b.bytes + 24 + 20, sizeof tb);
  std::memcpy(&ta, from_a.bytes + 24 + 20, sizeof ta);
  const audit_token_t want_b = emu::task_audit_token(b);
  const audit_token_t want_a = emu::task_audit_token(a);
  BOOST_TEST(std::memcmp(&tb, &want_b, sizeof tb) == 0);
  BOOST_TEST(std::memcmp(&ta, &want_a, sizeof ta) == 0);
  BOOST_TEST(tb.val[5] != ta.val[5]);  // pid differs
  BOOST_TEST(tb.val[1] == 502u);       // B's euid
  BOOST_TEST(from_b.at<uint32_t>(24 + 12) == 502u);  // security token uid
  BOOST_TEST(from_b.at<uint32_t>(24 + 16) == 21u);   // gid
  destroy_port(pa);
}

// Names are translated between spaces; a receive right joins the existing send name (§2.2).
BOOST_FIXTURE_TEST_CASE(rights_translate_between_tasks, two_tasks) {
  mach_port_name_t pa = make_receive();
  mach_msg_type_name_t disp = 0;
  mach_port_name_t nb = give_to_b(pa, MACH_MSG_TYPE_MAKE_SEND, &disp);
  BOOST_TEST(disp == static_cast<unsigned>(MACH_MSG_TYPE_PORT_SEND));
  {
    emu::task_scope s(b);
    BOOST_TEST(type_of(nb) == MACH_PORT_TYPE_SEND);
    BOOST_TEST(refs(nb, MACH_PORT_RIGHT_SEND) == 1u);
  }
  // A second send right to the same port merges in B.
  BOOST_TEST(give_to_b(pa, MACH_MSG_TYPE_MAKE_SEND) == nb);
  {
    emu::task_scope s(b);
    BOOST_TEST(refs(nb, MACH_PORT_RIGHT_SEND) == 2u);
  }
  BOOST_TEST(status_of(pa).mps_mscount == 2u);
  // Send-once rights get fresh names.
  mach_port_name_t so = give_to_b(pa, MACH_MSG_TYPE_MAKE_SEND_ONCE, &disp);
  BOOST_TEST(disp == static_cast<unsigned>(MACH_MSG_TYPE_PORT_SEND_ONCE));
  BOOST_TEST(so != nb);
  // B replies through both; A sees its own receive name as local.
  {
    emu::task_scope s(b);
    BOOST_TEST(send_header(so, MACH_MSG_TYPE_MOVE_SEND_ONCE, MACH_PORT_NULL, 0, 11) ==
               MACH_MSG_SUCCESS);
    BOOST_TEST(send_header(nb, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 12) ==
               MACH_MSG_SUCCESS);
  }
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(pa, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 11);
  BOOST_TEST(m.header()->msgh_local_port == pa);
  BOOST_TEST(MACH_MSGH_BITS_LOCAL(m.header()->msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE);
  BOOST_TEST_REQUIRE(receive(pa, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == 12);
  BOOST_TEST(MACH_MSGH_BITS_LOCAL(m.header()->msgh_bits) == MACH_MSG_TYPE_PORT_SEND);
  // Now move the receive right: it lands on B's send name, and A's name is freed.
  BOOST_TEST(give_to_b(pa, MACH_MSG_TYPE_MOVE_RECEIVE, &disp) == nb);
  BOOST_TEST(disp == static_cast<unsigned>(MACH_MSG_TYPE_PORT_RECEIVE));
  BOOST_TEST(!name_exists(pa));
  {
    emu::task_scope s(b);
    BOOST_TEST(type_of(nb) == MACH_PORT_TYPE_SEND_RECEIVE);
    BOOST_TEST(refs(nb, MACH_PORT_RIGHT_SEND) == 2u);
    BOOST_TEST(status_of(nb).mps_mscount == 0u);  // reset by the move (§2.10)
    BOOST_TEST(mach_port_destruct(self(), nb, -2, 0) == KERN_SUCCESS);
  }
}

// tests/ipc_mach_port.c right_dedup: R, S (COPY), S (MOVE) in any order land on one name.
BOOST_FIXTURE_TEST_CASE(right_dedup_orders, leak_check) {
  const mach_msg_type_name_t R = MACH_MSG_TYPE_MOVE_RECEIVE, C = MACH_MSG_TYPE_COPY_SEND,
                             M = MACH_MSG_TYPE_MOVE_SEND;
  const mach_msg_type_name_t orders[][3] = {{R, C, M}, {C, R, M}, {C, M, R}};
  for (const auto& order : orders) {
    BOOST_TEST_CONTEXT("order " << order[0] << "," << order[1] << "," << order[2]) {
      two_tasks env;
      mach_port_name_t p = make_port_with_send();
      struct {
        mach_msg_header_t header;
        mach_msg_body_t body;
        mach_msg_port_descriptor_t dsc[3];
        mach_msg_max_trailer_t trailer;
      } msg{};
      msg.header.msgh_bits =
          MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, MACH_MSGH_BITS_COMPLEX);
      msg.header.msgh_remote_port = env.to_b;
      msg.body.msgh_descriptor_count = 3;
      for (int i = 0; i < 3; ++i) {
        msg.dsc[i].type = MACH_MSG_PORT_DESCRIPTOR;
        msg.dsc[i].disposition = order[i];
        msg.dsc[i].name = p;
      }
      BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_SEND_MSG, offsetof(decltype(msg), trailer), 0,
                                  MACH_PORT_NULL, 0, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
      BOOST_TEST(!name_exists(p));
      emu::task_scope s(env.b);
      BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof msg,
                                  env.b_rcv, guard_ms, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
      mach_port_name_t n = msg.dsc[0].name;
      BOOST_TEST(msg.dsc[1].name == n);
      BOOST_TEST(msg.dsc[2].name == n);
      BOOST_TEST(type_of(n) == MACH_PORT_TYPE_SEND_RECEIVE);
      BOOST_TEST(refs(n, MACH_PORT_RIGHT_SEND) == 2u);
      auto names = env.names_of_b();
      const emu::name_info* info = find_name(names, n);
      BOOST_TEST_REQUIRE(info != nullptr);
      BOOST_TEST(info->send_urefs == 2u);
      BOOST_TEST(mach_port_destruct(self(), n, -2, 0) == KERN_SUCCESS);
    }
  }
}

// Out-of-line memory arrives intact in the other task.
BOOST_FIXTURE_TEST_CASE(ool_memory_between_tasks, two_tasks) {
  constexpr mach_msg_size_t size = 64 * 1024;
  std::vector<unsigned char> data(size);
  for (mach_msg_size_t i = 0; i < size; ++i) data[i] = static_cast<unsigned char>(i * 7);
  struct {
    mach_msg_header_t header;
    mach_msg_body_t body;
    mach_msg_ool_descriptor_t dsc;
    mach_msg_max_trailer_t trailer;
  } msg{};
  msg.header.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, MACH_MSGH_BITS_COMPLEX);
  msg.header.msgh_remote_port = to_b;
  msg.body.msgh_descriptor_count = 1;
  msg.dsc.type = MACH_MSG_OOL_DESCRIPTOR;
  msg.dsc.address = data.data();
  msg.dsc.size = size;
  msg.dsc.copy = MACH_MSG_VIRTUAL_COPY;
  msg.dsc.deallocate = false;
  BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_SEND_MSG, offsetof(decltype(msg), trailer), 0,
                              MACH_PORT_NULL, 0, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  data.assign(size, 0);  // the message holds its own copy
  emu::task_scope s(b);
  BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof msg, b_rcv,
                              guard_ms, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  BOOST_TEST(msg.dsc.size == size);
  BOOST_TEST(unsigned(msg.dsc.deallocate) == 1u);  // VIRTUAL_COPY → deallocate on receive
  const auto* got = static_cast<const unsigned char*>(msg.dsc.address);
  BOOST_TEST_REQUIRE(got != nullptr);
  bool same = true;
  for (mach_msg_size_t i = 0; i < size && same; ++i) same = got[i] == static_cast<unsigned char>(i * 7);
  BOOST_TEST(same);
  BOOST_TEST(vm_deallocate(self(), reinterpret_cast<vm_address_t>(msg.dsc.address), size) ==
             KERN_SUCCESS);
}

// tests/mo_immovable_receive.c: guarded descriptors received in another task.
BOOST_FIXTURE_TEST_CASE(mo_immovable_receive_two_tasks, two_tasks) {
  mach_port_options_t opts{};
  opts.flags = MPO_CONTEXT_AS_GUARD;
  mach_port_name_t guarded = MACH_PORT_NULL;
  BOOST_TEST_REQUIRE(mach_port_construct(self(), &opts, 0x10, &guarded) == KERN_SUCCESS);
  mach_port_name_t plain = make_receive();
  struct {
    mach_msg_header_t header;
    mach_msg_body_t body;
    mach_msg_guarded_port_descriptor_t dsc[2];
    mach_msg_max_trailer_t trailer;
  } msg{};
  msg.header.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, MACH_MSGH_BITS_COMPLEX);
  msg.header.msgh_remote_port = to_b;
  msg.body.msgh_descriptor_count = 2;
  msg.dsc[0].type = MACH_MSG_GUARDED_PORT_DESCRIPTOR;
  msg.dsc[0].disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
  msg.dsc[0].name = guarded;
  msg.dsc[0].context = 0x10;
  msg.dsc[0].flags = MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE;
  msg.dsc[1].type = MACH_MSG_GUARDED_PORT_DESCRIPTOR;
  msg.dsc[1].disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
  msg.dsc[1].name = plain;
  msg.dsc[1].context = 0;
  msg.dsc[1].flags =
      MACH_MSG_GUARD_FLAGS_IMMOVABLE_RECEIVE | MACH_MSG_GUARD_FLAGS_UNGUARDED_ON_SEND;
  BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_SEND_MSG, offsetof(decltype(msg), trailer), 0,
                              MACH_PORT_NULL, 0, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  BOOST_TEST(!name_exists(guarded));
  BOOST_TEST(!name_exists(plain));
  emu::task_scope s(b);
  std::memset(&msg, 0, sizeof msg);
  BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_RCV_MSG | MACH_RCV_TIMEOUT | MACH_RCV_GUARDED_DESC,
                              0, sizeof msg, b_rcv, guard_ms, MACH_PORT_NULL) ==
                     MACH_MSG_SUCCESS);
  const auto ctx = reinterpret_cast<mach_port_context_t>(&msg);
  for (auto& d : msg.dsc) {
    BOOST_TEST(d.name != MACH_PORT_NULL);
    BOOST_TEST(unsigned(d.type) == static_cast<unsigned>(MACH_MSG_GUARDED_PORT_DESCRIPTOR));
    BOOST_TEST(unsigned(d.disposition) == static_cast<unsigned>(MACH_MSG_TYPE_PORT_RECEIVE));
    BOOST_TEST(copy_of(d.context) == ctx);
    mach_port_status_t st = status_of(d.name);
    BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_GUARD_IMMOVABLE_RECEIVE) != 0u);
    BOOST_TEST((st.mps_flags & MACH_PORT_STATUS_FLAG_GUARDED) != 0u);
    BOOST_TEST(mach_port_destruct(self(), d.name, 0, ctx) == KERN_SUCCESS);
  }
}

// voucher_entry_18826844.c with a send-only name: the last uref is consumed by MOVE+COPY.
BOOST_FIXTURE_TEST_CASE(voucher_entry_send_only_name, two_tasks) {
  mach_port_name_t pa = make_receive();
  mach_port_name_t nb = give_to_b(pa, MACH_MSG_TYPE_MAKE_SEND);
  {
    emu::task_scope s(b);
    BOOST_TEST(send_header(nb, MACH_MSG_TYPE_MOVE_SEND, nb, MACH_MSG_TYPE_MOVE_SEND) ==
               MACH_SEND_INVALID_DEST);
    BOOST_TEST(refs(nb, MACH_PORT_RIGHT_SEND) == 1u);
    BOOST_TEST(send_header(nb, MACH_MSG_TYPE_MOVE_SEND, nb, MACH_MSG_TYPE_COPY_SEND) ==
               MACH_MSG_SUCCESS);
    mach_port_urefs_t u = 0;
    BOOST_TEST(mach_port_get_refs(self(), nb, MACH_PORT_RIGHT_SEND, &u) == KERN_INVALID_NAME);
  }
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(pa, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_remote_port == pa);  // the reply send merged onto A's name
  BOOST_TEST(refs(pa, MACH_PORT_RIGHT_SEND) == 1u);
  BOOST_TEST(mach_port_destruct(self(), pa, -1, 0) == KERN_SUCCESS);
}

// §2.9: a send right whose port died elsewhere reads as a dead name with the same urefs.
BOOST_FIXTURE_TEST_CASE(send_right_becomes_dead_name, two_tasks) {
  mach_port_name_t pb = MACH_PORT_NULL;
  {
    emu::task_scope s(b);
    pb = make_receive();
  }
  // Give A two send urefs to B's port through a message from B.
  mach_port_name_t a_rcv = make_receive();
  mach_port_name_t to_a = give_to_b(a_rcv, MACH_MSG_TYPE_MAKE_SEND);
  mach_port_name_t sa = MACH_PORT_NULL;
  for (int i = 0; i < 2; ++i) {
    {
      emu::task_scope s(b);
      port_msg msg{};
      msg.header.msgh_bits =
          MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, MACH_MSGH_BITS_COMPLEX);
      msg.header.msgh_remote_port = to_a;
      msg.body.msgh_descriptor_count = 1;
      msg.dsc.type = MACH_MSG_PORT_DESCRIPTOR;
      msg.dsc.disposition = MACH_MSG_TYPE_MAKE_SEND;
      msg.dsc.name = pb;
      BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_SEND_MSG, offsetof(port_msg, trailer), 0,
                                  MACH_PORT_NULL, 0, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
    }
    port_msg got{};
    BOOST_TEST_REQUIRE(mach_msg(&got.header, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof got,
                                a_rcv, guard_ms, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
    if (i == 1) BOOST_TEST(got.dsc.name == sa);
    sa = got.dsc.name;
  }
  BOOST_TEST(refs(sa, MACH_PORT_RIGHT_SEND) == 2u);
  {
    emu::task_scope s(b);
    BOOST_TEST(mach_port_destruct(self(), pb, 0, 0) == KERN_SUCCESS);
    BOOST_TEST(mach_port_deallocate(self(), to_a) == KERN_SUCCESS);
  }
  BOOST_TEST(type_of(sa) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(refs(sa, MACH_PORT_RIGHT_DEAD_NAME) == 2u);
  BOOST_TEST(refs(sa, MACH_PORT_RIGHT_SEND) == 0u);
  BOOST_TEST(send_header(sa, MACH_MSG_TYPE_COPY_SEND) == MACH_SEND_INVALID_DEST);
  BOOST_TEST(mach_port_mod_refs(self(), sa, MACH_PORT_RIGHT_SEND, -1) == KERN_INVALID_RIGHT);
  BOOST_TEST(mach_port_deallocate(self(), sa) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), sa) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(sa));
  destroy_port(a_rcv);
}

// Task termination: B's receive right dies → A's dead-name request fires and the send name
// becomes a dead name with +1 uref.
BOOST_FIXTURE_TEST_CASE(termination_fires_dead_name, two_tasks) {
  mach_port_name_t notify = make_receive();
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(to_b, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) ==
             KERN_SUCCESS);
  terminate_b();
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(notify, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_DEAD_NAME);
  BOOST_TEST(m.header()->msgh_size == 36u);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_port) == to_b);
  BOOST_TEST(type_of(to_b) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(refs(to_b, MACH_PORT_RIGHT_DEAD_NAME) == 2u);
  BOOST_TEST(mach_port_deallocate(self(), to_b) == KERN_SUCCESS);  // the fixture drops the other
  BOOST_TEST(queue_empty(notify));
  destroy_port(notify);
}

// Task termination releases B's send rights → no-senders in the surviving task A.
BOOST_FIXTURE_TEST_CASE(termination_fires_no_senders_in_survivor, two_tasks) {
  mach_port_name_t pa = make_receive();
  mach_port_name_t notify = make_receive();
  (void)give_to_b(pa, MACH_MSG_TYPE_MAKE_SEND);
  (void)give_to_b(pa, MACH_MSG_TYPE_MAKE_SEND);
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(pa, MACH_NOTIFY_NO_SENDERS, 0, notify, &prev) == KERN_SUCCESS);
  BOOST_TEST(queue_empty(notify));  // B still holds a send right
  terminate_b();
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(notify, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_NO_SENDERS);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_count) == 2u);
  BOOST_TEST(queue_empty(notify));
  destroy_port(pa);
  destroy_port(notify);
}

// A dying task's unused send-once right sends a send-once notification to its port.
BOOST_FIXTURE_TEST_CASE(termination_fires_send_once, two_tasks) {
  mach_port_name_t pa = make_receive();
  (void)give_to_b(pa, MACH_MSG_TYPE_MAKE_SEND_ONCE);
  BOOST_TEST(status_of(pa).mps_sorights == 1u);
  BOOST_TEST(queue_empty(pa));
  terminate_b();
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(pa, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_SEND_ONCE);
  BOOST_TEST(m.header()->msgh_size == 24u);
  BOOST_TEST(status_of(pa).mps_sorights == 0u);
  destroy_port(pa);
}

// §2.9-4: messages queued on a dying port are destroyed with their rights; a send-once reply
// right in one of them notifies the reply port.
BOOST_FIXTURE_TEST_CASE(queued_messages_destroyed_with_port, two_tasks) {
  mach_port_name_t reply = make_receive();
  BOOST_TEST(send_header(to_b, MACH_MSG_TYPE_COPY_SEND, reply, MACH_MSG_TYPE_MAKE_SEND_ONCE) ==
             MACH_MSG_SUCCESS);
  BOOST_TEST(status_of(reply).mps_sorights == 1u);
  terminate_b();
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(reply, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_SEND_ONCE);
  BOOST_TEST(status_of(reply).mps_sorights == 0u);
  destroy_port(reply);
}

// A task that ends with names is cleaned up by task_terminate, which is what the leak check
// requires of tasks created by a test.
BOOST_FIXTURE_TEST_CASE(terminate_clears_task_names, leak_check) {
  emu::task_id t = emu::task_create({"leaky", 501, 20});
  {
    emu::task_scope s(t);
    (void)make_receive();
    (void)make_pset();
    (void)make_dead_name();
  }
  BOOST_TEST(emu::task_names(t).size() == 3u);
  emu::task_terminate(t);
  auto live = emu::live_tasks();
  BOOST_TEST((std::find(live.begin(), live.end(), t) == live.end()));
}

// §3.2 port-deleted: a send name with a dead-name request loses its last uref while the port
// is alive.
BOOST_FIXTURE_TEST_CASE(port_deleted_for_send_name, two_tasks) {
  mach_port_name_t notify = make_receive();
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(to_b, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) ==
             KERN_SUCCESS);
  const mach_port_name_t old = to_b;
  BOOST_TEST(mach_port_deallocate(self(), to_b) == KERN_SUCCESS);
  BOOST_TEST(!name_exists(old));
  to_b = MACH_PORT_NULL;
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(notify, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_PORT_DELETED);
  BOOST_TEST(m.header()->msgh_size == 36u);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_port) == old);
  BOOST_TEST(queue_empty(notify));
  destroy_port(notify);
}

// §5.1: a send-only name is not a receive name.
BOOST_FIXTURE_TEST_CASE(receive_on_send_only_name, two_tasks) {
  raw_msg<> m;
  BOOST_TEST(receive(to_b, m, 0, 0) == MACH_RCV_INVALID_NAME);
}

// §3.4 + task loss: a port-destroyed request on a receive right in a dying task sends the
// right, reset, to the notify port in the surviving task; queued messages survive.
BOOST_FIXTURE_TEST_CASE(termination_fires_port_destroyed, two_tasks) {
  mach_port_name_t notify = make_receive();
  mach_port_name_t notify_in_b = give_to_b(notify, MACH_MSG_TYPE_MAKE_SEND_ONCE);
  mach_port_name_t pb = MACH_PORT_NULL;
  {
    emu::task_scope s(b);
    pb = make_port_with_send();
    BOOST_TEST(send_header(pb, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 31) ==
               MACH_MSG_SUCCESS);
    mach_port_t prev = MACH_PORT_NULL;
    BOOST_TEST(mach_port_request_notification(self(), pb, MACH_NOTIFY_PORT_DESTROYED, 0,
                                              notify_in_b, MACH_MSG_TYPE_MOVE_SEND_ONCE,
                                              &prev) == KERN_SUCCESS);
    BOOST_TEST(!name_exists(notify_in_b));
  }
  terminate_b();
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(notify, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_PORT_DESTROYED);
  BOOST_TEST(m.header()->msgh_size == 40u);
  BOOST_TEST(m.header()->msgh_bits == 0x80001200u);
  mach_port_name_t got = m.at<uint32_t>(notify_layout::desc_name);
  BOOST_TEST(m.at<uint8_t>(notify_layout::desc_disposition) == MACH_MSG_TYPE_PORT_RECEIVE);
  BOOST_TEST_REQUIRE(MACH_PORT_VALID(got));
  BOOST_TEST(type_of(got) == MACH_PORT_TYPE_RECEIVE);  // B's send right died with B
  raw_msg<> q;
  BOOST_TEST_REQUIRE(receive(got, q) == MACH_MSG_SUCCESS);
  BOOST_TEST(q.header()->msgh_id == 31);
  BOOST_TEST(queue_empty(notify));
  destroy_port(got);
  destroy_port(notify);
}

// §2.9: a dead-name request on a send-once name; the port dies → 0x48 and a dead name with
// 1 + 1 urefs.
BOOST_FIXTURE_TEST_CASE(dead_name_request_on_send_once_name, two_tasks) {
  mach_port_name_t pb = MACH_PORT_NULL;
  mach_port_name_t a_rcv = make_receive();
  mach_port_name_t to_a = give_to_b(a_rcv, MACH_MSG_TYPE_MAKE_SEND);
  {
    emu::task_scope s(b);
    pb = make_receive();
    BOOST_TEST(send_header(to_a, MACH_MSG_TYPE_MOVE_SEND, pb, MACH_MSG_TYPE_MAKE_SEND_ONCE) ==
               MACH_MSG_SUCCESS);
  }
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(a_rcv, m) == MACH_MSG_SUCCESS);
  mach_port_name_t so = m.header()->msgh_remote_port;
  BOOST_TEST(type_of(so) == MACH_PORT_TYPE_SEND_ONCE);
  mach_port_name_t notify = make_receive();
  mach_port_t prev = MACH_PORT_NULL;
  BOOST_TEST(request_notification(so, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) == KERN_SUCCESS);
  {
    emu::task_scope s(b);
    destroy_port(pb);
  }
  BOOST_TEST_REQUIRE(receive(notify, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_DEAD_NAME);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_port) == so);
  BOOST_TEST(type_of(so) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(refs(so, MACH_PORT_RIGHT_DEAD_NAME) == 2u);
  BOOST_TEST(mach_port_mod_refs(self(), so, MACH_PORT_RIGHT_DEAD_NAME, -2) == KERN_SUCCESS);
  destroy_port(notify);
  destroy_port(a_rcv);
}

// §2.9-4 cascade: B dies with a queued message carrying the receive right of a port A can
// send to; that port dies too and A's send right becomes a dead name.
BOOST_FIXTURE_TEST_CASE(termination_cascades_through_queued_receive_rights, two_tasks) {
  mach_port_name_t x = make_port_with_send();
  mach_port_name_t notify = make_receive();
  mach_port_t prev = MACH_PORT_NULL;
  // Keep a send right in A under a separate dead-name watch, then ship x's receive right to B
  // without B receiving it.
  BOOST_TEST(request_notification(x, MACH_NOTIFY_DEAD_NAME, 0, notify, &prev) == KERN_SUCCESS);
  port_msg msg{};
  msg.header.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, MACH_MSGH_BITS_COMPLEX);
  msg.header.msgh_remote_port = to_b;
  msg.body.msgh_descriptor_count = 1;
  msg.dsc.type = MACH_MSG_PORT_DESCRIPTOR;
  msg.dsc.disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
  msg.dsc.name = x;
  BOOST_TEST_REQUIRE(mach_msg(&msg.header, MACH_SEND_MSG, offsetof(port_msg, trailer), 0,
                              MACH_PORT_NULL, 0, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  BOOST_TEST((type_of(x) & ~MACH_PORT_TYPE_DNREQUEST) == MACH_PORT_TYPE_SEND);
  terminate_b();
  raw_msg<> m;
  BOOST_TEST_REQUIRE(receive(notify, m) == MACH_MSG_SUCCESS);
  BOOST_TEST(m.header()->msgh_id == MACH_NOTIFY_DEAD_NAME);
  BOOST_TEST(m.at<uint32_t>(notify_layout::not_port) == x);
  BOOST_TEST(type_of(x) == MACH_PORT_TYPE_DEAD_NAME);
  BOOST_TEST(refs(x, MACH_PORT_RIGHT_DEAD_NAME) == 2u);
  BOOST_TEST(mach_port_mod_refs(self(), x, MACH_PORT_RIGHT_DEAD_NAME, -2) == KERN_SUCCESS);
  destroy_port(notify);
}

BOOST_AUTO_TEST_SUITE_END()
