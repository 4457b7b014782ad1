// SlotRing: see slot_ring.h for what it owns and which threads call it.
#include "slot_ring.h"

#include <algorithm>

namespace fs {

void SlotRing::setWake(std::function<void()> wake) {
  std::lock_guard<std::mutex> lk(mu_);
  wake_ = std::move(wake);
}

void SlotRing::allowExtra(size_t extra) {
  std::lock_guard<std::mutex> lk(mu_);
  extra_ = std::max(extra_, extra);
}

void SlotRing::callWake() {
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> lk(mu_);
    wake = wake_;
  }
  if (wake) wake();
}

void SlotRing::requestLocked(size_t size, size_t count) {
  size_t coming = request_.count + inFlight_;
  size_t room = live_ + coming < limitLocked() ? limitLocked() - live_ - coming : 0;
  count = std::min(count, room);
  if (count == 0) return;
  request_.count += count;
  request_.size = std::max(request_.size, size);
}

void SlotRing::retireLocked(int id) {
  Slot& s = slots_[id];
  s.retired = true;
  live_--;
  bytes_ -= s.capacity;
  retired_.push_back(id);
}

void SlotRing::reserve(size_t size, size_t count) {
  bool ask = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (cancelled_) return;
    minSize_ = size;
    size_t fitting = 0;
    for (size_t i = 0; i < slots_.size(); i++) {
      Slot& s = slots_[i];
      if (s.retired) continue;
      if (s.capacity >= size) {
        fitting++;
      } else if (!s.wrapped) {
        retireLocked(static_cast<int>(i));
      }
    }
    // Slots already asked for are counted as fitting only if they are big enough.
    size_t coming = request_.size >= size ? request_.count + inFlight_ : 0;
    if (fitting + coming < count) {
      requestLocked(size, count - fitting - coming);
      ask = request_.count > 0;
    }
  }
  if (ask) callWake();
}

int SlotRing::acquire(size_t size, bool mayWait, const std::atomic<bool>* abort) {
  std::unique_lock<std::mutex> lk(mu_);
  waiters_++;
  int found = -1;
  bool fault = false;
  for (;;) {
    if (cancelled_ || (abort && abort->load())) break;
    for (size_t i = 0; i < slots_.size(); i++) {
      const Slot& s = slots_[i];
      if (s.retired || s.wrapped || s.poisoned || s.capacity < size) continue;
      if (found < 0 || s.capacity < slots_[found].capacity) found = static_cast<int>(i);
    }
    if (found >= 0) {
      Slot& s = slots_[found];
      s.wrapped = true;
      inUse_++;
      fault = !s.faulted;
      s.faulted = true;
      break;
    }
    size_t coming = request_.count + inFlight_;
    if (coming < waiters_ && live_ + coming < limitLocked()) {
      requestLocked(size, 1);
      lk.unlock();
      callWake();
      lk.lock();
      continue;
    }
    if (coming == 0 && !mayWait) break;
    cv_.wait(lk);
  }
  waiters_--;
  if (found < 0) return -1;
  uint8_t* p = slots_[found].data;
  size_t cap = slots_[found].capacity;
  lk.unlock();
  // Touch each page once, here on the streaming thread: the first write into a fresh page costs
  // ~6x a normal copy, and would otherwise land on the first frame.
  if (fault) {
    for (size_t off = 0; off < cap; off += kAlign) reinterpret_cast<volatile uint8_t*>(p)[off] = 0;
  }
  return found;
}

GstMemory* SlotRing::wrap(int id, size_t size) {
  uint8_t* p;
  size_t cap;
  {
    std::lock_guard<std::mutex> lk(mu_);
    p = slots_[id].data;
    cap = slots_[id].capacity;
  }
  auto* ref = new SlotRef{shared_from_this(), id};
  return gst_memory_new_wrapped(static_cast<GstMemoryFlags>(0), p, cap, 0, size, ref, &SlotRing::onMemoryFreed);
}

// Called from whichever thread drops the last reference to a slot's GstMemory (a streaming thread,
// the JS thread on release, or the teardown thread).
void SlotRing::onMemoryFreed(gpointer data) {
  auto* ref = static_cast<SlotRef*>(data);
  ref->ring->release(ref->id);
  delete ref;
}

void SlotRing::release(int id) {
  std::lock_guard<std::mutex> lk(mu_);
  Slot& s = slots_[id];
  s.wrapped = false;
  inUse_--;
  if ((s.capacity < minSize_ || s.poisoned) && !s.retired) retireLocked(id);
  cv_.notify_all();
}

int SlotRing::find(const uint8_t* p, size_t size, size_t* offset) const {
  std::lock_guard<std::mutex> lk(mu_);
  for (size_t i = 0; i < slots_.size(); i++) {
    const Slot& s = slots_[i];
    if (s.retired || !s.wrapped) continue;
    if (p >= s.data && p + size <= s.data + s.capacity) {
      *offset = static_cast<size_t>(p - s.data);
      return static_cast<int>(i);
    }
  }
  return -1;
}

uint8_t* SlotRing::data(int id) const {
  std::lock_guard<std::mutex> lk(mu_);
  return slots_[id].data;
}

SlotRing::Request SlotRing::takeRequest() {
  std::lock_guard<std::mutex> lk(mu_);
  Request r = request_;
  if (cancelled_) r.count = 0;
  inFlight_ += r.count;
  request_ = Request{};
  if (r.count == 0) r.size = 0;
  return r;
}

int SlotRing::add(uint8_t* base, size_t bytes, size_t* alignedOffset) {
  uintptr_t b = reinterpret_cast<uintptr_t>(base);
  uintptr_t a = (b + kAlign - 1) & ~static_cast<uintptr_t>(kAlign - 1);
  size_t off = static_cast<size_t>(a - b);
  std::lock_guard<std::mutex> lk(mu_);
  if (inFlight_ > 0) inFlight_--;
  cv_.notify_all();
  if (off >= bytes || bytes - off < minSize_) return -1;
  slots_.push_back(Slot{reinterpret_cast<uint8_t*>(a), bytes - off, false, false, false, false});
  live_++;
  bytes_ += bytes - off;
  *alignedOffset = off;
  return static_cast<int>(slots_.size() - 1);
}

void SlotRing::abandonRequest() {
  std::lock_guard<std::mutex> lk(mu_);
  inFlight_ = 0;
  cv_.notify_all();
}

std::vector<int> SlotRing::takeRetired() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<int> out;
  out.swap(retired_);
  return out;
}

bool SlotRing::hasJsWork() const {
  std::lock_guard<std::mutex> lk(mu_);
  return (request_.count > 0 && !cancelled_) || !retired_.empty();
}

void SlotRing::poison(int id) {
  std::lock_guard<std::mutex> lk(mu_);
  if (id < 0 || static_cast<size_t>(id) >= slots_.size()) return;
  Slot& s = slots_[id];
  s.poisoned = true;
  if (!s.wrapped && !s.retired) retireLocked(id);
  cv_.notify_all();
}

void SlotRing::cancel() {
  std::lock_guard<std::mutex> lk(mu_);
  cancelled_ = true;
  request_ = Request{};
  cv_.notify_all();
}

void SlotRing::wakeWaiters() {
  std::lock_guard<std::mutex> lk(mu_);
  cv_.notify_all();
}

SlotRing::Counts SlotRing::counts() const {
  std::lock_guard<std::mutex> lk(mu_);
  return Counts{live_, inUse_, bytes_};
}

bool SlotRing::cancelled() const {
  std::lock_guard<std::mutex> lk(mu_);
  return cancelled_;
}

}  // namespace fs
