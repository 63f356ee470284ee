// Compile-time checks that the emulated SDK headers have the macOS 64-bit user layouts.
#include <bsm/libbsm.h>
#include <mach/mach.h>
#include <mach/mach_vm.h>
#include <mach/notify.h>
#include <servers/bootstrap.h>

#include <cstddef>

static_assert(sizeof(mach_msg_header_t) == 24);
static_assert(offsetof(mach_msg_header_t, msgh_size) == 4);
static_assert(offsetof(mach_msg_header_t, msgh_remote_port) == 8);
static_assert(offsetof(mach_msg_header_t, msgh_local_port) == 12);
static_assert(offsetof(mach_msg_header_t, msgh_voucher_port) == 16);
static_assert(offsetof(mach_msg_header_t, msgh_id) == 20);
static_assert(sizeof(mach_msg_body_t) == 4);
static_assert(sizeof(mach_msg_base_t) == 28);
static_assert(sizeof(mach_msg_type_descriptor_t) == 12);
static_assert(sizeof(mach_msg_port_descriptor_t) == 12);
static_assert(sizeof(mach_msg_ool_descriptor_t) == 16);
static_assert(sizeof(mach_msg_ool_descriptor64_t) == 16);
static_assert(sizeof(mach_msg_ool_descriptor32_t) == 12);
static_assert(sizeof(mach_msg_ool_ports_descriptor_t) == 16);
static_assert(sizeof(mach_msg_guarded_port_descriptor_t) == 16);
static_assert(offsetof(mach_msg_guarded_port_descriptor_t, name) == 12);
static_assert(sizeof(mach_msg_descriptor_t) == 16);
static_assert(alignof(mach_msg_ool_descriptor_t) == 4);
static_assert(sizeof(mach_msg_trailer_t) == 8);
static_assert(sizeof(mach_msg_seqno_trailer_t) == 12);
static_assert(sizeof(mach_msg_security_trailer_t) == 20);
static_assert(sizeof(mach_msg_audit_trailer_t) == 52);
static_assert(sizeof(mach_msg_context_trailer_t) == 60);
static_assert(offsetof(mach_msg_context_trailer_t, msgh_context) == 52);
static_assert(sizeof(mach_msg_mac_trailer_t) == 68);
static_assert(offsetof(mach_msg_mac_trailer_t, msgh_ad) == 60);
static_assert(offsetof(mach_msg_mac_trailer_t, msgh_labels) == 64);
static_assert(MAX_TRAILER_SIZE == 68);
static_assert(sizeof(audit_token_t) == 32);
static_assert(sizeof(security_token_t) == 8);
static_assert(sizeof(mach_port_status_t) == 40);
static_assert(MACH_PORT_RECEIVE_STATUS_COUNT == 10);
static_assert(MACH_PORT_LIMITS_INFO_COUNT == 1);
static_assert(sizeof(mach_port_options_t) == 24);
static_assert(offsetof(mach_port_options_t, reserved) == 8);
static_assert(sizeof(mach_port_info_ext_t) == 68);
static_assert(sizeof(NDR_record_t) == 8);
static_assert(sizeof(mach_no_senders_notification_t) == 56);
static_assert(sizeof(mach_port_destroyed_notification_t) == 60);
static_assert(sizeof(mach_send_once_notification_t) == 44);
static_assert(sizeof(mach_dead_name_notification_t) == 56);
static_assert(sizeof(mach_port_context_t) == 8);
static_assert(sizeof(boolean_t) == 4);
static_assert(sizeof(name_t) == 128);
static_assert(REQUESTED_TRAILER_SIZE(MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT)) == 52);
static_assert(REQUESTED_TRAILER_SIZE(MACH_RCV_TRAILER_ELEMENTS(5)) == 68);
static_assert(MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND, 0, 0) == 0x1413);
static_assert(MACH_NOTIFY_DEAD_NAME == 0x48 && MACH_NOTIFY_PORT_DELETED == 0x41 &&
              MACH_NOTIFY_SEND_POSSIBLE == 0x42 && MACH_NOTIFY_PORT_DESTROYED == 0x45 &&
              MACH_NOTIFY_NO_SENDERS == 0x46 && MACH_NOTIFY_SEND_ONCE == 0x47 &&
              MACH_NOTIFY_LAST == 0x4d);
static_assert(MACH_PORT_TYPE_DEAD_NAME == 0x100000 && MACH_PORT_TYPE_SEND_RECEIVE == 0x30000);
static_assert(err_get_system(MACH_SEND_INVALID_DEST) == 4);
