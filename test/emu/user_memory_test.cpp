// mach_msg on user memory that is not mapped: the kernel's copy-in / copy-out fails the call
// (§4.2 step 3, §4.4, §5) instead of faulting the caller. Also after the memory was mapped
// and used once, so no memory of an earlier check hides the unmap.
// Section numbers (§N.M) refer to docs/xnu-ipc-semantics.md.
#include <support/leak_check.hpp>
#include <support/mach_util.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

using namespace machport_test;

namespace {

// Three pages with the middle one unmapped: a hole nothing else is placed in while the test
// runs (its neighbours stay mapped).
class page_hole {
 public:
  page_hole() {
    void* p = ::mmap(nullptr, 3 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    BOOST_TEST_REQUIRE(p != MAP_FAILED);
    base_ = static_cast<unsigned char*>(p);
    BOOST_TEST_REQUIRE(::munmap(hole(), page_) == 0);
  }
  ~page_hole() {
    ::munmap(base_, page_);
    ::munmap(base_ + 2 * page_, page_);
  }
  page_hole(const page_hole&) = delete;
  page_hole& operator=(const page_hole&) = delete;

  unsigned char* hole() const { return base_ + page_; }
  // `n` bytes that end `inside` bytes into the hole.
  unsigned char* straddling(std::size_t n, std::size_t inside) const { return hole() + inside - n; }
  std::size_t page() const { return page_; }

 private:
  std::size_t page_ = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  unsigned char* base_ = nullptr;
};

// One fresh page, unmapped by unmap() (or at scope exit).
class one_page {
 public:
  one_page() {
    void* p = ::mmap(nullptr, page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    BOOST_TEST_REQUIRE(p != MAP_FAILED);
    base_ = static_cast<unsigned char*>(p);
  }
  ~one_page() { unmap(); }
  one_page(const one_page&) = delete;
  one_page& operator=(const one_page&) = delete;

  mach_msg_header_t* header() const { return reinterpret_cast<mach_msg_header_t*>(base_); }
  mach_msg_size_t size() const { return static_cast<mach_msg_size_t>(page_); }
  void unmap() {
    if (mapped_) BOOST_TEST(::munmap(base_, page_) == 0);
    mapped_ = false;
  }

 private:
  std::size_t page_ = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  unsigned char* base_ = nullptr;
  bool mapped_ = true;
};

void fill_header(mach_msg_header_t* h, mach_port_name_t dest, mach_msg_bits_t extra_bits = 0) {
  h->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | extra_bits;
  h->msgh_size = sizeof *h;
  h->msgh_remote_port = dest;
  h->msgh_local_port = MACH_PORT_NULL;
  h->msgh_voucher_port = MACH_PORT_NULL;
  h->msgh_id = 0x4d;
}

mach_msg_return_t send_from(mach_msg_header_t* h, mach_msg_size_t size) {
  return mach_msg(h, MACH_SEND_MSG, size, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                  MACH_PORT_NULL);
}

mach_msg_return_t receive_into(void* buf, mach_msg_size_t size, mach_port_name_t port,
                               mach_msg_option_t options = 0) {
  return mach_msg(static_cast<mach_msg_header_t*>(buf), MACH_RCV_MSG | MACH_RCV_TIMEOUT | options,
                  0, size, port, 0, MACH_PORT_NULL);
}

// A complex message to `dest` carrying one descriptor.
template <class Descriptor>
struct one_descriptor_msg {
  mach_msg_header_t header{};
  mach_msg_body_t body{};
  Descriptor desc{};
  explicit one_descriptor_msg(mach_port_name_t dest) {
    fill_header(&header, dest, MACH_MSGH_BITS_COMPLEX);
    header.msgh_size = sizeof *this;
    body.msgh_descriptor_count = 1;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(user_memory)

BOOST_FIXTURE_TEST_CASE(send_from_unmapped_buffer_is_invalid_data, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  page_hole hole;
  auto* h = reinterpret_cast<mach_msg_header_t*>(hole.hole());
  BOOST_TEST(send_from(h, sizeof *h) == MACH_SEND_INVALID_DATA);
  // Mapped header, unmapped tail.
  auto* start = hole.straddling(sizeof(mach_msg_header_t), 4);
  mach_msg_header_t copy{};
  fill_header(&copy, port);
  std::memcpy(start, &copy, sizeof copy - 4);
  BOOST_TEST(send_from(reinterpret_cast<mach_msg_header_t*>(start), sizeof copy) ==
             MACH_SEND_INVALID_DATA);
  BOOST_TEST(queue_empty(port));
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(send_after_munmap_of_a_used_buffer_is_invalid_data, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  one_page page;
  fill_header(page.header(), port);
  BOOST_TEST(send_from(page.header(), sizeof(mach_msg_header_t)) == MACH_MSG_SUCCESS);
  receive_and_destroy(port);
  page.unmap();
  BOOST_TEST(send_from(page.header(), sizeof(mach_msg_header_t)) == MACH_SEND_INVALID_DATA);
  BOOST_TEST(queue_empty(port));
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(ool_from_unmapped_memory_is_invalid_memory, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  page_hole hole;
  one_descriptor_msg<mach_msg_ool_descriptor_t> m(port);
  m.desc.type = MACH_MSG_OOL_DESCRIPTOR;
  m.desc.copy = MACH_MSG_VIRTUAL_COPY;
  m.desc.address = hole.straddling(16, 8);  // half of it in the hole
  m.desc.size = 16;
  BOOST_TEST(send_from(&m.header, sizeof m) == MACH_SEND_INVALID_MEMORY);
  BOOST_TEST(queue_empty(port));
  // The same descriptor over mapped memory goes through.
  m.desc.address = hole.straddling(16, 0);
  BOOST_TEST(send_from(&m.header, sizeof m) == MACH_MSG_SUCCESS);
  receive_and_destroy(port);
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(ool_ports_from_unmapped_memory_is_invalid_memory, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  page_hole hole;
  one_descriptor_msg<mach_msg_ool_ports_descriptor_t> m(port);
  m.desc.type = MACH_MSG_OOL_PORTS_DESCRIPTOR;
  m.desc.copy = MACH_MSG_PHYSICAL_COPY;
  m.desc.disposition = MACH_MSG_TYPE_COPY_SEND;
  m.desc.address = hole.hole();
  m.desc.count = 2;
  BOOST_TEST(send_from(&m.header, sizeof m) == MACH_SEND_INVALID_MEMORY);
  BOOST_TEST(queue_empty(port));
  BOOST_TEST(refs(port, MACH_PORT_RIGHT_SEND) == 1u);  // the destination right came back
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(receive_into_unmapped_buffer_is_invalid_data, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  page_hole hole;
  BOOST_TEST(send_header(port, MACH_MSG_TYPE_COPY_SEND) == MACH_MSG_SUCCESS);
  BOOST_TEST(receive_into(hole.hole(), 256, port) == MACH_RCV_INVALID_DATA);
  BOOST_TEST(queue_empty(port));  // the message is lost, as in XNU
  // Room for the message in mapped memory but not for its trailer: still a bad buffer.
  BOOST_TEST(send_header(port, MACH_MSG_TYPE_COPY_SEND) == MACH_MSG_SUCCESS);
  BOOST_TEST(receive_into(hole.straddling(sizeof(mach_msg_header_t), 0), 256, port) ==
             MACH_RCV_INVALID_DATA);
  BOOST_TEST(queue_empty(port));
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(too_large_report_into_unmapped_buffer_keeps_the_message, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  page_hole hole;
  BOOST_TEST(send_header(port, MACH_MSG_TYPE_COPY_SEND) == MACH_MSG_SUCCESS);
  BOOST_TEST(receive_into(hole.hole(), 16, port, MACH_RCV_LARGE) == MACH_RCV_INVALID_DATA);
  receive_and_destroy(port);  // still queued
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

BOOST_FIXTURE_TEST_CASE(receive_after_munmap_of_a_used_buffer_is_invalid_data, leak_check) {
  const mach_port_name_t port = make_port_with_send();
  one_page page;
  BOOST_TEST(send_header(port, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 1) == MACH_MSG_SUCCESS);
  BOOST_TEST(receive_into(page.header(), page.size(), port) == MACH_MSG_SUCCESS);
  BOOST_TEST(page.header()->msgh_id == 1);
  page.unmap();
  BOOST_TEST(send_header(port, MACH_MSG_TYPE_COPY_SEND, MACH_PORT_NULL, 0, 2) == MACH_MSG_SUCCESS);
  BOOST_TEST(receive_into(page.header(), page.size(), port) == MACH_RCV_INVALID_DATA);
  BOOST_TEST(queue_empty(port));
  BOOST_TEST(mach_port_destruct(self(), port, -1, 0) == KERN_SUCCESS);
}

BOOST_AUTO_TEST_SUITE_END()
