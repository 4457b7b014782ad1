// The CUDA backend (NVIDIA): libcuda.so.1 is loaded at run time, so one binary runs everywhere.
#pragma once

#include "backends/backend.h"

namespace fs {
extern const Backend kCudaBackend;
}  // namespace fs
