// detail/release.hpp: which kernel call each right class's destructor makes, and the
// per-thread release hook that records those calls instead (as the fuzzers use it).
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <machport/detail/release.hpp>

#include <string>
#include <vector>

using namespace machport;
using namespace core_test;

namespace {

// Records each release as text; the names below were never given to this task.
struct log_hook final : detail::release_hook {
  std::vector<std::string> calls;
  detail::release_hook* previous = detail::set_release_hook(this);
  ~log_hook() override { detail::set_release_hook(previous); }
  void deallocate(mach_port_name_t n) override {
    calls.push_back("deallocate " + std::to_string(n));
  }
  void mod_refs(mach_port_name_t n, mach_port_right_t right, mach_port_delta_t delta) override {
    calls.push_back("mod_refs " + std::to_string(n) + " " + std::to_string(right) + " " +
                    std::to_string(delta));
  }
  void destruct(mach_port_name_t n, mach_port_context_t guard) override {
    calls.push_back("destruct " + std::to_string(n) + " " + std::to_string(guard));
  }
  void vm_deallocate(std::uintptr_t a, std::size_t s) override {
    calls.push_back("vm_deallocate " + std::to_string(a) + " " + std::to_string(s));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(release_calls, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(each_right_class_releases_with_its_own_call) {
  log_hook hook;
  BOOST_TEST(detail::current_release_hook() == &hook);
  {
    auto s = send_right::adopt(0x103);
    auto so = send_once_right::adopt(0x203);
    auto d = dead_name::adopt(0x303);
    auto r = receive_right::adopt(0x403);
    auto g = receive_right::adopt_guarded(0x503, 0x77);
    auto ps = port_set::adopt(0x603);
    auto b = ool_buffer::adopt(0x7000, 16);
  }
  const std::vector<std::string> expected = {
      "vm_deallocate " + std::to_string(0x7000) + " 16",
      "mod_refs " + std::to_string(0x603) + " " + std::to_string(MACH_PORT_RIGHT_PORT_SET) + " -1",
      "destruct " + std::to_string(0x503) + " " + std::to_string(0x77),
      "mod_refs " + std::to_string(0x403) + " " + std::to_string(MACH_PORT_RIGHT_RECEIVE) + " -1",
      "deallocate " + std::to_string(0x303),
      "deallocate " + std::to_string(0x203),
      "deallocate " + std::to_string(0x103),
  };
  BOOST_TEST(hook.calls == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_and_dead_rights_release_nothing) {
  log_hook hook;
  {
    auto s = send_right::adopt(MACH_PORT_DEAD);
    auto so = send_once_right::adopt(MACH_PORT_DEAD);
    auto r = receive_right::adopt_guarded(MACH_PORT_NULL, 1);
    port_set ps;
    ool_buffer b;
  }
  BOOST_TEST(hook.calls.empty());
}

BOOST_AUTO_TEST_CASE(released_and_moved_from_rights_release_nothing_twice) {
  log_hook hook;
  {
    auto g = receive_right::adopt_guarded(0x503, 0x77);
    receive_right moved = std::move(g);
    BOOST_TEST(!g.guarded());  // the guard moved with the name
    BOOST_TEST(moved.guard() == 0x77u);
    auto s = send_right::adopt(0x103);
    BOOST_TEST(s.release() == 0x103u);
  }
  BOOST_TEST(hook.calls == std::vector<std::string>{"destruct " + std::to_string(0x503) + " " +
                                                    std::to_string(0x77)},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(hooks_nest_per_thread) {
  BOOST_TEST(detail::current_release_hook() == nullptr);
  {
    log_hook outer;
    {
      log_hook inner;
      BOOST_TEST(detail::current_release_hook() == &inner);
      send_right::adopt(0x103).reset();
      BOOST_TEST(inner.calls.size() == 1u);
    }
    BOOST_TEST(detail::current_release_hook() == &outer);
    BOOST_TEST(outer.calls.empty());
  }
  BOOST_TEST(detail::current_release_hook() == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
