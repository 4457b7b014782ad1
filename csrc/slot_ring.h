// SlotRing: the table of frame slots. Slot memory is owned by V8 (one SharedArrayBuffer per slot,
// made in JS); GStreamer elements write frames into it. Threads: acquire/reserve run on streaming
// threads, release on whichever thread frees the last GstMemory over a slot, add/takeRequest/
// takeRetired on the JS thread. Every member is guarded by one mutex.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace fs {

class SlotRing : public std::enable_shared_from_this<SlotRing> {
 public:
  // Slots start on a page boundary: V8 only 16-byte aligns SharedArrayBuffers of 1 MiB or more.
  static constexpr size_t kAlign = 4096;

  struct Request {
    size_t size = 0;   // bytes each new slot must hold (before alignment slack)
    size_t count = 0;  // how many
  };
  struct Counts {
    size_t slots = 0;  // live (not retired) slots
    size_t inUse = 0;  // slots wrapped by a GstMemory (in a pool, upstream, queued or held by JS)
    size_t bytes = 0;  // capacity of live slots
  };

  explicit SlotRing(size_t maxSlots) : maxSlots_(maxSlots) {}

  // Streaming thread: a decoder writes into this ring and keeps its reference frames in slots (up
  // to 16 for H.264), on top of what the consumer holds: the ring may grow by `extra` slots beyond
  // maxSlots, on demand only. Never lowers the limit.
  void allowExtra(size_t extra);

  // Set once on the JS thread before the pipeline starts. Called, outside our lock, whenever JS must
  // allocate slots; it must not block.
  void setWake(std::function<void()> wake);

  // Streaming thread, on (re)negotiation: frames are now `size` bytes. Free slots that are too small
  // are retired, and JS is asked for enough new slots that `count` hold a frame. Does not wait.
  void reserve(size_t size, size_t count);

  // Streaming thread: takes a free slot that holds `size` bytes, asking JS to grow the ring while
  // below the limit and waiting for its answer. When the ring is full: waits for a slot to be freed
  // if mayWait, else returns -1. Returns -1 at once after cancel() or while *abort is set.
  int acquire(size_t size, bool mayWait, const std::atomic<bool>* abort);

  // Wraps an acquired slot in a GstMemory of `size` bytes; freeing that memory frees the slot.
  // (transfer full)
  GstMemory* wrap(int id, size_t size);

  // Any thread: the slot whose memory holds [p, p + size), or -1; *offset gets p's offset in it.
  int find(const uint8_t* p, size_t size, size_t* offset) const;
  uint8_t* data(int id) const;

  // JS thread: what JS must allocate now (count 0 when nothing), moved to "in flight".
  Request takeRequest();
  // JS thread: adds a slot over [base, base + bytes). Returns its id and the aligned start's offset
  // from base, or -1 when the memory cannot hold the current frame size once aligned (a slot asked
  // for before a renegotiation to larger frames would otherwise stay in the ring, unusable, for good).
  int add(uint8_t* base, size_t bytes, size_t* alignedOffset);
  // JS thread: JS gave up on the last request (allocation failed): waiters stop waiting for it.
  void abandonRequest();
  // JS thread: ids retired since the last call; JS may drop their memory.
  std::vector<int> takeRetired();
  // JS thread: whether takeRequest() or takeRetired() has something for JS now.
  bool hasJsWork() const;

  // JS thread: the slot's memory was detached from its ArrayBuffer (it may be freed by its new
  // owner at any time): it is never handed to GStreamer again, and retired once its memory is freed.
  void poison(int id);

  // Any thread: permanently stops the ring; every waiter returns -1.
  void cancel();
  // Any thread: wake waiters so they re-check their abort flag (a pool's flush_start).
  void wakeWaiters();

  Counts counts() const;
  bool cancelled() const;

  // Any thread: a writer (upstream's thread in one of our pools) starts or stops waiting for a
  // buffer, every one being out. JS reads the count to tell a decoder that can never get one back
  // (it holds them all, as a decoder playing backwards holds a whole group of pictures).
  void writerWaits(bool starts) { writersWaiting_.fetch_add(starts ? 1 : -1); }
  int writersWaiting() const { return writersWaiting_.load(); }

 private:
  struct Slot {
    uint8_t* data;
    size_t capacity;
    bool wrapped;
    bool retired;
    bool faulted;
    bool poisoned;
  };
  struct SlotRef {
    std::shared_ptr<SlotRing> ring;
    int id;
  };
  static void onMemoryFreed(gpointer ref);
  void release(int id);
  void retireLocked(int id);
  void requestLocked(size_t size, size_t count);
  void callWake();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> slots_;
  const size_t maxSlots_;
  size_t extra_ = 0;  // allowExtra()
  size_t limitLocked() const { return maxSlots_ + extra_; }
  size_t live_ = 0;
  size_t inUse_ = 0;
  size_t bytes_ = 0;
  size_t minSize_ = 0;   // free slots smaller than the current frame size are retired
  Request request_;      // asked of JS, not yet taken by it
  size_t inFlight_ = 0;  // taken by JS, not yet added
  size_t waiters_ = 0;   // threads inside acquire()
  std::vector<int> retired_;
  bool cancelled_ = false;
  std::function<void()> wake_;
  std::atomic<int> writersWaiting_{0};
};

}  // namespace fs
