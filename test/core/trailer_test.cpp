// trailer_view: what each trailer level carries.
#include "core_util.hpp"

#include "support/leak_check.hpp"

using namespace machport;
using namespace core_test;

BOOST_FIXTURE_TEST_SUITE(parsing, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(trailer_levels) {
  auto p = make_port();
  for (auto level : {trailer_level::none, trailer_level::seqno, trailer_level::sender,
                     trailer_level::audit, trailer_level::context, trailer_level::all}) {
    require(send(p.send, message_builder(1).build()));
    receive_options o;
    o.trailer = level;
    auto parsed = require(parse(receive_now(p.receive, o)));
    auto t = parsed.trailer();
    BOOST_TEST(t.size() == trailer_size(level));
    BOOST_TEST(t.seqno().has_value() == (level >= trailer_level::seqno));
    BOOST_TEST(t.sender().has_value() == (level >= trailer_level::sender));
    BOOST_TEST(t.audit().has_value() == (level >= trailer_level::audit));
    BOOST_TEST(t.context().has_value() == (level >= trailer_level::context));
  }
}

BOOST_AUTO_TEST_SUITE_END()
