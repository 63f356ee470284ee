# Cross-build for macOS 13+ on arm64 with zig 0.11 (see zig-macos.cmake).
set(MACHPORT_ZIG_TARGET "aarch64-macos.13.0")
set(CMAKE_SYSTEM_PROCESSOR arm64)
include("${CMAKE_CURRENT_LIST_DIR}/zig-macos.cmake")
