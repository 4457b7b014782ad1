// GstSlotPool: a GstBufferPool whose buffers wrap SlotRing slots, so that upstream elements write
// each frame straight into memory that JS sees. Threads: set_config, acquire_buffer and alloc_buffer
// run on the upstream streaming thread (or a decoder's own threads) that configures or fills the
// pool; release_buffer on whichever thread drops a buffer's last reference; flush_start on whichever
// thread deactivates or flushes it (a state change, or our teardown).
#pragma once

#include <gst/gst.h>

#include <functional>
#include <memory>

#include "slot_ring.h"

G_BEGIN_DECLS

#define GST_TYPE_SLOT_POOL (gst_slot_pool_get_type())
GType gst_slot_pool_get_type(void);

G_END_DECLS

namespace fs {

struct SlotPoolOptions {
  // Offered with no max of buffers: the pool grows on demand until the ring is full (its maxSlots),
  // then waits for a buffer to come back. For decoders that refuse a bounded pool (avdec_*).
  bool grow = false;
  // The element writing into this pool is a video decoder (its frames' path is "decoder").
  bool decoder = false;
  // Called on the acquiring thread before it waits for a buffer to come back (frames queued for JS
  // must not wait with it). May be empty.
  std::function<void()> beforeWait;
};

// (transfer full) A new, unconfigured pool over `ring`.
GstBufferPool* newSlotPool(std::shared_ptr<SlotRing> ring, SlotPoolOptions options = {});

// Whether `pool` is one of ours whose writer is a video decoder; whether it is a growing one.
bool isDecoderSlotPool(GstBufferPool* pool);
bool slotPoolGrows(GstBufferPool* pool);

}  // namespace fs
