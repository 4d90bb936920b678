# Cross-compile for 32-bit ARM (armhf) handhelds with Debian multiarch
# (deploy/cross armhf installs g++-arm-linux-gnueabihf and the :armhf -dev packages).
# Tests run under qemu-user (qemu-arm -L /usr/arm-linux-gnueabihf). See issue #8.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
# Debian multiarch: the :armhf libraries are in /usr/lib/arm-linux-gnueabihf (found under the
# root "/" through CMAKE_LIBRARY_ARCHITECTURE), the cross libc in /usr/arm-linux-gnueabihf.
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf /)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm;-L;/usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# GCC notes on every std::map/vector iterator passed by value that the ARM
# ABI for such arguments changed in GCC 7.1: nothing here mixes code built by
# older compilers (all from one Debian release), so the note is noise.
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")
