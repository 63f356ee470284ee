# Cross-build for macOS 13+ on x86_64 with zig 0.11 (see zig-macos.cmake).
set(MACHPORT_ZIG_TARGET "x86_64-macos.13.0")
set(CMAKE_SYSTEM_PROCESSOR x86_64)
include("${CMAKE_CURRENT_LIST_DIR}/zig-macos.cmake")
