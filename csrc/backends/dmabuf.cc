// The DMA-BUF backend: see dmabuf.h. probe runs on the JS thread; the pool's set_config,
// acquire_buffer and alloc_buffer, and describe, on the upstream streaming thread; the pool's
// release_buffer and finalize on whichever thread returns a buffer or drops its last reference.
#include "backends/dmabuf.h"

#include <fcntl.h>
#include <gst/allocators/gstdmabuf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "util/idle_stack.h"
#include "util/old_glibc.h"

namespace {

enum Allocator { kAuto = 0, kDmaHeap = 1, kUdmabuf = 2, kMemfd = 3, kNone = -1 };

constexpr const char* kDmaHeapPath = "/dev/dma_heap/system";
constexpr const char* kUdmabufPath = "/dev/udmabuf";

const char* allocatorName(int allocator) {
  return allocator == kDmaHeap ? "dma-heap" : allocator == kUdmabuf ? "udmabuf" : "memfd";
}

// Opened as allocateFd opens it: the heap read-only (its ioctl needs no more), udmabuf read-write.
bool heapUsable() { return access(kDmaHeapPath, R_OK) == 0; }
bool udmabufUsable() { return access(kUdmabufPath, R_OK | W_OK) == 0; }

// Which allocator path 2 (upstream writes into our pool) uses; kNone when none can work here.
int resolveAllocator(int requested) {
  switch (requested) {
    case kDmaHeap:
      return heapUsable() ? kDmaHeap : kNone;
    case kUdmabuf:
      return udmabufUsable() ? kUdmabuf : kNone;
    case kMemfd:
      return kMemfd;
    default:
      if (heapUsable()) return kDmaHeap;
      if (udmabufUsable()) return kUdmabuf;
      return kNone;
  }
}

int memfdOfSize(size_t size, unsigned extraFlags) {
  int fd = fs::memfdCreate("frame-source", MFD_CLOEXEC | extraFlags);
  if (fd < 0) return -1;
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A new dma-buf (or memfd) fd of `size` bytes, or -1.
int allocateFd(int allocator, size_t size) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size = (size + page - 1) / page * page;
  if (allocator == kMemfd) return memfdOfSize(size, 0);
  if (allocator == kDmaHeap) {
    int heap = open(kDmaHeapPath, O_RDONLY | O_CLOEXEC);
    if (heap < 0) return -1;
    dma_heap_allocation_data data{};
    data.len = size;
    data.fd_flags = O_RDWR | O_CLOEXEC;
    int r = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data);
    close(heap);
    return r < 0 ? -1 : static_cast<int>(data.fd);
  }
  if (allocator == kUdmabuf) {
    int memfd = memfdOfSize(size, MFD_ALLOW_SEALING);
    if (memfd < 0) return -1;
    int dev = open(kUdmabufPath, O_RDWR | O_CLOEXEC);
    int fd = -1;
    if (dev >= 0 && fs::fcntlInt(memfd, F_ADD_SEALS, F_SEAL_SHRINK) == 0) {
      udmabuf_create create{};
      create.memfd = static_cast<uint32_t>(memfd);
      create.flags = UDMABUF_FLAGS_CLOEXEC;
      create.offset = 0;
      create.size = size;
      fd = ioctl(dev, UDMABUF_CREATE, &create);
    }
    if (dev >= 0) close(dev);
    close(memfd);  // the dma-buf keeps the pages
    return fd;
  }
  return -1;
}

// Memory we allocated from a plain memfd is marked, so frames can say they are not importable.
GQuark memfdQuark() {
  static GQuark q = g_quark_from_static_string("frame-source-memfd");
  return q;
}

// Whether some installed element can output memory:DMABuf (hardware decoders, v4l2, vapostproc).
// Reads the registry's pad templates only: no plugin is loaded.
bool haveDmabufProducer() {
  static int cached = -1;
  if (cached >= 0) return cached == 1;
  // Every element factory (the factory-type filters would miss elements of unusual classes).
  GList* factories = gst_registry_get_feature_list(gst_registry_get(), GST_TYPE_ELEMENT_FACTORY);
  bool found = false;
  for (GList* l = factories; l && !found; l = l->next) {
    auto* f = GST_ELEMENT_FACTORY(l->data);
    for (const GList* t = gst_element_factory_get_static_pad_templates(f); t && !found; t = t->next) {
      auto* tmpl = static_cast<GstStaticPadTemplate*>(t->data);
      if (tmpl->direction != GST_PAD_SRC) continue;
      GstCaps* caps = gst_static_caps_get(&tmpl->static_caps);
      for (guint i = 0; caps && i < gst_caps_get_size(caps) && !found; i++) {
        GstCapsFeatures* features = gst_caps_get_features(caps, i);
        // Pass-through elements say ANY (which "contains" every feature): they make no dma-buf.
        found = features && !gst_caps_features_is_any(features) &&
                gst_caps_features_contains(features, GST_CAPS_FEATURE_MEMORY_DMABUF);
      }
      if (caps) gst_caps_unref(caps);
    }
  }
  gst_plugin_feature_list_free(factories);
  cached = found ? 1 : 0;
  return found;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// GstDmabufSlotPool: a buffer pool whose buffers are one dma-buf (or memfd) each.

struct DmabufPoolState {
  int allocator = kNone;
  GstAllocator* fdAllocator = nullptr;
  GstVideoInfo info;
  bool addMeta = false;
  size_t size = 0;
  std::function<void(const std::string&)> allocFailed;  // BackendSetup::allocFailed
  fs::IdleStack idle;                                   // idle buffers, the one returned last handed out first
};

struct GstDmabufSlotPool {
  GstBufferPool parent;
  DmabufPoolState* state;
};
struct GstDmabufSlotPoolClass {
  GstBufferPoolClass parent_class;
};

G_DEFINE_TYPE(GstDmabufSlotPool, gst_dmabuf_slot_pool, GST_TYPE_BUFFER_POOL)

namespace {

DmabufPoolState* stateOf(GstBufferPool* pool) { return reinterpret_cast<GstDmabufSlotPool*>(pool)->state; }

const gchar** poolOptions(GstBufferPool*) {
  static const gchar* options[] = {GST_BUFFER_POOL_OPTION_VIDEO_META, nullptr};
  return options;
}

// Called from the upstream streaming thread (or ours, for the copy pool) when the pool is configured.
gboolean poolSetConfig(GstBufferPool* pool, GstStructure* config) {
  DmabufPoolState* st = stateOf(pool);
  GstCaps* caps = nullptr;
  guint size = 0, min = 0, max = 0;
  if (!gst_buffer_pool_config_get_params(config, &caps, &size, &min, &max) || caps == nullptr) return FALSE;
  if (!gst_video_info_from_caps(&st->info, caps)) return FALSE;
  st->size = std::max<size_t>(size, GST_VIDEO_INFO_SIZE(&st->info));
  st->addMeta = gst_buffer_pool_config_has_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  gst_buffer_pool_config_set_params(config, caps, static_cast<guint>(st->size), min, max);
  return GST_BUFFER_POOL_CLASS(gst_dmabuf_slot_pool_parent_class)->set_config(pool, config);
}

// A new buffer could not be made (`what`: "allocate" or "map"; err: errno, 0 when unknown): logs
// it, tells the pipeline why (BackendSetup::allocFailed), and fails the allocation.
GstFlowReturn allocFailed(GstBufferPool* pool, const char* what, int err) {
  DmabufPoolState* st = stateOf(pool);
  std::string why = std::string("could not ") + what + " a " + std::to_string(st->size) +
                    "-byte dma-buf for a frame (" + allocatorName(st->allocator) + " allocator)" +
                    (err != 0 ? std::string(": ") + g_strerror(err) : "");
  GST_ERROR_OBJECT(pool, "%s", why.c_str());
  if (st->allocFailed) st->allocFailed(why);
  return GST_FLOW_ERROR;
}

// Called from the streaming thread when the pool has no idle buffer and is below its max.
GstFlowReturn poolAllocBuffer(GstBufferPool* pool, GstBuffer** buffer, GstBufferPoolAcquireParams*) {
  DmabufPoolState* st = stateOf(pool);
  int fd = allocateFd(st->allocator, st->size);
  if (fd < 0) return allocFailed(pool, "allocate", errno);
  // The memory owns the fd from here on: it is closed when the memory is freed. Kept mapped once
  // mapped: without the flag every map (each frame upstream renders, each read) is an mmap and its
  // unmap a munmap, whose TLB shootdown cost more than the rest of a small frame's hand-off. CPU
  // access is still bracketed by the allocator's DMA_BUF_IOCTL_SYNC calls on every map and unmap.
  GstMemory* mem = gst_dmabuf_allocator_alloc_with_flags(st->fdAllocator, fd, st->size, GST_FD_MEMORY_FLAG_KEEP_MAPPED);
  // Mapped once for reading and writing now, so that every later map (upstream writing, a reader
  // reading) fits the mapping that stays: after a first map for writing alone, GstFdMemory would
  // mprotect the mapping for each read and each write after it, and refuse a write map while a
  // reader still held a read-only one. A buffer that cannot be mapped (no address space left) must
  // not be handed out: videotestsrc, for one, skips a frame it cannot map and pushes the buffer
  // unwritten, a blank frame, silently.
  GstMapInfo map;
  errno = 0;
  if (!gst_memory_map(mem, &map, GST_MAP_READWRITE)) {
    int err = errno;
    gst_memory_unref(mem);  // closes the fd
    return allocFailed(pool, "map", err);
  }
  gst_memory_unmap(mem, &map);
  if (st->allocator == kMemfd)
    gst_mini_object_set_qdata(GST_MINI_OBJECT_CAST(mem), memfdQuark(), GINT_TO_POINTER(1), nullptr);
  GstBuffer* buf = gst_buffer_new();
  gst_buffer_append_memory(buf, mem);
  if (st->addMeta) {
    GstVideoInfo* vi = &st->info;
    gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(vi), GST_VIDEO_INFO_WIDTH(vi),
                                   GST_VIDEO_INFO_HEIGHT(vi), GST_VIDEO_INFO_N_PLANES(vi), vi->offset, vi->stride);
  }
  *buffer = buf;
  return GST_FLOW_OK;
}

// Idle buffers go out the one returned last first (see util/idle_stack.h): fewer buffers in use,
// warmer in the CPU's caches, and fewer distinct dma-bufs for an importer that caches its imports.
GstFlowReturn poolAcquireBuffer(GstBufferPool* pool, GstBuffer** buffer, GstBufferPoolAcquireParams* params) {
  return stateOf(pool)->idle.acquire(GST_BUFFER_POOL_CLASS(gst_dmabuf_slot_pool_parent_class), pool, buffer, params);
}

void poolReleaseBuffer(GstBufferPool* pool, GstBuffer* buffer) {
  DmabufPoolState* st = stateOf(pool);
  st->idle.release(GST_BUFFER_POOL_CLASS(gst_dmabuf_slot_pool_parent_class), pool, buffer, st->size);
}

gboolean poolStop(GstBufferPool* pool) {
  return stateOf(pool)->idle.stop(GST_BUFFER_POOL_CLASS(gst_dmabuf_slot_pool_parent_class), pool);
}

void poolFinalize(GObject* obj) {
  auto* self = reinterpret_cast<GstDmabufSlotPool*>(obj);
  if (self->state->fdAllocator) gst_object_unref(self->state->fdAllocator);
  delete self->state;
  self->state = nullptr;
  G_OBJECT_CLASS(gst_dmabuf_slot_pool_parent_class)->finalize(obj);
}

}  // namespace

static void gst_dmabuf_slot_pool_class_init(GstDmabufSlotPoolClass* klass) {
  G_OBJECT_CLASS(klass)->finalize = poolFinalize;
  GstBufferPoolClass* pc = GST_BUFFER_POOL_CLASS(klass);
  pc->get_options = poolOptions;
  pc->set_config = poolSetConfig;
  pc->alloc_buffer = poolAllocBuffer;
  pc->acquire_buffer = poolAcquireBuffer;
  pc->release_buffer = poolReleaseBuffer;
  pc->stop = poolStop;
}

static void gst_dmabuf_slot_pool_init(GstDmabufSlotPool* self) { self->state = new DmabufPoolState(); }

namespace fs {

namespace {

BackendProbe probe(const BackendSetup& setup) {
  BackendProbe p;
  int allocator = resolveAllocator(setup.dmabufAllocator);
  switch (allocator) {
    case kDmaHeap:
      p.available = true;
      p.detail = std::string("allocator dma-heap (") + kDmaHeapPath + ")";
      return p;
    case kUdmabuf:
      p.available = true;
      p.detail = std::string("allocator udmabuf (") + kUdmabufPath + ")";
      return p;
    case kMemfd:
      p.available = true;
      p.detail =
          "allocator memfd: plain shared memory, mappable and passable to another process, not importable by a GPU";
      return p;
    default:
      break;
  }
  if (setup.dmabufAllocator == kDmaHeap) {
    p.reason = std::string("no usable ") + kDmaHeapPath + " (a kernel with the system DMA heap, and access to it)";
  } else if (setup.dmabufAllocator == kUdmabuf) {
    p.reason = std::string("no usable ") + kUdmabufPath + " (the udmabuf kernel module, and access to it)";
  } else if (haveDmabufProducer()) {
    // Path 1 only: frames that upstream already puts in dma-bufs.
    p.available = true;
    p.systemMemory = false;
    p.detail = std::string("DMA-BUF producing elements only (no ") + kDmaHeapPath + " or " + kUdmabufPath +
               " for frames made in system memory)";
  } else {
    p.reason = std::string("no ") + kDmaHeapPath + " or " + kUdmabufPath + ", and no DMA-BUF producing element";
  }
  return p;
}

GstBufferPool* newPool(const BackendSetup& setup) {
  int allocator = resolveAllocator(setup.dmabufAllocator);
  if (allocator == kNone) return nullptr;
  auto* pool = static_cast<GstDmabufSlotPool*>(g_object_new(gst_dmabuf_slot_pool_get_type(), nullptr));
  pool->state->allocator = allocator;
  pool->state->allocFailed = setup.allocFailed;
  pool->state->fdAllocator = gst_dmabuf_allocator_new();
  gst_object_ref_sink(pool);
  return GST_BUFFER_POOL(pool);
}

uint32_t fourcc(char a, char b, char c, char d) {
  return static_cast<uint32_t>(a) | static_cast<uint32_t>(b) << 8 | static_cast<uint32_t>(c) << 16 |
         static_cast<uint32_t>(d) << 24;
}

// DRM fourccs name bits of a little-endian word: GStreamer's RGBA (bytes R, G, B, A) is ABGR8888.
uint32_t drmFourcc(GstVideoFormat f) {
  switch (f) {
    case GST_VIDEO_FORMAT_NV12:
      return fourcc('N', 'V', '1', '2');
    case GST_VIDEO_FORMAT_RGBA:
      return fourcc('A', 'B', '2', '4');
    case GST_VIDEO_FORMAT_BGRA:
      return fourcc('A', 'R', '2', '4');
    case GST_VIDEO_FORMAT_RGBx:
      return fourcc('X', 'B', '2', '4');
    case GST_VIDEO_FORMAT_BGRx:
      return fourcc('X', 'R', '2', '4');
    default:
      return 0;
  }
}

bool describe(GstBuffer* buf, const GstVideoInfo& info, FrameHandles* out) {
  guint n = gst_buffer_n_memory(buf);
  if (n == 0) return false;
  for (guint i = 0; i < n; i++) {
    if (!gst_is_dmabuf_memory(gst_buffer_peek_memory(buf, i))) return false;
  }
  GstVideoMeta* meta = gst_buffer_get_video_meta(buf);
  guint planes = meta ? meta->n_planes : GST_VIDEO_INFO_N_PLANES(&info);
  out->fourcc = drmFourcc(GST_VIDEO_INFO_FORMAT(&info));
  out->importable = true;
  out->planes.clear();
  for (guint p = 0; p < planes; p++) {
    gsize offset = meta ? meta->offset[p] : GST_VIDEO_INFO_PLANE_OFFSET(&info, p);
    gint stride = meta ? meta->stride[p] : GST_VIDEO_INFO_PLANE_STRIDE(&info, p);
    guint idx = 0, length = 0;
    gsize skip = 0;
    if (!gst_buffer_find_memory(buf, offset, 1, &idx, &length, &skip)) return false;
    GstMemory* mem = gst_buffer_peek_memory(buf, idx);
    gsize memOffset = 0, maxSize = 0;
    gst_memory_get_sizes(mem, &memOffset, &maxSize);
    if (gst_mini_object_get_qdata(GST_MINI_OBJECT_CAST(mem), memfdQuark())) out->importable = false;
    // Rows of this plane: the height of its first component, subsampled as the format says.
    // (By the format info's fields, not gst_video_format_info_component(): that is 1.18.)
    guint comp = 0;
    while (comp + 1 < GST_VIDEO_FORMAT_INFO_N_COMPONENTS(info.finfo) &&
           GST_VIDEO_FORMAT_INFO_PLANE(info.finfo, comp) != p)
      comp++;
    guint height = meta ? meta->height : GST_VIDEO_INFO_HEIGHT(&info);
    guint rows = GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT(info.finfo, comp, height);
    HandlePlane plane;
    plane.fd = gst_dmabuf_memory_get_fd(mem);
    plane.offset = memOffset + skip;
    plane.stride = static_cast<uint32_t>(stride);
    plane.size = std::min<uint64_t>(static_cast<uint64_t>(stride) * rows, maxSize - plane.offset);
    out->planes.push_back(plane);
  }
  return true;
}

}  // namespace

const Backend kDmabufBackend = {
    "dmabuf", probe,
    "video/x-raw(memory:DMABuf),format=(string){ NV12, RGBA, BGRA }; video/x-raw,format=(string){ NV12, RGBA, BGRA }",
    newPool, describe};

}  // namespace fs
