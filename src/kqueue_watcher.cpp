#include <machport/detail/kqueue_watcher.hpp>

#include <boost/system/system_error.hpp>

#include <cerrno>
#include <unistd.h>

namespace machport::detail {

namespace {
boost::system::error_code errno_code() noexcept {
  return {errno, boost::system::system_category()};
}
}  // namespace

kqueue_watcher::kqueue_watcher() : fd_(::kqueue()) {
  if (fd_ < 0) throw boost::system::system_error(errno_code(), "machport: kqueue");
}

kqueue_watcher::~kqueue_watcher() { ::close(fd_); }

boost::system::error_code kqueue_watcher::change(mach_port_name_t name, std::uint16_t flags,
                                                 void* cookie) noexcept {
  struct kevent64_s ch;
  EV_SET64(&ch, name, EVFILT_MACHPORT, flags, 0, 0,
           static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(cookie)), 0, 0);
  // KEVENT_FLAG_ERROR_EVENTS: only apply the change (a call that also scanned could skip the
  // scan when the change produced an output record); the output is the change's error, if any.
  struct kevent64_s err;
  int n = ::kevent64(fd_, &ch, 1, &err, 1, KEVENT_FLAG_ERROR_EVENTS | KEVENT_FLAG_IMMEDIATE,
                     nullptr);
  if (n < 0) return errno_code();
  if (n == 1 && (err.flags & EV_ERROR) && err.data != 0)
    return {static_cast<int>(err.data), boost::system::system_category()};
  return {};
}

boost::system::error_code kqueue_watcher::add(mach_port_name_t name, void* cookie) noexcept {
  return change(name, EV_ADD | EV_DISPATCH, cookie);
}

boost::system::error_code kqueue_watcher::enable(mach_port_name_t name, void* cookie) noexcept {
  return change(name, EV_ENABLE | EV_DISPATCH, cookie);
}

boost::system::error_code kqueue_watcher::remove(mach_port_name_t name) noexcept {
  auto ec = change(name, EV_DELETE, nullptr);
  if (ec.value() == ENOENT) return {};
  return ec;
}

boost::system::error_code kqueue_watcher::fetch(struct kevent64_s* events, int& n) noexcept {
  n = ::kevent64(fd_, nullptr, 0, events, batch, KEVENT_FLAG_IMMEDIATE, nullptr);
  if (n < 0) {
    n = 0;
    return errno_code();
  }
  return {};
}

}  // namespace machport::detail
