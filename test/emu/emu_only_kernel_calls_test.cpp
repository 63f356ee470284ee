// The emulator's count of kernel calls per task (machport_emu::kernel_calls): what each routine
// costs as kernel entries, as it would on macOS.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <sys/event.h>
#include <unistd.h>

#include <machport_emu/task.hpp>

#include <cstdint>
#include <string_view>

using namespace machport_test;
namespace emu = machport_emu;

namespace {

// Kernel calls the current task makes while `f` runs.
template <class F>
std::uint64_t calls_during(F&& f) {
  const emu::task_id t = emu::current_task();
  const std::uint64_t before = emu::kernel_calls(t);
  f();
  return emu::kernel_calls(t) - before;
}

std::uint64_t count_of(emu::task_id t, std::string_view routine) {
  for (auto [name, n] : emu::kernel_call_counts(t))
    if (name == routine) return n;
  return 0;
}

struct empty_msg {
  mach_msg_header_t header;
  mach_msg_max_trailer_t trailer;
};

mach_msg_header_t request_to(mach_port_name_t dest) {
  mach_msg_header_t h{};
  h.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, 0);
  h.msgh_size = sizeof h;
  h.msgh_remote_port = dest;
  return h;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(kernel_calls, leak_check)

BOOST_AUTO_TEST_CASE(mach_port_allocate_is_one_call) {
  mach_port_name_t name = MACH_PORT_NULL;
  BOOST_TEST(calls_during([&] {
               BOOST_TEST(mach_port_allocate(self(), MACH_PORT_RIGHT_RECEIVE, &name) ==
                          KERN_SUCCESS);
             }) == 1u);
  BOOST_TEST(calls_during([&] {
               BOOST_TEST(mach_port_mod_refs(self(), name, MACH_PORT_RIGHT_RECEIVE, -1) ==
                          KERN_SUCCESS);
             }) == 1u);
}

BOOST_AUTO_TEST_CASE(a_failing_call_counts) {
  mach_port_type_t type = 0;
  BOOST_TEST(calls_during([&] {
               BOOST_TEST(mach_port_type(self(), 0x12345603, &type) == KERN_INVALID_NAME);
             }) == 1u);
  // A task argument that is not the caller's own: MIG's send fails, but the call was made.
  BOOST_TEST(calls_during([&] {
               BOOST_TEST(mach_port_type(0x777, 0x12345603, &type) == MACH_SEND_INVALID_DEST);
             }) == 1u);
  // A mach_msg rejected before any right is touched.
  mach_msg_header_t bad = request_to(MACH_PORT_NULL);
  BOOST_TEST(calls_during([&] {
               BOOST_TEST(mach_msg(&bad, MACH_SEND_MSG, sizeof bad, 0, MACH_PORT_NULL,
                                   MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) ==
                          MACH_SEND_INVALID_DEST);
             }) == 1u);
}

BOOST_AUTO_TEST_CASE(send_then_receive_is_two_calls_and_combined_is_one) {
  const mach_port_name_t port = make_port_with_send();
  empty_msg msg{};
  const std::uint64_t separate = calls_during([&] {
    msg.header = request_to(port);
    BOOST_TEST(mach_msg(&msg.header, MACH_SEND_MSG, sizeof msg.header, 0, MACH_PORT_NULL,
                        MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
    BOOST_TEST(mach_msg(&msg.header, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof msg, port,
                        guard_ms, MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  });
  BOOST_TEST(separate == 2u);
  const std::uint64_t combined = calls_during([&] {
    msg.header = request_to(port);
    BOOST_TEST(mach_msg(&msg.header, MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_TIMEOUT,
                        sizeof msg.header, sizeof msg, port, guard_ms,
                        MACH_PORT_NULL) == MACH_MSG_SUCCESS);
  });
  BOOST_TEST(combined == 1u);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_CASE(user_space_helpers_make_no_call) {
  BOOST_TEST(calls_during([] {
               (void)mach_task_self();
               (void)mach_error_string(KERN_INVALID_NAME);
               (void)emu::task_names(emu::current_task());
             }) == 0u);
}

BOOST_AUTO_TEST_CASE(self_ports) {
  // mach_task_self() reads a variable; mach_host_self() and mach_thread_self() are traps.
  BOOST_TEST(calls_during([] { (void)mach_task_self(); }) == 0u);
  BOOST_TEST(calls_during([] { (void)mach_host_self(); }) == 1u);
  BOOST_TEST(calls_during([] { (void)mach_thread_self(); }) == 1u);
  BOOST_TEST(calls_during([] { (void)task_self_trap(); }) == 1u);
}

BOOST_AUTO_TEST_CASE(mach_msg_destroy_counts_the_calls_it_makes) {
  // A received message holding one moved send right: destroying it is one mach_port_deallocate.
  const mach_port_name_t port = make_port_with_send();
  BOOST_TEST(mach_port_insert_right(self(), port, port, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  mach_msg_header_t fake{};
  fake.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_MOVE_SEND, 0, 0, 0);
  fake.msgh_remote_port = port;
  fake.msgh_size = sizeof fake;
  const emu::task_id t = emu::current_task();
  const std::uint64_t dealloc_before = count_of(t, "mach_port_deallocate");
  BOOST_TEST(calls_during([&] { mach_msg_destroy(&fake); }) == 1u);
  BOOST_TEST(count_of(t, "mach_port_deallocate") == dealloc_before + 1);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_CASE(counts_go_to_the_calling_threads_task) {
  const emu::task_id other = emu::task_create({"counted", 501, 20});
  const emu::task_id me = emu::current_task();
  const std::uint64_t mine_before = emu::kernel_calls(me);
  BOOST_TEST(emu::kernel_calls(other) == 0u);
  {
    emu::task_scope as_other(other);
    mach_port_name_t name = MACH_PORT_NULL;
    BOOST_TEST(mach_port_allocate(self(), MACH_PORT_RIGHT_PORT_SET, &name) == KERN_SUCCESS);
    BOOST_TEST(mach_port_mod_refs(self(), name, MACH_PORT_RIGHT_PORT_SET, -1) == KERN_SUCCESS);
  }
  BOOST_TEST(emu::kernel_calls(other) == 2u);
  BOOST_TEST(count_of(other, "mach_port_allocate") == 1u);
  BOOST_TEST(count_of(other, "mach_port_mod_refs") == 1u);
  BOOST_TEST(emu::kernel_calls(me) == mine_before);
  emu::task_terminate(other);
  BOOST_TEST(emu::kernel_calls(other) == 2u);  // a terminated task keeps its count
}

BOOST_AUTO_TEST_CASE(kqueue_and_kevent_are_kernel_calls_close_is_not) {
  int kq = -1;
  BOOST_TEST(calls_during([&] { kq = kqueue(); }) == 1u);
  BOOST_TEST_REQUIRE(kq >= 0);
  const struct timespec zero {};
  struct kevent ev {};
  BOOST_TEST(calls_during([&] { BOOST_TEST(kevent(kq, nullptr, 0, &ev, 1, &zero) == 0); }) == 1u);
  struct kevent64_s ev64 {};
  BOOST_TEST(calls_during([&] {
               // This kqueue was used through kevent(): kevent64 fails, but it was a call.
               BOOST_TEST(kevent64(kq, nullptr, 0, &ev64, 1, 0, &zero) == -1);
             }) == 1u);
  BOOST_TEST(calls_during([&] { BOOST_TEST(close(kq) == 0); }) == 0u);
}

BOOST_AUTO_TEST_CASE(vm_calls_count) {
  vm_address_t addr = 0;
  BOOST_TEST(calls_during([&] {
               BOOST_TEST(vm_allocate(self(), &addr, vm_page_size, VM_FLAGS_ANYWHERE) ==
                          KERN_SUCCESS);
               BOOST_TEST(vm_deallocate(self(), addr, vm_page_size) == KERN_SUCCESS);
             }) == 2u);
}

BOOST_AUTO_TEST_CASE(mig_reply_port_costs_one_trap_then_nothing) {
  // In a fresh task, so the reply port is not cached yet.
  const emu::task_id t = emu::task_create({"mig", 501, 20});
  {
    emu::task_scope as_t(t);
    mach_port_t first = MACH_PORT_NULL;
    BOOST_TEST(calls_during([&] { first = mig_get_reply_port(); }) == 1u);
    BOOST_TEST(count_of(t, "mach_reply_port") == 1u);
    BOOST_TEST(calls_during([&] { BOOST_TEST(mig_get_reply_port() == first); }) == 0u);
    BOOST_TEST(calls_during([&] { mig_dealloc_reply_port(first); }) == 1u);
  }
  emu::task_terminate(t);
}

BOOST_AUTO_TEST_CASE(unknown_task_has_made_no_calls) {
  BOOST_TEST(emu::kernel_calls(0x7fffffffu) == 0u);
  BOOST_TEST(emu::kernel_call_counts(0x7fffffffu).empty());
}

BOOST_AUTO_TEST_SUITE_END()
