// The backend seam: how frames are handed over (CPU slots, DMA-BUF fds, ...). Each backend is one
// file pair in this folder that fills a Backend; backends.cc lists them in one table, and the core
// (pipeline.cc) asks the table and never names a backend. Modelled on FFmpeg's hwcontext types.
// Threads: probe runs on the JS thread; newPool and describe on the upstream streaming thread.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fs {

class SlotRing;

// The options a backend is set up with (already validated in lib/options.ts).
struct BackendSetup {
  std::shared_ptr<SlotRing> ring;  // the CPU ring (copies, downloads)
  uint32_t ringSize = 8;           // buffers in flight upstream, queued and held together
  int dmabufAllocator = 0;         // 0 auto, 1 dma-heap, 2 udmabuf, 3 memfd
  // Called on the allocating (streaming) thread when a pool from newPool cannot allocate memory
  // for a buffer, with why ("... Too many open files"): the element that asked then only reports
  // a failed flow, so this is the reason the user sees.
  std::function<void(const std::string& why)> allocFailed;
};

// A GPU a backend can use (cuda).
struct BackendDevice {
  int index = 0;
  std::string name;
  std::string capability;  // compute capability, "8.6"
  uint64_t memory = 0;     // bytes; 0 when unknown
};

struct BackendProbe {
  bool available = false;
  std::string reason;  // why not (empty when available)
  std::string detail;  // what was found (allocator, devices, ...)
  // Whether frames made in system memory (software decoders, videotestsrc, cameras) can be had
  // through it: false for dmabuf with no allocator, which only takes frames upstream puts in dma-bufs.
  bool systemMemory = true;
  std::vector<BackendDevice> devices;
};

// One plane of a frame that lives outside the CPU ring, as a consumer imports it.
struct HandlePlane {
  int fd = -1;          // owned by the frame's memory: valid while the frame is held
  uint64_t offset = 0;  // of the plane in that fd
  uint32_t stride = 0;
  uint64_t size = 0;  // bytes of the plane (stride × rows)
};

// A frame in CUDA device memory: one allocation holding every plane (planes' fd is -1, their
// offsets are from `pointer`).
struct CudaHandle {
  bool present = false;
  int device = -1;        // CUDA device ordinal
  uint64_t pointer = 0;   // CUdeviceptr of the allocation's base
  std::string ipcHandle;  // 64 bytes from cuIpcGetMemHandle; empty when the driver refused
};

struct FrameHandles {
  uint32_t fourcc = 0;     // DRM fourcc (dmabuf)
  bool importable = true;  // false for plain shared memory (memfd): mappable, not importable by a GPU
  std::vector<HandlePlane> planes;
  CudaHandle cuda;
};

struct Backend {
  const char* name;
  // JS thread: whether the backend can work here, and why not.
  BackendProbe (*probe)(const BackendSetup& setup);
  // The caps the sink accepts, in preference order (gst_caps_from_string syntax).
  const char* sinkCaps;
  // Streaming thread, ALLOCATION query: (transfer full) a new pool to offer upstream, unconfigured;
  // nullptr declines (upstream allocates, and the sink copies).
  GstBufferPool* (*newPool)(const BackendSetup& setup);
  // Streaming thread: describes a buffer that reached the sink; false when its memory is not of
  // this backend (the core then copies it into a buffer of a pool from newPool). nullptr: the CPU
  // backend, whose frames are ring slots (the core's own bookkeeping).
  bool (*describe)(GstBuffer* buffer, const GstVideoInfo& info, FrameHandles* out);
};

// Every backend built into this binary, in the table's order ("cpu" first).
const std::vector<const Backend*>& allBackends();
// nullptr when no backend has that name.
const Backend* findBackend(const std::string& name);

}  // namespace fs
