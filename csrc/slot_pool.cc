// GstSlotPool: see slot_pool.h for what it owns and which threads call it.
#include "slot_pool.h"

#include <gst/video/video.h>

#include <atomic>

// C++ state kept out of the GObject instance struct, which GLib zero-fills instead of constructing.
struct PoolState {
  std::shared_ptr<fs::SlotRing> ring;
  std::atomic<bool> flushing{false};
  GstVideoInfo info;
  bool addMeta = false;
  size_t size = 0;
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

// Called from the upstream streaming thread when the pool has no idle buffer and is below its max.
// The pool's own max does the waiting for returned buffers; we only wait here for JS to grow the ring.
GstFlowReturn slotPoolAllocBuffer(GstBufferPool* pool, GstBuffer** buffer, GstBufferPoolAcquireParams*) {
  PoolState* st = stateOf(pool);
  int id = st->ring->acquire(st->size, true, &st->flushing);
  if (id < 0) return GST_FLOW_FLUSHING;
  GstBuffer* buf = gst_buffer_new();
  gst_buffer_append_memory(buf, st->ring->wrap(id, st->size));
  if (st->addMeta) {
    GstVideoInfo* vi = &st->info;
    gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(vi), GST_VIDEO_INFO_WIDTH(vi),
                                   GST_VIDEO_INFO_HEIGHT(vi), GST_VIDEO_INFO_N_PLANES(vi), vi->offset, vi->stride);
  }
  *buffer = buf;
  return GST_FLOW_OK;
}

// Called from the thread that flushes or deactivates the pool: wakes an alloc_buffer waiting on JS.
void slotPoolFlushStart(GstBufferPool* pool) {
  PoolState* st = stateOf(pool);
  st->flushing = true;
  st->ring->wakeWaiters();
}

void slotPoolFlushStop(GstBufferPool* pool) { stateOf(pool)->flushing = false; }

// Called from whichever thread drops a buffer's last reference. Once the source is closing, the
// buffer is freed rather than parked in the pool, so its slot comes back at once.
void slotPoolReleaseBuffer(GstBufferPool* pool, GstBuffer* buffer) {
  if (stateOf(pool)->ring->cancelled()) GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_TAG_MEMORY);
  GST_BUFFER_POOL_CLASS(gst_slot_pool_parent_class)->release_buffer(pool, buffer);
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
  pc->alloc_buffer = slotPoolAllocBuffer;
  pc->flush_start = slotPoolFlushStart;
  pc->flush_stop = slotPoolFlushStop;
  pc->release_buffer = slotPoolReleaseBuffer;
}

static void gst_slot_pool_init(GstSlotPool* self) { self->state = new PoolState(); }

namespace fs {

GstBufferPool* newSlotPool(std::shared_ptr<SlotRing> ring) {
  auto* pool = static_cast<GstSlotPool*>(g_object_new(GST_TYPE_SLOT_POOL, nullptr));
  pool->state->ring = std::move(ring);
  // Pools are GstObjects with a floating reference; the caller owns a plain one.
  gst_object_ref_sink(pool);
  return GST_BUFFER_POOL(pool);
}

}  // namespace fs
