// Smoke test of the async suite's build, not of machport: each binary runs the Asio reactor
// its name promises, and an io_context runs timers and descriptor I/O over it.
//
// CMakeLists.txt builds test/async twice on Linux: async_tests with Asio's default reactor
// (epoll) and async_tests_kqueue with BOOST_ASIO_DISABLE_EPOLL + BOOST_ASIO_HAS_KQUEUE=1, i.e.
// Asio's macOS kqueue_reactor over the emulated <sys/event.h>. On macOS, async_tests already
// uses kqueue_reactor. If the defines stop reaching the compiler, this file fails to compile.
#include "support/leak_check.hpp"

// A public Asio header first: detail/reactor.hpp alone does not compile header-only.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

namespace asio = boost::asio;

#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#error "machport's async layer needs a reactor; BOOST_ASIO_HAS_IO_URING_AS_DEFAULT has none"
#elif defined(BOOST_ASIO_DISABLE_EPOLL) || defined(__APPLE__)
// async_tests_kqueue on Linux, async_tests on macOS.
using expected_reactor = asio::detail::kqueue_reactor;
constexpr const char* expected_reactor_name = "kqueue_reactor";
#else
using expected_reactor = asio::detail::epoll_reactor;
constexpr const char* expected_reactor_name = "epoll_reactor";
#endif

static_assert(std::is_same_v<asio::detail::reactor, expected_reactor>,
              "this binary was meant for another Asio reactor (see test/async in CMakeLists.txt)");

// A pipe whose ends are closed by the stream_descriptors that take them.
std::array<int, 2> make_pipe() {
  std::array<int, 2> fds{-1, -1};
  BOOST_TEST_REQUIRE(::pipe(fds.data()) == 0);
  return fds;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(smoke, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(reactor_is_the_one_the_build_asked_for) {
  BOOST_TEST_MESSAGE("Asio reactor: " << expected_reactor_name);
  BOOST_TEST((std::is_same_v<asio::detail::reactor, expected_reactor>));
}

// The timer fires, its handler writes to the pipe, and the pending read completes with those
// bytes: the reactor saw both the timeout and the descriptor becoming readable.
BOOST_AUTO_TEST_CASE(timer_then_pipe_read) {
  asio::io_context ctx;
  auto fds = make_pipe();
  asio::posix::stream_descriptor reader(ctx, fds[0]);
  asio::posix::stream_descriptor writer(ctx, fds[1]);
  asio::steady_timer timer(ctx, std::chrono::milliseconds(1));

  const std::string payload = "over the reactor";
  std::vector<char> got(payload.size());
  std::vector<std::string> order;

  asio::async_read(reader, asio::buffer(got),
                   [&](const boost::system::error_code& ec, std::size_t n) {
                     BOOST_TEST(!ec, ec.message());
                     BOOST_TEST(n == payload.size());
                     order.push_back("read");
                   });
  timer.async_wait([&](const boost::system::error_code& ec) {
    BOOST_TEST(!ec, ec.message());
    order.push_back("timer");
    asio::async_write(writer, asio::buffer(payload),
                      [&](const boost::system::error_code& wec, std::size_t n) {
                        BOOST_TEST(!wec, wec.message());
                        BOOST_TEST(n == payload.size());
                        order.push_back("write");
                      });
  });

  std::size_t handlers = ctx.run();
  BOOST_TEST(handlers == 3u);
  BOOST_TEST(std::string(got.begin(), got.end()) == payload);
  BOOST_TEST_REQUIRE(order.size() == 3u);
  BOOST_TEST(order[0] == "timer");
  // write and read complete in the same reactor round on some reactors: order between them
  // is not part of the contract.
}

// async_wait on a descriptor: readiness without a read, then the closed write end gives EOF.
BOOST_AUTO_TEST_CASE(wait_read_then_eof) {
  asio::io_context ctx;
  auto fds = make_pipe();
  asio::posix::stream_descriptor reader(ctx, fds[0]);
  asio::posix::stream_descriptor writer(ctx, fds[1]);

  bool waited = false;
  bool eof = false;
  std::array<char, 8> buf{};
  reader.async_wait(asio::posix::stream_descriptor::wait_read,
                    [&](const boost::system::error_code& ec) {
                      BOOST_TEST(!ec, ec.message());
                      waited = true;
                      std::size_t n = reader.read_some(asio::buffer(buf));
                      BOOST_TEST(n == 1u);
                      writer.close();
                      reader.async_read_some(asio::buffer(buf),
                                             [&](const boost::system::error_code& rec,
                                                 std::size_t) {
                                               eof = rec == asio::error::eof;
                                             });
                    });
  asio::post(ctx, [&] { asio::write(writer, asio::buffer("x", 1)); });
  ctx.run();
  BOOST_TEST(waited);
  BOOST_TEST(eof);
}

// Two threads run one io_context over several pipes at once: the reactor is entered from both
// threads (on the kqueue build: concurrent kevent() registrations while another thread blocks in
// kevent()). Under ThreadSanitizer this is the check that the reactor over the emulated kqueue is
// race-free. Each chain's handlers run one after another, so the chain needs no lock.
BOOST_AUTO_TEST_CASE(two_threads_ping_pong) {
  constexpr int kChains = 4;
  constexpr int kRounds = 200;
  asio::io_context ctx;

  struct chain {
    asio::posix::stream_descriptor reader;
    asio::posix::stream_descriptor writer;
    std::atomic<int>& errors;
    char out = 'x';
    char in = 0;
    int rounds = 0;
    chain(asio::io_context& c, std::array<int, 2> fds, std::atomic<int>& e)
        : reader(c, fds[0]), writer(c, fds[1]), errors(e) {}

    // Boost.Test assertions are not thread-safe: handlers only count errors.
    void step() {
      asio::async_write(writer, asio::buffer(&out, 1),
                        [this](const boost::system::error_code& ec, std::size_t) {
                          if (ec) ++errors;
                        });
      asio::async_read(reader, asio::buffer(&in, 1),
                       [this](const boost::system::error_code& ec, std::size_t) {
                         if (ec) {
                           ++errors;
                         } else if (++rounds < kRounds) {
                           step();
                         }
                       });
    }
  };

  std::atomic<int> errors{0};

  std::vector<std::unique_ptr<chain>> chains;
  for (int i = 0; i < kChains; ++i) {
    chains.push_back(std::make_unique<chain>(ctx, make_pipe(), errors));
    chains.back()->step();
  }
  std::thread helper([&] { ctx.run(); });
  ctx.run();
  helper.join();
  BOOST_TEST(errors.load() == 0);
  for (const auto& c : chains) BOOST_TEST(c->rounds == kRounds);
}

// Destroying the io_context with a read still pending destroys the handler without calling it.
BOOST_AUTO_TEST_CASE(pending_read_dropped_with_context) {
  bool called = false;
  {
    asio::io_context ctx;
    auto fds = make_pipe();
    asio::posix::stream_descriptor reader(ctx, fds[0]);
    ::close(fds[1]);
    std::array<char, 1> buf{};
    // Never run: the operation stays queued until the context goes away.
    reader.async_read_some(asio::buffer(buf),
                           [&](const boost::system::error_code&, std::size_t) { called = true; });
  }
  BOOST_TEST(!called);
}

BOOST_AUTO_TEST_SUITE_END()
