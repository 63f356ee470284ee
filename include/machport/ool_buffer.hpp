// ool_buffer: VM memory that travels out of line in a message.
#pragma once

#include <machport/detail/platform.hpp>
#include <machport/result.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace machport {

// Move-only owner of a VM region: either allocated here (vm_allocate, page-aligned,
// zero-filled) or received in a message (the kernel mapped it; the data may start at an
// offset inside its first page, as the sender's did). Destroying it vm_deallocates the pages.
// Moving it into a message hands the pages to the kernel (deallocate = true): no copy is kept.
// (Not a detail::right_handle: a region is two words and has no name or identity.)
class ool_buffer {
 public:
  ool_buffer() noexcept = default;
  ~ool_buffer() { reset(); }
  ool_buffer(const ool_buffer&) = delete;
  ool_buffer& operator=(const ool_buffer&) = delete;
  ool_buffer(ool_buffer&& other) noexcept
      : address_(std::exchange(other.address_, 0)), size_(std::exchange(other.size_, 0)) {}
  ool_buffer& operator=(ool_buffer&& other) noexcept;

  // `size` bytes (rounded up to pages by the kernel), zero-filled. size 0 gives an empty
  // buffer. Errors: KERN_NO_SPACE / KERN_RESOURCE_SHORTAGE / KERN_INVALID_ARGUMENT.
  static result<ool_buffer> allocate(std::size_t size) noexcept;
  // Returns a fresh allocation holding a copy of `bytes` (empty for no bytes). Errors: those of
  // allocate(); nothing is allocated on error.
  static result<ool_buffer> copy_of(std::span<const std::byte> bytes) noexcept;
  // Takes ownership of [address, address+size) which the caller got from the VM system.
  static ool_buffer adopt(std::uintptr_t address, std::size_t size) noexcept {
    ool_buffer b;
    b.address_ = address;
    b.size_ = size;
    return b;
  }
  // Gives up ownership; the caller must vm_deallocate the region.
  struct region {
    std::uintptr_t address;
    std::size_t size;
  };
  [[nodiscard]] region release() noexcept {
    return {std::exchange(address_, 0), std::exchange(size_, 0)};
  }
  // vm_deallocates the region now (asserting in debug builds that the kernel accepted it, see
  // detail/release.hpp); the buffer becomes empty.
  void reset() noexcept;

  std::byte* data() noexcept { return reinterpret_cast<std::byte*>(address_); }
  const std::byte* data() const noexcept { return reinterpret_cast<const std::byte*>(address_); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<std::byte> span() noexcept { return {data(), size_}; }
  std::span<const std::byte> span() const noexcept { return {data(), size_}; }

 private:
  std::uintptr_t address_ = 0;
  std::size_t size_ = 0;
};

}  // namespace machport
