// IdleStack: the idle buffers of one of our GstBufferPool subclasses, handed out most recently
// returned first. GstBufferPool's own queue is first in, first out: every acquire takes the buffer
// idle longest, so all the buffers a pool ever grew to (in a burst) are written in turn, each long
// out of the CPU's caches. Last in, first out keeps the buffers in use as few as the frames in
// flight (measured while the host's caches were contended: ~12% less CPU on the streaming thread
// at 720p RGBA, ~20% at 1080p RGBA; nothing measurable on a calm host). Threads: acquire on the
// acquiring thread, release on whichever thread returns a buffer, stop on the thread that
// deactivates the pool (with the pool's lock held). One mutex.
#pragma once

#include <gst/gst.h>

#include <mutex>
#include <vector>

namespace fs {

class IdleStack {
 public:
  // acquire_buffer: the newest idle buffer; with none idle, the parent's acquire_buffer, which
  // allocates or waits. Buffers returned while an acquirer is inside the parent go to the parent's
  // queue (the one it waits on).
  GstFlowReturn acquire(GstBufferPoolClass* parent, GstBufferPool* pool, GstBuffer** buffer,
                        GstBufferPoolAcquireParams* params) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (GST_BUFFER_POOL_IS_FLUSHING(pool)) return GST_FLOW_FLUSHING;
      if (!idle_.empty()) {
        *buffer = idle_.back();
        idle_.pop_back();
        return GST_FLOW_OK;
      }
      inParent_++;
    }
    GstFlowReturn r = parent->acquire_buffer(pool, buffer, params);
    std::lock_guard<std::mutex> lk(mu_);
    inParent_--;
    return r;
  }

  // release_buffer: keeps a buffer that the parent would keep (untagged memory of the configured
  // `size`, all of it writable), unless an acquirer is inside the parent or the pool is flushing;
  // anything else goes to the parent's release_buffer (which frees what it would not keep).
  void release(GstBufferPoolClass* parent, GstBufferPool* pool, GstBuffer* buffer, size_t size) {
    if (!GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_TAG_MEMORY) && gst_buffer_get_size(buffer) == size &&
        gst_buffer_is_all_memory_writable(buffer)) {
      std::lock_guard<std::mutex> lk(mu_);
      if (inParent_ == 0 && !GST_BUFFER_POOL_IS_FLUSHING(pool)) {
        idle_.push_back(buffer);
        return;
      }
    }
    parent->release_buffer(pool, buffer);
  }

  // stop (the pool deactivated, every buffer back): the idle buffers go to the parent's queue,
  // then the parent's stop frees them and counts them as its own.
  gboolean stop(GstBufferPoolClass* parent, GstBufferPool* pool) {
    std::vector<GstBuffer*> idle;
    {
      std::lock_guard<std::mutex> lk(mu_);
      idle.swap(idle_);
    }
    for (GstBuffer* b : idle) parent->release_buffer(pool, b);
    return parent->stop(pool);
  }

 private:
  std::mutex mu_;
  std::vector<GstBuffer*> idle_;
  int inParent_ = 0;  // acquirers inside the parent's acquire_buffer
};

}  // namespace fs
