/*
 * machport: stand-in for the macOS SDK's <servers/bootstrap.h>, used ONLY by the zig cross
 * build. As in the SDK, the declarations are in <bootstrap.h>.
 */
#ifndef MACHPORT_MACOS_SDK_SHIM_SERVERS_BOOTSTRAP_H
#define MACHPORT_MACOS_SDK_SHIM_SERVERS_BOOTSTRAP_H
#include <bootstrap.h>
#endif
