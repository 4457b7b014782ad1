// GstSlotPool: see slot_pool.h for what it owns and which threads call it.
#include "slot_pool.h"

#include <gst/video/video.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "util/gst_ptr.h"
#include "util/idle_stack.h"

// C++ state kept out of the GObject instance struct, which GLib zero-fills instead of constructing.
struct PoolState {
  std::shared_ptr<fs::SlotRing> ring;
  fs::SlotPoolOptions options;
  std::atomic<bool> flushing{false};
  GstVideoInfo info;
  bool addMeta = false;
  size_t size = 0;
  // A growing pool's acquirers wait here for a buffer to come back (see slotPoolTakeBuffer).
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int> waiting{0};
  std::atomic<uint64_t> returned{0};
  fs::IdleStack idle;  // idle buffers, the one returned last handed out first
};

struct GstSlotPool {
  GstBufferPool parent;
  PoolState* state;
};
struct GstSlotPoolClass {
  GstBufferPoolClass parent_class;
};

G_DEFINE_TYPE(GstSlotPool, gst_slot_pool, GST_TYPE_BUFFER_POOL)

namespace {

PoolState* stateOf(GstBufferPool* pool) { return reinterpret_cast<GstSlotPool*>(pool)->state; }

// The hardware prefetcher does not cross a 4 KiB boundary, whatever the page size.
constexpr size_t kPrefetchPage = 4096;

// Called on the thread about to write [p, p + size): asks for the first cache line of each page
// with the intent to write. A reader of the frame the slot held before, on another core, leaves
// lines of it in that core's cache, and the hardware prefetcher stops at page boundaries: each
// page's first write would wait for its line to change owner. Asked for all at once, those moves
// overlap. A hint only: nothing on CPUs without a write prefetch.
#if defined(__x86_64__) || defined(__i386__)
// PREFETCHW is not in every x86 CPU that x86-64 prebuilds run on (CPUID 0x80000001, ECX bit 8):
// asked once, and without it the hint is skipped (PREFETCHT0, what the compiler would emit instead,
// fetches the line to read, which does not move ownership). Written as asm: the compiler emits
// PREFETCHW only for a -march that has it, and drops a call to a function that only prefetches.
bool hasPrefetchW() {
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 8)) != 0;
  }();
  return has;
}

void prefetchForWrite(const uint8_t* p, size_t size) {
  if (!hasPrefetchW()) return;
  for (size_t off = 0; off < size; off += kPrefetchPage) asm volatile("prefetchw %0" ::"m"(p[off]));
}
#else
void prefetchForWrite(const uint8_t* p, size_t size) {
  for (size_t off = 0; off < size; off += kPrefetchPage) __builtin_prefetch(p + off, 1, 3);
}
#endif

// The plane layout upstream configured, on a buffer it is about to write.
void addVideoMeta(PoolState* st, GstBuffer* buf) {
  if (!st->addMeta) return;
  GstVideoInfo* vi = &st->info;
  gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(vi), GST_VIDEO_INFO_WIDTH(vi),
                                 GST_VIDEO_INFO_HEIGHT(vi), GST_VIDEO_INFO_N_PLANES(vi), vi->offset, vi->stride);
}

const gchar** slotPoolGetOptions(GstBufferPool*) {
  static const gchar* options[] = {GST_BUFFER_POOL_OPTION_VIDEO_META, nullptr};
  return options;
}

// Called from the upstream streaming thread when it configures the pool we proposed. Refusing here
// is fatal to upstream (basesrc does not fall back), so only a config without video caps is refused;
// offers we cannot serve are declined earlier, in the ALLOCATION query.
gboolean slotPoolSetConfig(GstBufferPool* pool, GstStructure* config) {
  PoolState* st = stateOf(pool);
  GstCaps* caps = nullptr;
  guint size = 0, min = 0, max = 0;
  if (!gst_buffer_pool_config_get_params(config, &caps, &size, &min, &max) || caps == nullptr) return FALSE;
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, caps)) return FALSE;
  st->info = info;
  st->size = std::max<size_t>(size, GST_VIDEO_INFO_SIZE(&info));
  st->addMeta = gst_buffer_pool_config_has_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  // The final size must be written back, or buffers coming back to the pool are discarded.
  gst_buffer_pool_config_set_params(config, caps, static_cast<guint>(st->size), min, max);
  return GST_BUFFER_POOL_CLASS(gst_slot_pool_parent_class)->set_config(pool, config);
}

// Called from the thread that wants a buffer (a streaming thread, or a decoder's own thread). A
// bounded pool's own max does the waiting. A growing pool (max 0) has none: the ring's maxSlots is
// its limit, so when the ring is full we wait here for a buffer to come back to the pool, then take
// it. That wait cannot happen inside alloc_buffer: a buffer returned to the pool is parked idle
// with its slot still wrapped, so a wait for a free slot would never end. Slots freed elsewhere (an
// old pool's buffers, copies) are noticed by a short poll. Idle buffers go out the one returned
// last first (IdleStack, see util/idle_stack.h for why).
GstFlowReturn slotPoolTakeBuffer(GstBufferPool* pool, GstBuffer** buffer, GstBufferPoolAcquireParams* params) {
  PoolState* st = stateOf(pool);
  auto parent = [st](GstBufferPool* p, GstBuffer** b, GstBufferPoolAcquireParams* a) {
    return st->idle.acquire(GST_BUFFER_POOL_CLASS(gst_slot_pool_parent_class), p, b, a);
  };
  if (!st->options.grow) {
    if (!st->options.beforeWait || (params && (params->flags & GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT)))
      return parent(pool, buffer, params);
    // Once without waiting; when every buffer is out, let JS have the frames queued for it first.
    GstBufferPoolAcquireParams now{};
    if (params) now = *params;
    now.flags = static_cast<GstBufferPoolAcquireFlags>(now.flags | GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT);
    GstFlowReturn r = parent(pool, buffer, &now);
    if (r != GST_FLOW_EOS) return r;
    st->options.beforeWait();
    st->ring->writerWaits(true);
    r = parent(pool, buffer, params);
    st->ring->writerWaits(false);
    return r;
  }
  GstBufferPoolAcquireParams once{};
  if (params) once = *params;
  const bool mayWait = !(once.flags & GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT);
  once.flags = static_cast<GstBufferPoolAcquireFlags>(once.flags | GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT);
  st->waiting++;
  bool counted = false;  // as a writer waiting (SlotRing::writerWaits), once it has to
  GstFlowReturn r;
  for (;;) {
    uint64_t seen = st->returned.load();
    r = parent(pool, buffer, &once);  // an idle buffer, or alloc_buffer; EOS when the ring is full
    if (r != GST_FLOW_EOS || !mayWait) break;
    if (!counted) {
      counted = true;
      st->ring->writerWaits(true);
    }
    if (st->options.beforeWait) st->options.beforeWait();
    std::unique_lock<std::mutex> lk(st->mu);
    // system_clock: a steady_clock wait needs glibc 2.30 (pthread_cond_clockwait), see pipeline.cc.
    st->cv.wait_until(lk, std::chrono::system_clock::now() + std::chrono::milliseconds(10),
                      [&] { return st->returned.load() != seen || st->flushing.load(); });
    if (st->flushing || st->ring->cancelled()) {
      r = GST_FLOW_FLUSHING;
      break;
    }
  }
  st->waiting--;
  if (counted) st->ring->writerWaits(false);
  if (r == GST_FLOW_FLUSHING && st->ring->cancelled()) {
    // The source is closing. avdec (1.22) dereferences a null frame when a buffer is refused while
    // it drains at end of stream, and its drain may run while we tear down: hand it plain memory
    // instead. The frame written there is dropped at our sink, and the buffer is freed on release.
    GstBuffer* buf = gst_buffer_new_allocate(nullptr, st->size, nullptr);
    if (buf == nullptr) return GST_FLOW_FLUSHING;
    addVideoMeta(st, buf);
    GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_TAG_MEMORY);
    *buffer = buf;
    r = GST_FLOW_OK;
  }
  return r;
}

// GstBufferPool's acquire_buffer: slotPoolTakeBuffer, then the hint that the buffer is about to be
// written (see prefetchForWrite), for a source or filter rendering into it. Not for a
// decoder: it copies each picture in with memcpy, whose string moves can write whole lines without
// reading them first, so a line fetched ahead is a read it would not have made (H.264 at 1080p cost
// 1.5% more CPU with the hint, 9 interleaved rounds).
GstFlowReturn slotPoolAcquireBuffer(GstBufferPool* pool, GstBuffer** buffer, GstBufferPoolAcquireParams* params) {
  GstFlowReturn r = slotPoolTakeBuffer(pool, buffer, params);
  if (r == GST_FLOW_OK && !stateOf(pool)->options.decoder) {
    fs::MemoryMap map(gst_buffer_peek_memory(*buffer, 0));
    if (map.ok()) prefetchForWrite(map.data(), map.size());
  }
  return r;
}

// Called from the thread that wants a buffer when the pool has no idle buffer and is below its max.
// A bounded pool's own max does the waiting for returned buffers; we only wait here for JS to grow
// the ring. A growing pool does not wait for a slot: it says EOS ("none now") when the ring is full.
GstFlowReturn slotPoolAllocBuffer(GstBufferPool* pool, GstBuffer** buffer, GstBufferPoolAcquireParams*) {
  PoolState* st = stateOf(pool);
  int id = st->ring->acquire(st->size, !st->options.grow, &st->flushing);
  if (id < 0) return st->options.grow && !st->flushing && !st->ring->cancelled() ? GST_FLOW_EOS : GST_FLOW_FLUSHING;
  GstBuffer* buf = gst_buffer_new();
  gst_buffer_append_memory(buf, st->ring->wrap(id, st->size));
  addVideoMeta(st, buf);
  *buffer = buf;
  return GST_FLOW_OK;
}

// Called from the thread that flushes or deactivates the pool: wakes an alloc_buffer waiting on JS.
void slotPoolFlushStart(GstBufferPool* pool) {
  PoolState* st = stateOf(pool);
  st->flushing = true;
  st->ring->wakeWaiters();
  std::lock_guard<std::mutex> lk(st->mu);
  st->cv.notify_all();
}

void slotPoolFlushStop(GstBufferPool* pool) { stateOf(pool)->flushing = false; }

// Called with the pool's lock held when it is deactivated and every buffer is back.
gboolean slotPoolStop(GstBufferPool* pool) {
  return stateOf(pool)->idle.stop(GST_BUFFER_POOL_CLASS(gst_slot_pool_parent_class), pool);
}

// Called from whichever thread drops a buffer's last reference. Once the source is closing, the
// buffer is freed rather than parked in the pool, so its slot comes back at once.
void slotPoolReleaseBuffer(GstBufferPool* pool, GstBuffer* buffer) {
  PoolState* st = stateOf(pool);
  if (st->ring->cancelled()) GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_TAG_MEMORY);
  st->idle.release(GST_BUFFER_POOL_CLASS(gst_slot_pool_parent_class), pool, buffer, st->size);
  if (st->waiting.load() > 0) {
    std::lock_guard<std::mutex> lk(st->mu);
    st->returned++;
    st->cv.notify_all();
  }
}

void slotPoolFinalize(GObject* obj) {
  auto* self = reinterpret_cast<GstSlotPool*>(obj);
  delete self->state;
  self->state = nullptr;
  G_OBJECT_CLASS(gst_slot_pool_parent_class)->finalize(obj);
}

}  // namespace

static void gst_slot_pool_class_init(GstSlotPoolClass* klass) {
  G_OBJECT_CLASS(klass)->finalize = slotPoolFinalize;
  GstBufferPoolClass* pc = GST_BUFFER_POOL_CLASS(klass);
  pc->get_options = slotPoolGetOptions;
  pc->set_config = slotPoolSetConfig;
  pc->acquire_buffer = slotPoolAcquireBuffer;
  pc->alloc_buffer = slotPoolAllocBuffer;
  pc->flush_start = slotPoolFlushStart;
  pc->flush_stop = slotPoolFlushStop;
  pc->stop = slotPoolStop;
  pc->release_buffer = slotPoolReleaseBuffer;
}

static void gst_slot_pool_init(GstSlotPool* self) { self->state = new PoolState(); }

namespace fs {

GstBufferPool* newSlotPool(std::shared_ptr<SlotRing> ring, SlotPoolOptions options) {
  auto* pool = static_cast<GstSlotPool*>(g_object_new(GST_TYPE_SLOT_POOL, nullptr));
  pool->state->ring = std::move(ring);
  pool->state->options = options;
  // Pools are GstObjects with a floating reference; the caller owns a plain one.
  gst_object_ref_sink(pool);
  return GST_BUFFER_POOL(pool);
}

bool isDecoderSlotPool(GstBufferPool* pool) {
  if (pool == nullptr || !G_TYPE_CHECK_INSTANCE_TYPE(pool, GST_TYPE_SLOT_POOL)) return false;
  return stateOf(pool)->options.decoder;
}

bool slotPoolGrows(GstBufferPool* pool) {
  if (pool == nullptr || !G_TYPE_CHECK_INSTANCE_TYPE(pool, GST_TYPE_SLOT_POOL)) return false;
  return stateOf(pool)->options.grow;
}

}  // namespace fs
