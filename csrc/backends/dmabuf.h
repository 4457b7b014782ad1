// The DMA-BUF backend (Linux): frames as dma-buf file descriptors, importable by EGL, Vulkan, VA-API
// and Electron's sharedTexture. Upstream either produces memory:DMABuf itself (hardware decoders,
// v4l2), or writes into buffers of our pool, allocated from /dev/dma_heap/system, /dev/udmabuf, or
// (for tests and inter-process sharing, not importable by a GPU) a plain memfd.
#pragma once

#include "backends/backend.h"

namespace fs {
extern const Backend kDmabufBackend;
}  // namespace fs
