// The CPU backend: frames in SharedArrayBuffer slots of the ring (GstSlotPool), the default.
#pragma once

#include "backends/backend.h"

namespace fs {
extern const Backend kCpuBackend;
}  // namespace fs
