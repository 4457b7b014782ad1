// FrameSourceHandle: see frame_source.h. Runs on the JS thread only.
#include "frame_source.h"

#include <chrono>
#include <cmath>
#include <string>

namespace fs {

namespace {

enum ItemType { kFrame = 0, kFormat = 1, kEos = 2, kError = 3, kWarning = 4, kLive = 5, kSeek = 6, kDuration = 7 };
// What _next() returns as a plain number: a frame written into the record, or slot work for JS
// (a slot request or retired slots) to do before anything else.
constexpr double kSlotWork = -1;
// The record's fields, in order (lib/frame-source.ts reads them by the same indexes).
enum RecordField {
  kRecId,
  kRecSlot,
  kRecOffset,
  kRecSize,
  kRecPts,
  kRecDuration,
  kRecPosition,
  kRecSequence,
  kRecCopied,
  kRecDiscont,
  kRecBatching,  // written when _next() returns undefined: 1 when JS should poll (SourcePipeline::next)
  kRecordFields
};

// A position JS gives in whole µs, as the ns GStreamer seeks to. A frame that starts inside that
// µs counts as at it: frame 37 at 30 fps starts at 1233333.3 µs, and a seek to 1233333 must land
// on it, not on frame 36 (which ends there).
int64_t seekTarget(int64_t us) { return us <= 0 ? 0 : us * 1000 + 999; }

// How long environment teardown and garbage collection wait for a pipeline to stop.
constexpr std::chrono::milliseconds kTeardownWait{2000};

// Truncates to whole microseconds on purpose. NOLINTNEXTLINE(bugprone-integer-division)
double usOrMinusOne(uint64_t ns) { return ns == GST_CLOCK_TIME_NONE ? -1.0 : static_cast<double>(ns / 1000); }

uint32_t numberOption(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("native option ") + key + " must be a number");
  return v.As<Napi::Number>().Uint32Value();
}

// Runs JS-touching code from a thread-safe-function callback, where nothing above us catches a C++
// exception. A JS exception is rethrown into JS (an uncaught exception, as from any callback);
// in an environment that is shutting down (worker terminated) JS cannot run and it is dropped.
template <typename F>
void callSafely(F&& f) {
  try {
    f();
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  }
}

std::vector<std::pair<std::string, std::string>> propertyPairs(const Napi::Object& o, const char* key) {
  std::vector<std::pair<std::string, std::string>> out;
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(o.Env(), std::string("native option ") + key + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i + 1 < a.Length(); i += 2) {
    out.emplace_back(a.Get(i).ToString().Utf8Value(), a.Get(i + 1).ToString().Utf8Value());
  }
  return out;
}

Napi::Array stringArray(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), v[i]);
  return a;
}

Napi::Array layoutArray(Napi::Env env, uint32_t planes, const PlaneLayout* layout) {
  Napi::Array a = Napi::Array::New(env, size_t{planes} * 2);
  for (uint32_t i = 0; i < planes; i++) {
    a.Set(i * 2, layout[i].offset);
    a.Set(i * 2 + 1, layout[i].stride);
  }
  return a;
}

// { fourcc, importable, planes: [fd, offset, stride, size, ...], cuda? } for a frame of a GPU backend.
Napi::Object handlesObject(Napi::Env env, const FrameHandles& h) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("fourcc", static_cast<double>(h.fourcc));
  o.Set("importable", h.importable);
  Napi::Array planes = Napi::Array::New(env, h.planes.size() * 4);
  for (size_t i = 0; i < h.planes.size(); i++) {
    planes.Set(static_cast<uint32_t>(i * 4), h.planes[i].fd);
    planes.Set(static_cast<uint32_t>(i * 4 + 1), static_cast<double>(h.planes[i].offset));
    planes.Set(static_cast<uint32_t>(i * 4 + 2), h.planes[i].stride);
    planes.Set(static_cast<uint32_t>(i * 4 + 3), static_cast<double>(h.planes[i].size));
  }
  o.Set("planes", planes);
  if (h.cuda.present) {
    Napi::Object cuda = Napi::Object::New(env);
    cuda.Set("device", h.cuda.device);
    cuda.Set("pointer", Napi::BigInt::New(env, static_cast<uint64_t>(h.cuda.pointer)));
    if (!h.cuda.ipcHandle.empty())
      cuda.Set("ipcHandle", Napi::Buffer<char>::Copy(env, h.cuda.ipcHandle.data(), h.cuda.ipcHandle.size()));
    o.Set("cuda", cuda);
  }
  return o;
}

// Copies a held frame's bytes (all planes, as laid out in its buffer) into a Uint8Array made by JS,
// on a libuv worker thread: mapping GPU memory for reading can be slow. The worker holds its own
// reference to the buffer, so a release meanwhile cannot free it.
class DownloadWorker : public Napi::AsyncWorker {
 public:
  DownloadWorker(Napi::Env env, GstBuffer* buffer, Napi::Uint8Array target)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        buffer_(gst_buffer_ref(buffer)),
        target_(Napi::Persistent(target)),
        dst_(target.Data()),
        capacity_(target.ByteLength()) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    size_t size = gst_buffer_get_size(buffer_.get());
    if (size > capacity_) {
      SetError("download target too small");
      return;
    }
    if (GstMemory* unmapped = copyBufferBytes(buffer_.get(), dst_)) {
      // e.g. a hardware dma-buf that the CPU cannot map (tiled, compressed, protected)
      unreadable_ = true;
      SetError(std::string("could not read the frame's memory: the CPU cannot map its ") + memoryKind(unmapped) +
               " memory");
      return;
    }
    copied_ = size;
  }
  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), static_cast<double>(copied_))); }
  void OnError(const Napi::Error& e) override {
    Napi::Object err = e.Value();
    if (unreadable_) err.Set("code", "ERR_NO_CPU_MEMORY");
    deferred_.Reject(err);
  }

 private:
  Napi::Promise::Deferred deferred_;
  BufferPtr buffer_;
  Napi::Reference<Napi::Uint8Array> target_;
  uint8_t* dst_;
  size_t capacity_;
  size_t copied_ = 0;
  bool unreadable_ = false;
};

}  // namespace

Napi::Function FrameSourceHandle::Define(Napi::Env env) {
  return DefineClass(env, "FrameSourceHandle",
                     {
                         InstanceMethod("_start", &FrameSourceHandle::Start),
                         InstanceMethod("_slotRequest", &FrameSourceHandle::SlotRequest),
                         InstanceMethod("_addSlots", &FrameSourceHandle::AddSlots),
                         InstanceMethod("_abandonSlots", &FrameSourceHandle::AbandonSlots),
                         InstanceMethod("_retired", &FrameSourceHandle::Retired),
                         InstanceMethod("_setRecord", &FrameSourceHandle::SetRecord),
                         InstanceMethod("_next", &FrameSourceHandle::Next),
                         InstanceMethod("_pollAfter", &FrameSourceHandle::PollAfter),
                         InstanceMethod("_release", &FrameSourceHandle::Release),
                         InstanceMethod("_stats", &FrameSourceHandle::Stats),
                         InstanceMethod("_writersWaiting", &FrameSourceHandle::WritersWaiting),
                         InstanceMethod("_close", &FrameSourceHandle::Close),
                         InstanceMethod("_seek", &FrameSourceHandle::Seek),
                         InstanceMethod("_pause", &FrameSourceHandle::Pause),
                         InstanceMethod("_step", &FrameSourceHandle::Step),
                         InstanceMethod("_abandon", &FrameSourceHandle::Abandon),
                         InstanceMethod("_download", &FrameSourceHandle::Download),
                     });
}

// new FrameSourceHandle(options, onWake): options were validated and normalised in lib/options.ts.
FrameSourceHandle::FrameSourceHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FrameSourceHandle>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "FrameSourceHandle(options, onWake) expects an object and a function");
  }
  Napi::Object o = info[0].As<Napi::Object>();
  PipelineOptions opts;
  Napi::Value desc = o.Get("pipeline");
  if (!desc.IsString()) throw Napi::TypeError::New(env, "native option pipeline must be a string");
  opts.description = desc.As<Napi::String>().Utf8Value();
  opts.ringSize = numberOption(o, "ringSize");
  opts.maxSlots = numberOption(o, "maxSlots");
  opts.maxQueued = numberOption(o, "maxQueued");
  opts.drop = o.Get("drop").As<Napi::Number>().Int32Value();
  opts.sourceProps = propertyPairs(o, "sourceProps");
  opts.sourceSetupProps = propertyPairs(o, "sourceSetupProps");
  opts.decoder = o.Get("decoder").IsNumber() ? o.Get("decoder").As<Napi::Number>().Int32Value() : 0;
  opts.loop = o.Get("loop").ToBoolean();
  // µs from JS, ns here.
  if (o.Get("start").IsNumber()) opts.start = seekTarget(o.Get("start").As<Napi::Number>().Int64Value());
  if (o.Get("end").IsNumber()) {
    int64_t end = o.Get("end").As<Napi::Number>().Int64Value();
    opts.end = end < 0 ? -1 : end * 1000;
  }
  opts.sync = o.Get("sync").ToBoolean();
  Napi::Value fifo = o.Get("fifoPath");
  if (fifo.IsString()) opts.fifoPath = fifo.As<Napi::String>().Utf8Value();
  sharedMemory_ = o.Get("sharedMemory").ToBoolean();
  Napi::Value backend = o.Get("backend");
  if (backend.IsString()) opts.backend = backend.As<Napi::String>().Utf8Value();
  if (o.Get("dmabufAllocator").IsNumber())
    opts.dmabufAllocator = o.Get("dmabufAllocator").As<Napi::Number>().Int32Value();

  BuildError err;
  pipeline_ = SourcePipeline::create(opts, &err);
  if (!pipeline_) {
    Napi::Error e = Napi::Error::New(env, err.message);
    e.Set("code", err.code);
    Napi::Array missing = Napi::Array::New(env, err.missing.size());
    for (size_t i = 0; i < err.missing.size(); i++) missing.Set(i, err.missing[i]);
    e.Set("missing", missing);
    throw e;
  }

  link_ =
      std::make_shared<JsLink>(Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "frame-source", 0, 1));
  std::weak_ptr<SourcePipeline> weak = pipeline_;
  std::shared_ptr<JsLink> link = link_;
  // wake() is called from GStreamer threads, never blocks, and is coalesced (by the pipeline and by
  // libuv). After the link is closed (close() finished, or the environment is going away) it does
  // nothing.
  link_->setWake(env, info[1].As<Napi::Function>(), [weak]() {
    if (auto p = weak.lock()) p->wakeHandled();
  });
  pipeline_->setWake([link]() { link->wake(); });
  // Registered after the thread-safe function so that, at environment teardown, it runs first
  // (hooks run in reverse order) and closes the link before the function goes away.
  napi_add_env_cleanup_hook(env, &FrameSourceHandle::onEnvCleanup, this);
  hookAdded_ = true;
}

FrameSourceHandle::~FrameSourceHandle() {
  if (hookAdded_) napi_remove_env_cleanup_hook(Env(), &FrameSourceHandle::onEnvCleanup, this);
  // Garbage-collected while open (the JS side never closed it): stop here, but never wait for a
  // pipeline that cannot be stopped; its slot memory is then left alive on purpose.
  if (pipeline_ && !pipeline_->stopNow(kTeardownWait)) leakSlotRefs();
  if (link_) link_->close(true);
  held_.clear();
}

// Environment teardown (worker terminated, process exiting): stop here, waiting a bounded time.
// A pipeline stuck in a system call is abandoned (its threads hold their own references; the link
// is closed, so they can never reach this environment again).
void FrameSourceHandle::onEnvCleanup(void* data) {
  auto* self = static_cast<FrameSourceHandle*>(data);
  self->hookAdded_ = false;
  if (!self->pipeline_->stopNow(kTeardownWait)) self->leakSlotRefs();
  self->link_->close(true);
  self->held_.clear();
  self->state_ = State::Closed;
}

// Slots of a pipeline that could not be stopped: a thread of it may still write into them, so
// their memory must outlive this handle. Deliberately never freed.
void FrameSourceHandle::leakSlotRefs() {
  if (slotRefs_.empty()) return;
  new std::unordered_map<int, Napi::Reference<Napi::Uint8Array>>(std::move(slotRefs_));
  slotRefs_.clear();
}

Napi::Value FrameSourceHandle::Start(const Napi::CallbackInfo& info) {
  if (state_ == State::Created) {
    state_ = State::Running;
    pipeline_->start();
  }
  return info.Env().Undefined();
}

Napi::Value FrameSourceHandle::SlotRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SlotRing::Request r = pipeline_->ring()->takeRequest();
  if (r.count == 0) return env.Undefined();
  requestedBytes_ = r.size + SlotRing::kAlign;
  Napi::Object o = Napi::Object::New(env);
  o.Set("bytes", static_cast<double>(requestedBytes_));
  o.Set("count", static_cast<double>(r.count));
  return o;
}

Napi::Value FrameSourceHandle::AddSlots(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "_addSlots expects an array of Uint8Array");
  Napi::Array arrays = info[0].As<Napi::Array>();
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (uint32_t i = 0; i < arrays.Length(); i++) {
    Napi::Value v = arrays.Get(i);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, "_addSlots expects Uint8Array slots");
    }
    auto a = v.As<Napi::Uint8Array>();
    if (a.ByteLength() < requestedBytes_) throw Napi::RangeError::New(env, "slot smaller than requested");
    size_t offset = 0;
    int id = pipeline_->ring()->add(a.Data(), a.ByteLength(), &offset);
    if (id < 0) continue;
    slotRefs_.emplace(id, Napi::Persistent(a));
    out.Set(n++, id);
    out.Set(n++, static_cast<double>(offset));
  }
  return out;
}

// _pollAfter(ms): the wake callback runs in ms unless a wake comes first; 0 cancels (JsLink::pollAfter).
Napi::Value FrameSourceHandle::PollAfter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "_pollAfter expects a number of milliseconds");
  double ms = info[0].As<Napi::Number>().DoubleValue();
  if (!(ms >= 0) || ms > 60000) throw Napi::RangeError::New(env, "_pollAfter expects 0 to 60000 ms");
  // Rounded up: a fraction of a millisecond arms the poll (for 1 ms) rather than cancelling it.
  if (link_) link_->pollAfter(static_cast<uint64_t>(std::ceil(ms)));
  return env.Undefined();
}

Napi::Value FrameSourceHandle::AbandonSlots(const Napi::CallbackInfo& info) {
  pipeline_->ring()->abandonRequest();
  return info.Env().Undefined();
}

Napi::Value FrameSourceHandle::Retired(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<int> ids = pipeline_->ring()->takeRetired();
  if (ids.empty()) return env.Undefined();
  Napi::Array out = Napi::Array::New(env, ids.size());
  for (size_t i = 0; i < ids.size(); i++) {
    slotRefs_.erase(ids[i]);
    out.Set(static_cast<uint32_t>(i), ids[i]);
  }
  return out;
}

// _setRecord(record): the Float64Array Next() writes plain frames into (see record_).
Napi::Value FrameSourceHandle::SetRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[0].As<Napi::Float64Array>().ElementLength() < kRecordFields) {
    throw Napi::TypeError::New(env, "_setRecord expects a Float64Array of at least " +
                                        std::to_string(static_cast<int>(kRecordFields)) + " elements");
  }
  auto a = info[0].As<Napi::Float64Array>();
  recordRef_ = Napi::Persistent(a);
  record_ = a.Data();
  return env.Undefined();
}

// _next(acceptFrame): undefined when nothing is waiting; kSlotWork when JS must serve the ring
// first; kFrame when a plain CPU frame was written into the record; else the item as an object.
Napi::Value FrameSourceHandle::Next(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (record_ && pipeline_->ring()->hasJsWork()) return Napi::Number::New(env, kSlotWork);
  Item item;
  bool batching = false;
  if (!pipeline_->next(info[0].ToBoolean(), &item, &batching)) {
    if (record_) record_[kRecBatching] = batching ? 1 : 0;
    return env.Undefined();
  }
  if (item.kind == Item::Kind::Frame && record_ && item.planes == 0 && !item.handles) {
    uint32_t id = nextFrameId_++;
    held_.emplace(id, Held{std::move(item.buffer), item.slot, std::move(item.inFlight)});
    double* r = record_;
    r[kRecId] = id;
    r[kRecSlot] = item.slot;
    r[kRecOffset] = static_cast<double>(item.offset);
    r[kRecSize] = static_cast<double>(item.size);
    r[kRecPts] = usOrMinusOne(item.pts);
    r[kRecDuration] = usOrMinusOne(item.duration);
    r[kRecPosition] = usOrMinusOne(item.streamTime);
    r[kRecSequence] = static_cast<double>(item.sequence);
    r[kRecCopied] = item.copied ? 1 : 0;
    r[kRecDiscont] = item.discont ? 1 : 0;
    return Napi::Number::New(env, kFrame);
  }
  Napi::Object o = Napi::Object::New(env);
  switch (item.kind) {
    case Item::Kind::Frame: {
      uint32_t id = nextFrameId_++;
      held_.emplace(id, Held{std::move(item.buffer), item.slot, std::move(item.inFlight)});
      o.Set("type", static_cast<double>(kFrame));
      o.Set("id", id);
      o.Set("slot", item.slot);
      o.Set("offset", static_cast<double>(item.offset));
      o.Set("size", static_cast<double>(item.size));
      o.Set("pts", usOrMinusOne(item.pts));
      o.Set("duration", usOrMinusOne(item.duration));
      o.Set("position", usOrMinusOne(item.streamTime));
      o.Set("sequence", static_cast<double>(item.sequence));
      o.Set("copied", item.copied);
      if (item.discont) o.Set("discont", true);
      if (item.planes > 0) o.Set("layout", layoutArray(env, item.planes, item.layout));
      if (item.handles) o.Set("handles", handlesObject(env, *item.handles));
      break;
    }
    case Item::Kind::Format: {
      const FormatInfo& f = *item.format;
      o.Set("type", static_cast<double>(kFormat));
      o.Set("id", f.id);
      o.Set("format", f.format);
      o.Set("width", f.width);
      o.Set("height", f.height);
      o.Set("fpsN", f.fpsN);
      o.Set("fpsD", f.fpsD);
      o.Set("parN", f.parN);
      o.Set("parD", f.parD);
      o.Set("size", static_cast<double>(f.size));
      o.Set("layout", layoutArray(env, f.planes, f.layout));
      o.Set("caps", f.caps);
      o.Set("colorimetry", f.colorimetry);
      o.Set("interlaced", f.interlaced);
      o.Set("elements", stringArray(env, f.elements));
      o.Set("decoder", f.decoder);
      o.Set("path", f.path);
      o.Set("writer", f.writer);
      break;
    }
    case Item::Kind::Eos:
      o.Set("type", static_cast<double>(kEos));
      break;
    case Item::Kind::Error:
    case Item::Kind::Warning:
      o.Set("type", static_cast<double>(item.kind == Item::Kind::Error ? kError : kWarning));
      o.Set("message", item.message);
      o.Set("debug", item.debug);
      o.Set("source", item.source);
      o.Set("domain", item.domain);
      o.Set("code", item.code);
      o.Set("missing", item.missing);
      if (item.early) o.Set("early", true);
      break;
    case Item::Kind::Live:
      o.Set("type", static_cast<double>(kLive));
      o.Set("live", item.live);
      break;
    case Item::Kind::Seek:
      o.Set("type", static_cast<double>(kSeek));
      o.Set("id", item.seekId);
      o.Set("ok", item.ok);
      o.Set("message", item.message);
      o.Set("position", usOrMinusOne(item.pts));
      o.Set("duration", usOrMinusOne(item.duration));
      break;
    case Item::Kind::Duration:
      o.Set("type", static_cast<double>(kDuration));
      o.Set("duration", usOrMinusOne(item.pts));
      o.Set("seekable", item.seekable);
      break;
  }
  return o;
}

// _release(id): 0 when the frame was not held (already released), 1 when released, 2 when released
// and its slot found detached.
Napi::Value FrameSourceHandle::Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  auto it = held_.find(id);
  if (it == held_.end()) return Napi::Number::New(env, 0);
  // In the ArrayBuffer fallback a slot's buffer can be detached (transferred away): its memory then
  // belongs to someone else and may be freed at any time, so GStreamer must never write into it
  // again. The buffer is discarded instead of going back to its pool, and the slot is retired once
  // its memory is freed. SharedArrayBuffers cannot be detached.
  bool detached = false;
  if (!sharedMemory_ && it->second.slot >= 0) {
    auto ref = slotRefs_.find(it->second.slot);
    detached = ref != slotRefs_.end() && ref->second.Value().ArrayBuffer().IsDetached();
    if (detached) {
      pipeline_->ring()->poison(it->second.slot);
      GST_BUFFER_FLAG_SET(it->second.buffer.get(), GST_BUFFER_FLAG_TAG_MEMORY);
    }
  }
  // Dropping the buffer returns it to its pool (or frees it, and with it the slot).
  held_.erase(it);
  return Napi::Number::New(env, detached ? 2 : 1);
}

// _download(id, target): resolves with the bytes copied into target (a Uint8Array JS allocated).
Napi::Value FrameSourceHandle::Download(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto it = held_.find(info[0].As<Napi::Number>().Uint32Value());
  if (it == held_.end()) throw Napi::Error::New(env, "the frame was released");
  if (!info[1].IsTypedArray()) throw Napi::TypeError::New(env, "_download expects a Uint8Array");
  auto* worker = new DownloadWorker(env, it->second.buffer.get(), info[1].As<Napi::Uint8Array>());
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

Napi::Value FrameSourceHandle::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PipelineStats s = pipeline_->stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("frames", static_cast<double>(s.frames));
  o.Set("zeroCopyFrames", static_cast<double>(s.zeroCopyFrames));
  o.Set("copiedFrames", static_cast<double>(s.copiedFrames));
  o.Set("decoderFrames", static_cast<double>(s.decoderFrames));
  o.Set("wakes", static_cast<double>(s.wakes));
  o.Set("bytesCopied", static_cast<double>(s.bytesCopied));
  o.Set("droppedFrames", static_cast<double>(s.droppedFrames));
  o.Set("queuedFrames", static_cast<double>(s.queuedFrames));
  o.Set("heldFrames", static_cast<double>(held_.size()));
  o.Set("slots", static_cast<double>(s.ring.slots));
  o.Set("slotsInUse", static_cast<double>(s.ring.inUse));
  o.Set("slotBytes", static_cast<double>(s.ring.bytes));
  return o;
}

Napi::Value FrameSourceHandle::WritersWaiting(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), pipeline_->ring()->writersWaiting());
}

Napi::Value FrameSourceHandle::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (state_ == State::Closed) {
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  closeWaiters_.push_back(deferred);
  if (state_ == State::Closing) return deferred.Promise();
  state_ = State::Closing;
  Ref();  // stay alive until finishClose, whatever JS drops meanwhile
  std::shared_ptr<JsLink> link = link_;
  // done() runs on the teardown thread once the pipeline is in NULL and no GStreamer thread is left.
  // If the handle was abandoned (or its environment went away) meanwhile, the link is closed and
  // this does nothing.
  pipeline_->stop(
      [link, this]() { link->call([this](Napi::Env e, Napi::Function) { callSafely([&] { finishClose(e); }); }); });
  return deferred.Promise();
}

// _abandon(): close() did not finish in time (an element is stuck in a system call): resolve it now.
// The stuck threads keep the pipeline alive; slot memory they might still write is never freed.
Napi::Value FrameSourceHandle::Abandon(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Closing) return Napi::Boolean::New(env, false);
  pipeline_->abandon();
  leakSlotRefs();
  finishClose(env);
  return Napi::Boolean::New(env, true);
}

// _seek(id, positionUs, stopUs, rate, accurate): validated in lib/frame-source.ts.
Napi::Value FrameSourceHandle::Seek(const Napi::CallbackInfo& info) {
  if (state_ != State::Running) return info.Env().Undefined();
  SeekRequest r;
  r.id = info[0].As<Napi::Number>().Uint32Value();
  r.position = seekTarget(info[1].As<Napi::Number>().Int64Value());
  int64_t stop = info[2].As<Napi::Number>().Int64Value();
  r.stop = stop < 0 ? -1 : stop * 1000;
  r.rate = info[3].As<Napi::Number>().DoubleValue();
  r.accurate = info[4].ToBoolean();
  pipeline_->seek(r);
  return info.Env().Undefined();
}

Napi::Value FrameSourceHandle::Pause(const Napi::CallbackInfo& info) {
  if (state_ == State::Running) pipeline_->setPaused(info[0].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value FrameSourceHandle::Step(const Napi::CallbackInfo& info) {
  if (state_ == State::Running) pipeline_->step();
  return info.Env().Undefined();
}

void FrameSourceHandle::finishClose(Napi::Env env) {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  // Nothing writes into slots any more: frames JS holds keep their own views on the memory.
  slotRefs_.clear();
  if (hookAdded_) {
    napi_remove_env_cleanup_hook(env, &FrameSourceHandle::onEnvCleanup, this);
    hookAdded_ = false;
  }
  link_->close(false);
  std::vector<Napi::Promise::Deferred> waiters;
  waiters.swap(closeWaiters_);
  for (auto& d : waiters) d.Resolve(env.Undefined());
  Unref();
}

}  // namespace fs
