// System calls through syscall(2) where glibc's wrapper is newer than the oldest glibc the prebuilds
// support (memfd_create is 2.27, fcntl became fcntl64 in 2.28): the kernel calls are much older.
// Used on any thread.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

namespace fs {

inline int memfdCreate(const char* name, unsigned int flags) {
  return static_cast<int>(syscall(SYS_memfd_create, name, flags));
}

inline int fcntlInt(int fd, int cmd, int arg) { return static_cast<int>(syscall(SYS_fcntl, fd, cmd, arg)); }

}  // namespace fs
