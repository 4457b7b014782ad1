// RAII holders for GStreamer and GLib objects: every (transfer full) reference the addon takes is
// released exactly once, here. Thread-neutral: each holder is used by one thread at a time.
#pragma once

#include <gst/gst.h>

#include <cstring>
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

// Copies a buffer's bytes, memory by memory, to dst (which holds gst_buffer_get_size(buf) bytes).
// Each memory is mapped on its own rather than through gst_buffer_extract, which, when a memory
// cannot be mapped (GStreamer 1.22), puts NULL in its place in the buffer and drops it: a frame JS
// holds would lose its memory and its fd. Returns the memory that could not be mapped (not a
// reference), or nullptr when every byte was copied.
inline GstMemory* copyBufferBytes(GstBuffer* buf, uint8_t* dst) {
  size_t at = 0;
  for (guint i = 0; i < gst_buffer_n_memory(buf); i++) {
    GstMemory* mem = gst_buffer_peek_memory(buf, i);
    MemoryMap map(mem);
    if (!map.ok()) return mem;
    std::memcpy(dst + at, map.data(), map.size());
    at += map.size();
  }
  return nullptr;
}

// What kind of memory it is, in GStreamer's words (its allocator's mem_type: "SystemMemory",
// "dmabuf", "cuda", ...).
inline const char* memoryKind(const GstMemory* mem) {
  return mem->allocator && mem->allocator->mem_type ? mem->allocator->mem_type : "unknown";
}

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
