// FrameSourceHandle: the JS object behind one FrameSource. Owns the SourcePipeline, the JsLink that
// wakes JS (a libuv async handle, the batch poll's timer, and a thread-safe function for the rest),
// the references that keep slot memory alive while GStreamer may write it, and the buffers of
// frames JS holds. Every method runs on the JS thread of the environment that made it; GStreamer
// threads reach it only through the JsLink.
#pragma once

#include <napi.h>

#include <memory>
#include <unordered_map>
#include <vector>

#include "pipeline.h"
#include "util/js_link.h"

namespace fs {

class FrameSourceHandle : public Napi::ObjectWrap<FrameSourceHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit FrameSourceHandle(const Napi::CallbackInfo& info);
  ~FrameSourceHandle() override;
  FrameSourceHandle(const FrameSourceHandle&) = delete;
  FrameSourceHandle& operator=(const FrameSourceHandle&) = delete;

 private:
  enum class State { Created, Running, Closing, Closed };

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value SlotRequest(const Napi::CallbackInfo& info);
  Napi::Value AddSlots(const Napi::CallbackInfo& info);
  Napi::Value AbandonSlots(const Napi::CallbackInfo& info);
  Napi::Value Retired(const Napi::CallbackInfo& info);
  Napi::Value SetRecord(const Napi::CallbackInfo& info);
  Napi::Value Next(const Napi::CallbackInfo& info);
  Napi::Value PollAfter(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value WritersWaiting(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // Playback control: each returns at once; results arrive as items.
  Napi::Value Seek(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value Abandon(const Napi::CallbackInfo& info);
  Napi::Value Download(const Napi::CallbackInfo& info);

  void finishClose(Napi::Env env);
  static void onEnvCleanup(void* self);

  void leakSlotRefs();

  std::shared_ptr<SourcePipeline> pipeline_;
  std::shared_ptr<JsLink> link_;
  bool hookAdded_ = false;
  bool sharedMemory_ = true;  // slots are SharedArrayBuffers (cannot be detached)
  State state_ = State::Created;
  size_t requestedBytes_ = 0;
  std::unordered_map<int, Napi::Reference<Napi::Uint8Array>> slotRefs_;
  struct Held {
    BufferPtr buffer;
    int slot;
    std::shared_ptr<void> inFlight;  // GPU frames in upstream's memory: backpressure until released
  };
  std::unordered_map<uint32_t, Held> held_;
  uint32_t nextFrameId_ = 1;
  // A Float64Array of JS's (kRecordFields long) that Next() fills for a plain CPU frame instead of
  // making an object: no property names, no allocation, per frame.
  Napi::Reference<Napi::Float64Array> recordRef_;
  double* record_ = nullptr;
  std::vector<Napi::Promise::Deferred> closeWaiters_;
};

}  // namespace fs
