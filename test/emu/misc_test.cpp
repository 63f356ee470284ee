// libsystem pieces around the kernel: mach_error_string, mach_port_names, vm_allocate,
// mach_port_set_mscount, mach_msg_server_once.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <mach/mach_error.h>

#include <cstring>
#include <string>
#include <vector>

using namespace machport_test;

namespace {

int g_demux_calls = 0;
mach_msg_id_t g_last_id = 0;

boolean_t counting_demux(mach_msg_header_t* request, mach_msg_header_t* reply) {
  ++g_demux_calls;
  g_last_id = request->msgh_id;
  auto* rep = reinterpret_cast<mig_reply_error_t*>(reply);
  rep->Head.msgh_bits = 0;
  rep->Head.msgh_remote_port = MACH_PORT_NULL;  // no reply
  rep->RetCode = MIG_NO_REPLY;
  return TRUE;
}

mach_msg_return_t send_sized(mach_port_name_t port, mach_msg_size_t size, mach_msg_id_t id) {
  std::vector<std::uint64_t> storage(size / 8 + 1, 0);
  auto* h = reinterpret_cast<mach_msg_header_t*>(storage.data());
  h->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
  h->msgh_remote_port = port;
  h->msgh_id = id;
  return mach_msg(h, MACH_SEND_MSG, size, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(misc)

BOOST_FIXTURE_TEST_CASE(mach_error_strings, leak_check) {
  BOOST_TEST(std::string(mach_error_string(KERN_SUCCESS)) == "(os/kern) successful");
  BOOST_TEST(std::string(mach_error_string(KERN_INVALID_ARGUMENT)) ==
             "(os/kern) invalid argument");
  BOOST_TEST(std::string(mach_error_string(KERN_INVALID_NAME)) == "(os/kern) invalid name");
  BOOST_TEST(std::string(mach_error_string(KERN_INVALID_RIGHT)) == "(os/kern) invalid right");
  BOOST_TEST(std::string(mach_error_string(KERN_NAME_EXISTS)) == "(os/kern) name exists");
  BOOST_TEST(std::string(mach_error_string(MACH_SEND_INVALID_DEST)) ==
             "(ipc/send) invalid destination port");
  BOOST_TEST(std::string(mach_error_string(MACH_SEND_TIMED_OUT)) == "(ipc/send) timed out");
  BOOST_TEST(std::string(mach_error_string(MACH_RCV_TIMED_OUT)) == "(ipc/rcv) timed out");
  const char* unknown = mach_error_string(0x7ff12345);
  BOOST_TEST_REQUIRE(unknown != nullptr);
  BOOST_TEST(std::strlen(unknown) > 0u);
}

BOOST_FIXTURE_TEST_CASE(port_names_lists_rights, leak_check) {
  mach_port_name_t p = make_port_with_send();
  mach_port_name_t s = make_pset();
  mach_port_name_t d = make_dead_name();
  mach_port_name_array_t names = nullptr;
  mach_msg_type_number_t name_count = 0;
  mach_port_type_array_t types = nullptr;
  mach_msg_type_number_t type_count = 0;
  BOOST_TEST_REQUIRE(mach_port_names(self(), &names, &name_count, &types, &type_count) ==
                     KERN_SUCCESS);
  BOOST_TEST(name_count == type_count);
  int found = 0;
  for (mach_msg_type_number_t i = 0; i < name_count; ++i) {
    if (names[i] == p) {
      BOOST_TEST(types[i] == MACH_PORT_TYPE_SEND_RECEIVE);
      ++found;
    } else if (names[i] == s) {
      BOOST_TEST(types[i] == MACH_PORT_TYPE_PORT_SET);
      ++found;
    } else if (names[i] == d) {
      BOOST_TEST(types[i] == MACH_PORT_TYPE_DEAD_NAME);
      ++found;
    }
  }
  BOOST_TEST(found == 3);
  BOOST_TEST(vm_deallocate(self(), reinterpret_cast<vm_address_t>(names),
                           name_count * sizeof *names) == KERN_SUCCESS);
  BOOST_TEST(vm_deallocate(self(), reinterpret_cast<vm_address_t>(types),
                           type_count * sizeof *types) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  BOOST_TEST(mach_port_deallocate(self(), d) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(vm_allocate_and_deallocate, leak_check) {
  vm_address_t addr = 0;
  const vm_size_t size = 3 * vm_page_size;
  BOOST_TEST_REQUIRE(vm_allocate(self(), &addr, size, VM_FLAGS_ANYWHERE) == KERN_SUCCESS);
  BOOST_TEST(addr != 0u);
  BOOST_TEST(addr % vm_page_size == 0u);
  auto* bytes = reinterpret_cast<unsigned char*>(addr);
  bool zero = true;
  for (vm_size_t i = 0; i < size && zero; ++i) zero = bytes[i] == 0;
  BOOST_TEST(zero);  // fresh anonymous memory is zero-filled
  std::memset(bytes, 0x5a, size);
  BOOST_TEST(vm_deallocate(self(), addr, size) == KERN_SUCCESS);
  BOOST_TEST(vm_deallocate(self(), 0, 0) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(set_mscount, leak_check) {
  mach_port_name_t p = make_receive();
  BOOST_TEST(mach_port_set_mscount(self(), p, 5) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_mscount == 5u);
  BOOST_TEST(mach_port_insert_right(self(), p, p, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS);
  BOOST_TEST(status_of(p).mps_mscount == 6u);
  mach_port_name_t s = make_pset();
  BOOST_TEST(mach_port_set_mscount(self(), s, 1) == KERN_INVALID_RIGHT);
  BOOST_TEST(port_destroy(s) == KERN_SUCCESS);
  BOOST_TEST(mach_port_destruct(self(), p, -1, 0) == KERN_SUCCESS);
}

// Regression: mach_msg_server_once sizes its receive as libsyscall/mach/mach_msg.c does.
// Without MACH_RCV_LARGE it receives into max_size + REQUESTED_TRAILER_SIZE(options) bytes, so
// a bigger request fails with MACH_RCV_TOO_LARGE (and the kernel destroys it, §5.2).
BOOST_FIXTURE_TEST_CASE(regression_server_once_without_large_uses_max_size, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  BOOST_TEST_REQUIRE(send_sized(port, 200, 1) == MACH_MSG_SUCCESS);
  g_demux_calls = 0;
  BOOST_TEST(mach_msg_server_once(counting_demux, 100, port, MACH_RCV_TIMEOUT) == MACH_RCV_TOO_LARGE);
  BOOST_TEST(g_demux_calls == 0);
  BOOST_TEST(queue_empty(port));  // destroyed by the failed receive
  destroy_port(port);
}

// Regression: with MACH_RCV_LARGE, mach_msg_server_once grows its buffer to the reported size
// and receives again.
BOOST_FIXTURE_TEST_CASE(regression_server_once_with_large_grows_the_buffer, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  BOOST_TEST_REQUIRE(send_sized(port, 8192, 2) == MACH_MSG_SUCCESS);
  g_demux_calls = 0;
  g_last_id = 0;
  BOOST_TEST(mach_msg_server_once(counting_demux, 100, port, MACH_RCV_TIMEOUT | MACH_RCV_LARGE) ==
             MACH_MSG_SUCCESS);
  BOOST_TEST(g_demux_calls == 1);
  BOOST_TEST(g_last_id == 2);
  BOOST_TEST(queue_empty(port));
  destroy_port(port);
}

BOOST_AUTO_TEST_SUITE_END()
