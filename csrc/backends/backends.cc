// The one table of backends. Adding a backend: its file pair, one line here, binding.gyp, and the
// `backend` option's type in lib/backends.ts. Runs on any thread (the table is immutable).
#include "backends/backend.h"

#include "backends/cpu.h"
#include "backends/cuda.h"
#ifdef __linux__
#include "backends/dmabuf.h"
#endif

namespace fs {

const std::vector<const Backend*>& allBackends() {
  // An IOSurface backend would be one more file pair here, behind __APPLE__ (OS=="mac" in
  // binding.gyp); lib/backends.ts reports backends missing from this table as not built for here.
  static const std::vector<const Backend*> table = {
      &kCpuBackend,
#ifdef __linux__
      &kDmabufBackend,
#endif
      &kCudaBackend,
  };
  return table;
}

const Backend* findBackend(const std::string& name) {
  for (const Backend* b : allBackends()) {
    if (name == b->name) return b;
  }
  return nullptr;
}

}  // namespace fs
