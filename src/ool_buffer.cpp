#include <machport/detail/release.hpp>
#include <machport/ool_buffer.hpp>

#include <cstring>
#include <utility>

namespace machport {

ool_buffer& ool_buffer::operator=(ool_buffer&& other) noexcept {
  if (this != &other) {
    reset();
    address_ = std::exchange(other.address_, 0);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

result<ool_buffer> ool_buffer::allocate(std::size_t size) noexcept {
  if (size == 0) return ool_buffer{};
  vm_address_t address = 0;
  kern_return_t kr = vm_allocate(mach_task_self(), &address, static_cast<vm_size_t>(size),
                                 VM_FLAGS_ANYWHERE);
  if (kr != KERN_SUCCESS) return make_kern_error(kr);
  return adopt(static_cast<std::uintptr_t>(address), size);
}

result<ool_buffer> ool_buffer::copy_of(std::span<const std::byte> bytes) noexcept {
  BOOST_OUTCOME_TRY(auto buf, allocate(bytes.size()));
  if (!bytes.empty()) std::memcpy(buf.data(), bytes.data(), bytes.size());
  return buf;
}

void ool_buffer::reset() noexcept {
  detail::release_memory(std::exchange(address_, 0), std::exchange(size_, 0));
}

}  // namespace machport
