// The CUDA backend: so far its probe only (libcuda.so.1, loaded at run time with dlopen, never
// linked). Frames in CUDA memory are the second part of the GPU work. Runs on the JS thread.
#include "backends/cuda.h"

#include <dlfcn.h>

#include <string>

namespace fs {

namespace {

using CUresult = int;
using CuInit = CUresult (*)(unsigned int);
using CuDeviceGetCount = CUresult (*)(int*);

BackendProbe probe(const BackendSetup&) {
  BackendProbe p;
  // Kept loaded once found: libcuda does not support being unloaded and loaded again.
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!lib) {
    p.reason = "libcuda.so.1 not found (install NVIDIA's driver; Debian: nvidia-driver from non-free)";
    return p;
  }
  auto init = reinterpret_cast<CuInit>(dlsym(lib, "cuInit"));
  auto count = reinterpret_cast<CuDeviceGetCount>(dlsym(lib, "cuDeviceGetCount"));
  int n = 0;
  if (!init || !count || init(0) != 0 || count(&n) != 0 || n == 0) {
    p.reason = "libcuda.so.1 is present but no CUDA device could be initialised";
    return p;
  }
  p.detail = std::to_string(n) + " CUDA device(s)";
  p.reason = "CUDA frames are not implemented in this version of frame-source (CPU and DMA-BUF are)";
  return p;
}

}  // namespace

const Backend kCudaBackend = {"cuda", probe, "video/x-raw(memory:CUDAMemory)", nullptr, nullptr};

}  // namespace fs
