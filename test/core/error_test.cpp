// Error categories and result<T>.
#include "core_util.hpp"

#include "support/leak_check.hpp"

#include <mach/mach_error.h>

using namespace machport;

BOOST_FIXTURE_TEST_SUITE(errors, machport_test::leak_check)

BOOST_AUTO_TEST_CASE(kern_messages_name_the_constant) {
  BOOST_TEST(make_kern_error(KERN_INVALID_NAME).message() == "KERN_INVALID_NAME");
  BOOST_TEST(make_kern_error(KERN_INVALID_RIGHT).message() == "KERN_INVALID_RIGHT");
  BOOST_TEST(make_kern_error(KERN_DENIED).message() == "KERN_DENIED");
  BOOST_TEST(make_kern_error(-303).message() == "MIG_BAD_ID");
  BOOST_TEST(make_kern_error(999).message() == "kern_return_t 0x3e7");
  BOOST_TEST(!make_kern_error(KERN_SUCCESS));
  BOOST_TEST(std::string(kern_category().name()) == "mach.kern");
  BOOST_TEST(make_kern_error(KERN_INVALID_ARGUMENT) == boost::system::errc::invalid_argument);
  BOOST_TEST(make_kern_error(KERN_INVALID_NAME) != boost::system::errc::invalid_argument);
}

BOOST_AUTO_TEST_CASE(msg_messages_keep_bits) {
  BOOST_TEST(make_msg_error(MACH_SEND_INVALID_DEST).message() == "MACH_SEND_INVALID_DEST");
  BOOST_TEST(make_msg_error(MACH_RCV_TOO_LARGE).message() == "MACH_RCV_TOO_LARGE");
  BOOST_TEST(make_msg_error(MACH_RCV_BODY_ERROR | MACH_MSG_IPC_SPACE).message() ==
             "MACH_RCV_BODY_ERROR|MACH_MSG_IPC_SPACE");
  BOOST_TEST(make_msg_error(MACH_RCV_HEADER_ERROR | MACH_MSG_VM_SPACE | MACH_MSG_IPC_KERNEL).message() ==
             "MACH_RCV_HEADER_ERROR|MACH_MSG_VM_SPACE|MACH_MSG_IPC_KERNEL");
  BOOST_TEST(make_msg_error(MACH_SEND_INVALID_MEMORY | MACH_MSG_VM_KERNEL).value() ==
             static_cast<int>(MACH_SEND_INVALID_MEMORY | MACH_MSG_VM_KERNEL));
  BOOST_TEST(make_msg_error(0x10000077).message() == "mach_msg_return_t 0x10000077");
  BOOST_TEST(make_msg_error(MACH_SEND_TIMED_OUT) == boost::system::errc::timed_out);
  BOOST_TEST(make_msg_error(MACH_RCV_TIMED_OUT) == boost::system::errc::timed_out);
  BOOST_TEST(make_msg_error(MACH_RCV_INTERRUPTED) == boost::system::errc::interrupted);
  BOOST_TEST(std::string(msg_category().name()) == "mach.msg");
  // the same integer in two categories is two different errors
  BOOST_TEST(make_msg_error(4) != make_kern_error(4));
}

BOOST_AUTO_TEST_CASE(bootstrap_messages) {
  BOOST_TEST(make_bootstrap_error(1102).message() == "BOOTSTRAP_UNKNOWN_SERVICE");
  BOOST_TEST(make_bootstrap_error(1101).message() == "BOOTSTRAP_NAME_IN_USE");
  BOOST_TEST(make_bootstrap_error(KERN_INVALID_ARGUMENT).message() == "KERN_INVALID_ARGUMENT");
  BOOST_TEST(make_bootstrap_error(MACH_SEND_INVALID_DEST).message() == "MACH_SEND_INVALID_DEST");
  BOOST_TEST(make_bootstrap_error(7777).message() == "bootstrap error 0x1e61");
  BOOST_TEST(std::string(bootstrap_category().name()) == "mach.bootstrap");
}

BOOST_AUTO_TEST_CASE(message_errors) {
  boost::system::error_code ec = message_errc::unknown_descriptor_type;
  BOOST_TEST(ec.message() == "unknown descriptor type");
  BOOST_TEST(std::string(message_category().name()) == "machport.message");
  BOOST_TEST(make_error_code(message_errc::unexpected_complex_bit).message() == "unexpected COMPLEX bit");
  BOOST_TEST(boost::system::error_code(99, message_category()).message() == "machport message error 0x63");
}

BOOST_AUTO_TEST_CASE(result_value_throws_only_when_asked) {
  result<int> r = make_kern_error(KERN_INVALID_NAME);
  BOOST_TEST(r.has_error());
  BOOST_TEST(r.error() == make_kern_error(KERN_INVALID_NAME));
  BOOST_CHECK_THROW(r.value(), boost::system::system_error);
  try {
    (void)r.value();
  } catch (const boost::system::system_error& e) {
    BOOST_TEST(e.code() == make_kern_error(KERN_INVALID_NAME));
  }
  result<void> ok = success();
  BOOST_TEST(ok.has_value());
}

BOOST_AUTO_TEST_CASE(every_message_errc_has_a_name) {
  for (int v = 0; v <= static_cast<int>(message_errc::last_); ++v) {
    const auto text = boost::system::error_code(v, message_category()).message();
    BOOST_TEST(text.find("machport message error") == std::string::npos, v);
  }
}

BOOST_AUTO_TEST_SUITE_END()
