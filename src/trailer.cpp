// trailer_view: reads the fields of the trailer the kernel appended.
#include <machport/detail/wire.hpp>
#include <machport/trailer.hpp>

#include <cstring>

namespace machport {

using detail::load32;

std::optional<mach_port_seqno_t> trailer_view::seqno() const noexcept {
  if (size_ < trailer_size(trailer_level::seqno)) return std::nullopt;
  return load32(data_ + detail::trailer_seqno_offset);
}

std::optional<std::array<std::uint32_t, 2>> trailer_view::sender() const noexcept {
  if (size_ < trailer_size(trailer_level::sender)) return std::nullopt;
  std::array<std::uint32_t, 2> token;
  static_assert(sizeof(token) == sizeof(security_token_t));
  std::memcpy(token.data(), data_ + detail::trailer_sender_offset, sizeof(token));
  return token;
}

std::optional<audit_token> trailer_view::audit() const noexcept {
  if (size_ < trailer_size(trailer_level::audit)) return std::nullopt;
  audit_token t;
  static_assert(sizeof(t.val) == sizeof(audit_token_t));
  std::memcpy(t.val.data(), data_ + detail::trailer_audit_offset, sizeof(t.val));
  return t;
}

std::optional<mach_port_context_t> trailer_view::context() const noexcept {
  if (size_ < trailer_size(trailer_level::context)) return std::nullopt;
  return static_cast<mach_port_context_t>(detail::load64(data_ + detail::trailer_context_offset));
}

}  // namespace machport
