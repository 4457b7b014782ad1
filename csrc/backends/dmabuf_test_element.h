// fsdmabufwrap: a test-only element that copies raw video into memfd-backed DMA-BUF memory and
// outputs it as video/x-raw(memory:DMABuf), the way a hardware decoder hands out dma-bufs. It lets
// the test suite drive the dmabuf backend's first path (upstream makes the dma-bufs) on a machine
// without a GPU. Registered only when FRAME_SOURCE_TEST_ELEMENTS=1 is set at load time.
// Properties: mappable=false gives each buffer /dev/null's fd instead (no mmap: memory the CPU
// cannot map, as a tiled or protected hardware dma-buf; nothing is written); dmabuf-caps=false
// sends the dma-bufs out under system-memory caps, as v4l2src io-mode=dmabuf does.
#pragma once

namespace fs {
// JS thread, once per process: registers the element if the environment asks for it.
void registerTestElements();
}  // namespace fs
