// Registers the addon's classes and functions; owns nothing. Runs on the JS thread of each
// environment (main thread or worker) that loads it; GStreamer is initialised once per process.
#include <gst/gst.h>
#include <napi.h>

#include <mutex>

#include "frame_source.h"
#include "slot_ring.h"
#include "util/leaks.h"

namespace {

std::once_flag gstInitOnce;
std::string gstInitError;

Napi::Value elementExists(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  GstElementFactory* f = gst_element_factory_find(name.c_str());
  if (f) gst_object_unref(f);
  return Napi::Boolean::New(info.Env(), f != nullptr);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  std::call_once(gstInitOnce, []() {
    GError* err = nullptr;
    if (!gst_init_check(nullptr, nullptr, &err)) {
      gstInitError = err && err->message ? err->message : "gst_init failed";
      if (err) g_error_free(err);
    }
  });
  if (!gstInitError.empty()) {
    Napi::Error e = Napi::Error::New(env, "GStreamer failed to initialise: " + gstInitError);
    e.Set("code", "ERR_GSTREAMER_INIT");
    throw e;
  }
  guint major = 0, minor = 0, micro = 0, nano = 0;
  gst_version(&major, &minor, &micro, &nano);
  Napi::Object version = Napi::Object::New(env);
  version.Set("major", major);
  version.Set("minor", minor);
  version.Set("micro", micro);
  exports.Set("gstreamerVersion", version);
  exports.Set("slotAlignment", static_cast<double>(fs::SlotRing::kAlign));
  exports.Set("elementExists", Napi::Function::New(env, elementExists, "elementExists"));
  exports.Set("FrameSourceHandle", fs::FrameSourceHandle::Define(env));
  exports.Set("_liveObjects", Napi::Function::New(env, fs::liveObjects, "_liveObjects"));  // tests only
  return exports;
}

}  // namespace

NODE_API_MODULE(frame_source, Init)
