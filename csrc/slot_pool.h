// GstSlotPool: a GstBufferPool whose buffers wrap SlotRing slots, so that upstream elements write
// each frame straight into memory that JS sees. Threads: set_config and alloc_buffer run on the
// upstream streaming thread that configures or fills the pool; flush_start on whichever thread
// deactivates or flushes it (a state change, or our teardown).
#pragma once

#include <gst/gst.h>

#include <memory>

#include "slot_ring.h"

G_BEGIN_DECLS

#define GST_TYPE_SLOT_POOL (gst_slot_pool_get_type())
GType gst_slot_pool_get_type(void);

G_END_DECLS

namespace fs {
// (transfer full) A new, unconfigured pool over `ring`.
GstBufferPool* newSlotPool(std::shared_ptr<SlotRing> ring);
}  // namespace fs
