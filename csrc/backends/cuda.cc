// The CUDA backend: frames stay in the GPU memory NVIDIA's elements (nvcodec: nvh264dec, cudaupload,
// ...) put them in (caps feature memory:CUDAMemory); a frame is described by its allocation's device
// pointer, plane offsets and pitches, and a cuIpcGetMemHandle handle another process can open.
// libcuda.so.1 is loaded at run time (dlopen/dlsym, a few prototypes of our own: Debian has no
// cuda.h in main), so one binary runs with or without NVIDIA's driver. Nothing links against CUDA.
// Threads: probe runs on the JS thread; describe on the upstream streaming thread. The driver API
// table is filled once (a function-local static) and is immutable afterwards.
#include "backends/cuda.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace fs {

namespace {

// ---------------------------------------------------------------------------------------------
// The CUDA driver API, as much as we use (values from NVIDIA's cuda.h, stable since CUDA 4).

using CUresult = int;
using CUdevice = int;
using CUcontext = void*;
using CUdeviceptr = unsigned long long;
struct CUipcMemHandle {
  char reserved[64];
};
static_assert(sizeof(CUipcMemHandle) == 64, "CU_IPC_HANDLE_SIZE is 64");

constexpr CUresult kCudaSuccess = 0;
constexpr int kAttrComputeCapabilityMajor = 75;  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
constexpr int kAttrComputeCapabilityMinor = 76;  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
constexpr int kPointerAttrContext = 1;           // CU_POINTER_ATTRIBUTE_CONTEXT
constexpr int kPointerAttrDeviceOrdinal = 9;     // CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL
constexpr int kPointerAttrRangeStart = 11;       // CU_POINTER_ATTRIBUTE_RANGE_START_ADDR

// GStreamer's gstcudamemory.h (gst-plugins-bad 1.20+): map the device memory instead of a host copy.
constexpr unsigned kGstMapCuda = GST_MAP_FLAG_LAST << 1;
// GST_CUDA_MEMORY_TYPE_NAME: the mem_type of GstCudaAllocator's memories.
constexpr const char* kCudaMemoryType = "gst.cuda.memory";

struct CudaApi {
  // Why the API cannot be used ("" when it can).
  std::string error;
  CUresult initResult = kCudaSuccess;
  int deviceCount = 0;
  int driverVersion = 0;  // 12040 for CUDA 12.4; 0 when unknown
  // Required: without any of these the backend is unavailable.
  CUresult (*init)(unsigned) = nullptr;
  CUresult (*deviceGetCount)(int*) = nullptr;
  CUresult (*deviceGet)(CUdevice*, int) = nullptr;
  CUresult (*deviceGetName)(char*, int, CUdevice) = nullptr;
  CUresult (*deviceGetAttribute)(int*, int, CUdevice) = nullptr;
  CUresult (*pointerGetAttribute)(void*, int, CUdeviceptr) = nullptr;
  CUresult (*ctxPushCurrent)(CUcontext) = nullptr;
  CUresult (*ctxPopCurrent)(CUcontext*) = nullptr;
  CUresult (*ipcGetMemHandle)(CUipcMemHandle*, CUdeviceptr) = nullptr;
  // Optional: used when present.
  CUresult (*getErrorName)(CUresult, const char**) = nullptr;
  CUresult (*driverGetVersion)(int*) = nullptr;
  CUresult (*deviceTotalMem)(size_t*, CUdevice) = nullptr;

  std::string errorName(CUresult r) const {
    const char* name = nullptr;
    if (getErrorName && getErrorName(r, &name) == kCudaSuccess && name)
      return std::string(name) + " (" + std::to_string(r) + ")";
    return "error " + std::to_string(r);
  }
};

template <typename F>
bool bind(void* lib, const char* symbol, F* fn) {
  *fn = reinterpret_cast<F>(dlsym(lib, symbol));
  return *fn != nullptr;
}

CudaApi loadCuda() {
  CudaApi api;
  // Kept loaded once found: libcuda does not support being unloaded and loaded again.
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!lib) {
    api.error =
        "libcuda.so.1 not found: install NVIDIA's driver (Debian: nvidia-driver and libcuda1 from non-free; "
        "or NVIDIA's own installer)";
    return api;
  }
  // The _v2 names are the ones cuda.h maps the plain names to since CUDA 3.2/4.0.
  const char* missing = nullptr;
  auto require = [&](const char* symbol, auto* fn) {
    if (!missing && !bind(lib, symbol, fn)) missing = symbol;
  };
  require("cuInit", &api.init);
  require("cuDeviceGetCount", &api.deviceGetCount);
  require("cuDeviceGet", &api.deviceGet);
  require("cuDeviceGetName", &api.deviceGetName);
  require("cuDeviceGetAttribute", &api.deviceGetAttribute);
  require("cuPointerGetAttribute", &api.pointerGetAttribute);
  require("cuCtxPushCurrent_v2", &api.ctxPushCurrent);
  require("cuCtxPopCurrent_v2", &api.ctxPopCurrent);
  require("cuIpcGetMemHandle", &api.ipcGetMemHandle);
  bind(lib, "cuGetErrorName", &api.getErrorName);
  bind(lib, "cuDriverGetVersion", &api.driverGetVersion);
  bind(lib, "cuDeviceTotalMem_v2", &api.deviceTotalMem);
  if (missing) {
    api.error =
        std::string("libcuda.so.1 has no ") + missing + ": the NVIDIA driver is too old or the library is not NVIDIA's";
    return api;
  }
  if (api.driverGetVersion) api.driverGetVersion(&api.driverVersion);
  api.initResult = api.init(0);
  if (api.initResult != kCudaSuccess) {
    api.error = "libcuda.so.1 is present but cuInit failed: " + api.errorName(api.initResult) +
                ". Is the NVIDIA kernel module loaded, and /dev/nvidia* readable by this user?";
    return api;
  }
  CUresult r = api.deviceGetCount(&api.deviceCount);
  if (r != kCudaSuccess || api.deviceCount <= 0) {
    api.deviceCount = 0;
    api.error = "libcuda.so.1 initialised but found no CUDA device" +
                (r != kCudaSuccess ? ": " + api.errorName(r) : std::string()) +
                " (check nvidia-smi and CUDA_VISIBLE_DEVICES)";
  }
  return api;
}

const CudaApi& cuda() {
  static const CudaApi api = loadCuda();
  return api;
}

// The registry's view of nvcodec: which of its elements exist (no plugin is loaded by this).
bool haveFactory(const char* name) {
  GstElementFactory* f = gst_element_factory_find(name);
  if (!f) return false;
  gst_object_unref(f);
  return true;
}

std::string nvcodecProblem() {
  static const char* const decoders[] = {"nvh264dec", "nvh265dec",   "nvvp9dec",
                                         "nvav1dec",  "nvh264sldec", "nvh265sldec"};
  bool decoder = false;
  for (const char* d : decoders) decoder = decoder || haveFactory(d);
  bool upload = haveFactory("cudaupload");
  if (decoder && upload) return "";
  GstPlugin* plugin = gst_registry_find_plugin(gst_registry_get(), "nvcodec");
  if (!plugin) {
    return "GStreamer's nvcodec plugin is not installed (Debian: gstreamer1.0-plugins-bad, 1.20 or newer)";
  }
  gst_object_unref(plugin);
  if (!decoder && !upload) {
    return "GStreamer's nvcodec plugin registered no CUDA element: it needs libcuda.so.1 and libnvcuvid.so.1 from "
           "the NVIDIA driver (Debian: libnvcuvid1 from non-free) when GStreamer scans it. If the driver was "
           "installed after that scan, delete ~/.cache/gstreamer-1.0/registry.*.bin; `gst-inspect-1.0 nvcodec` "
           "lists what it registers";
  }
  return decoder ? "nvcodec has no cudaupload element (GStreamer 1.20 or newer is needed)"
                 : "nvcodec registered no NVIDIA decoder (nvh264dec, ...): libnvcuvid.so.1 from the NVIDIA driver "
                   "is missing (Debian: libnvcuvid1 from non-free)";
}

BackendProbe probe(const BackendSetup&) {
  BackendProbe p;
  const CudaApi& api = cuda();
  if (!api.error.empty()) {
    p.reason = api.error;
    return p;
  }
  std::string detail;
  if (api.driverVersion > 0) {
    detail = "CUDA driver " + std::to_string(api.driverVersion / 1000) + "." +
             std::to_string(api.driverVersion % 1000 / 10) + "; ";
  }
  for (int i = 0; i < api.deviceCount; i++) {
    BackendDevice d;
    d.index = i;
    CUdevice dev = 0;
    char name[256] = {0};
    int major = 0, minor = 0;
    if (api.deviceGet(&dev, i) == kCudaSuccess) {
      api.deviceGetName(name, sizeof name - 1, dev);
      api.deviceGetAttribute(&major, kAttrComputeCapabilityMajor, dev);
      api.deviceGetAttribute(&minor, kAttrComputeCapabilityMinor, dev);
      size_t bytes = 0;
      if (api.deviceTotalMem && api.deviceTotalMem(&bytes, dev) == kCudaSuccess) d.memory = bytes;
    }
    d.name = name;
    d.capability = std::to_string(major) + "." + std::to_string(minor);
    detail += (i ? ", " : "") + std::to_string(i) + ": " + d.name + " (compute " + d.capability + ")";
    p.devices.push_back(std::move(d));
  }
  p.detail = detail;
  p.reason = nvcodecProblem();
  p.available = p.reason.empty();
  return p;
}

// The 64-byte IPC handle of an allocation, made once per GstMemory and kept on it as qdata: the
// pools reuse memory, and cuIpcGetMemHandle is a driver call. A failure is kept too (an empty
// string), so that it is not retried per frame.
GQuark ipcQuark() {
  static GQuark q = g_quark_from_static_string("frame-source-cuda-ipc");
  return q;
}

const std::string* ipcHandleOf(GstMemory* mem, CUcontext ctx, CUdeviceptr base) {
  auto* cached = static_cast<std::string*>(gst_mini_object_get_qdata(GST_MINI_OBJECT_CAST(mem), ipcQuark()));
  if (cached) return cached;
  const CudaApi& api = cuda();
  auto* handle = new std::string();
  // cuIpcGetMemHandle needs the allocation's context current on this thread.
  if (api.ctxPushCurrent(ctx) == kCudaSuccess) {
    CUipcMemHandle h;
    CUresult r = api.ipcGetMemHandle(&h, base);
    CUcontext popped = nullptr;
    api.ctxPopCurrent(&popped);
    if (r == kCudaSuccess)
      handle->assign(h.reserved, sizeof h.reserved);
    else
      GST_WARNING("cuIpcGetMemHandle failed: %s", api.errorName(r).c_str());
  }
  gst_mini_object_set_qdata(GST_MINI_OBJECT_CAST(mem), ipcQuark(), handle,
                            [](gpointer p) { delete static_cast<std::string*>(p); });
  return handle;
}

// GstCudaMemory's public fields (gst-plugins-bad 1.22 gstcudamemory.h): the memory, its
// GstCudaContext, and the GstVideoInfo its planes were allocated for (pitch included). Read only
// when the library is 1.22 or newer and the buffer has no GstVideoMeta.
struct CudaMemory122 {
  GstMemory mem;
  GstObject* context;
  GstVideoInfo info;
};

// Called from the streaming thread with a buffer that reached the sink.
bool describe(GstBuffer* buf, const GstVideoInfo& info, FrameHandles* out) {
  const CudaApi& api = cuda();
  if (!api.error.empty() || gst_buffer_n_memory(buf) != 1) return false;
  GstMemory* mem = gst_buffer_peek_memory(buf, 0);
  if (!gst_memory_is_type(mem, kCudaMemoryType)) return false;
  // The device pointer: GstCudaMemory is one pitched allocation holding every plane. The pointer
  // stays valid after unmap, for as long as the memory lives (the frame holds its buffer).
  GstMapInfo map;
  if (!gst_memory_map(mem, &map, static_cast<GstMapFlags>(GST_MAP_READ | kGstMapCuda))) return false;
  auto pointer = static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(map.data));
  gst_memory_unmap(mem, &map);
  // The allocation's base (IPC handles are made for bases), its context and device, from the
  // driver itself: no need for the GstCudaContext's handle.
  CUdeviceptr base = pointer;
  CUcontext ctx = nullptr;
  int device = -1;
  api.pointerGetAttribute(&base, kPointerAttrRangeStart, pointer);
  if (api.pointerGetAttribute(&ctx, kPointerAttrContext, pointer) != kCudaSuccess) ctx = nullptr;
  if (api.pointerGetAttribute(&device, kPointerAttrDeviceOrdinal, pointer) != kCudaSuccess) device = -1;
  if (base > pointer) base = pointer;
  uint64_t delta = pointer - base;
  // GstCudaAllocator makes one allocation per memory, so delta is 0; JS lays download()'s bytes out
  // with frame.cuda's plane offsets, which are from the base.
  if (delta != 0) GST_WARNING("CUDA memory starts %" G_GUINT64_FORMAT " bytes into its allocation", delta);

  // Planes: GstVideoMeta when the buffer has one; else the memory's own video info (1.22+); else the caps.
  const GstVideoInfo* layout = &info;
  GstVideoMeta* meta = gst_buffer_get_video_meta(buf);
  if (!meta) {
    guint major = 0, minor = 0, micro = 0, nano = 0;
    gst_version(&major, &minor, &micro, &nano);
    if (major > 1 || minor >= 22) layout = &reinterpret_cast<CudaMemory122*>(mem)->info;
  }
  guint planes = meta ? meta->n_planes : GST_VIDEO_INFO_N_PLANES(layout);
  out->fourcc = 0;
  out->importable = true;
  out->planes.clear();
  for (guint p = 0; p < planes; p++) {
    HandlePlane plane;
    plane.offset = delta + (meta ? meta->offset[p] : GST_VIDEO_INFO_PLANE_OFFSET(layout, p));
    plane.stride = static_cast<uint32_t>(meta ? meta->stride[p] : GST_VIDEO_INFO_PLANE_STRIDE(layout, p));
    guint comp = 0;
    while (comp + 1 < GST_VIDEO_FORMAT_INFO_N_COMPONENTS(info.finfo) &&
           GST_VIDEO_FORMAT_INFO_PLANE(info.finfo, comp) != p)
      comp++;
    guint rows = GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT(info.finfo, comp, GST_VIDEO_INFO_HEIGHT(&info));
    plane.size = static_cast<uint64_t>(plane.stride) * rows;
    out->planes.push_back(plane);
  }
  out->cuda.present = true;
  out->cuda.device = device;
  out->cuda.pointer = base;
  out->cuda.ipcHandle.clear();
  if (ctx) {
    const std::string* h = ipcHandleOf(mem, ctx, base);
    out->cuda.ipcHandle = *h;
  }
  return true;
}

}  // namespace

// nvcodec elements allocate their own GPU memory (newPool nullptr: upstream's pool); frames that
// arrive in system memory are not taken (describe false) — lib/sources.ts puts cudaupload before
// the sink, so they do not arrive.
const Backend kCudaBackend = {"cuda", probe, "video/x-raw(memory:CUDAMemory)", nullptr, describe};

}  // namespace fs
