// RAII holders for GStreamer and GLib objects: every (transfer full) reference the addon takes is
// released exactly once, here. Thread-neutral: each holder is used by one thread at a time.
#pragma once

#include <gst/gst.h>

#include <memory>

namespace fs {

struct GstObjectUnref {
  void operator()(gpointer p) const noexcept {
    if (p) gst_object_unref(p);
  }
};
struct MiniObjectUnref {
  void operator()(gpointer p) const noexcept {
    if (p) gst_mini_object_unref(GST_MINI_OBJECT_CAST(p));
  }
};
struct GErrorFree {
  void operator()(GError* e) const noexcept {
    if (e) g_error_free(e);
  }
};
struct GFree {
  void operator()(gpointer p) const noexcept { g_free(p); }
};
struct StrvFree {
  void operator()(gchar** p) const noexcept { g_strfreev(p); }
};
struct ParseContextFree {
  void operator()(GstParseContext* c) const noexcept {
    if (c) gst_parse_context_free(c);
  }
};

template <typename T>
using GstPtr = std::unique_ptr<T, GstObjectUnref>;
template <typename T>
using MiniPtr = std::unique_ptr<T, MiniObjectUnref>;

using ElementPtr = GstPtr<GstElement>;
using PadPtr = GstPtr<GstPad>;
using BusPtr = GstPtr<GstBus>;
using PoolPtr = GstPtr<GstBufferPool>;
using BufferPtr = MiniPtr<GstBuffer>;
using SamplePtr = MiniPtr<GstSample>;
using CapsPtr = MiniPtr<GstCaps>;
using MessagePtr = MiniPtr<GstMessage>;
using ErrorPtr = std::unique_ptr<GError, GErrorFree>;
using CharPtr = std::unique_ptr<gchar, GFree>;
using StrvPtr = std::unique_ptr<gchar*, StrvFree>;
using ParseContextPtr = std::unique_ptr<GstParseContext, ParseContextFree>;

// Maps one GstMemory for reading while the holder lives.
class MemoryMap {
 public:
  explicit MemoryMap(GstMemory* mem) : mem_(mem) { ok_ = gst_memory_map(mem_, &info_, GST_MAP_READ); }
  ~MemoryMap() {
    if (ok_) gst_memory_unmap(mem_, &info_);
  }
  MemoryMap(const MemoryMap&) = delete;
  MemoryMap& operator=(const MemoryMap&) = delete;

  bool ok() const { return ok_; }
  const uint8_t* data() const { return info_.data; }
  size_t size() const { return info_.size; }

 private:
  GstMemory* mem_;
  GstMapInfo info_{};
  bool ok_ = false;
};

// Holds a GWeakRef: a pointer that never keeps its object alive and is safe to read from any thread.
class WeakRef {
 public:
  explicit WeakRef(gpointer obj) { g_weak_ref_init(&ref_, obj); }
  ~WeakRef() { g_weak_ref_clear(&ref_); }
  WeakRef(const WeakRef&) = delete;
  WeakRef& operator=(const WeakRef&) = delete;
  // (transfer full) or nullptr once the object is gone.
  gpointer get() { return g_weak_ref_get(&ref_); }

 private:
  GWeakRef ref_;
};

}  // namespace fs
