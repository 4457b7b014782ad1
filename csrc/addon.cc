// Registers the addon's classes and functions; owns nothing. Runs on the JS thread of each
// environment (main thread or worker) that loads it; GStreamer is initialised once per process.
#include <gst/gst.h>
#include <gst/pbutils/pbutils.h>
#include <napi.h>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "backends/backend.h"
#ifdef __linux__
#include "backends/dmabuf_test_element.h"
#endif
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

// Factory names of the hardware video decoders GStreamer has (VA-API, NVDEC, V4L2, ...).
Napi::Value hardwareDecoders(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GList* list = gst_element_factory_list_get_elements(
      GST_ELEMENT_FACTORY_TYPE_DECODER | GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO | GST_ELEMENT_FACTORY_TYPE_HARDWARE,
      GST_RANK_NONE);
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (GList* l = list; l; l = l->next) {
    const gchar* klass = gst_element_factory_get_metadata(GST_ELEMENT_FACTORY(l->data), GST_ELEMENT_METADATA_KLASS);
    // The type flags above select by any category; the klass says exactly what an element is.
    if (klass && std::strstr(klass, "Hardware") && std::strstr(klass, "Decoder") && std::strstr(klass, "Video")) {
      out.Set(n++, GST_OBJECT_NAME(l->data));
    }
  }
  gst_plugin_feature_list_free(list);
  return out;
}

// Lists cameras with GstDeviceMonitor on a libuv worker thread: probing can take a while on some
// platforms, and must not stall the JS thread.
class DevicesWorker : public Napi::AsyncWorker {
 public:
  explicit DevicesWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  struct Device {
    std::string name, deviceClass, path, caps, api;
  };
  // Runs on a libuv worker thread.
  void Execute() override {
    GstDeviceMonitor* monitor = gst_device_monitor_new();
    gst_device_monitor_add_filter(monitor, "Video/Source", nullptr);
    if (!gst_device_monitor_start(monitor)) {
      gst_object_unref(monitor);
      return;  // no provider can run here: no cameras
    }
    GList* devices = gst_device_monitor_get_devices(monitor);
    for (GList* l = devices; l; l = l->next) {
      GstDevice* d = GST_DEVICE(l->data);
      Device out;
      gchar* name = gst_device_get_display_name(d);
      gchar* klass = gst_device_get_device_class(d);
      out.name = name ? name : "";
      out.deviceClass = klass ? klass : "";
      g_free(name);
      g_free(klass);
      if (GstStructure* props = gst_device_get_properties(d)) {
        for (const char* key : {"api.v4l2.path", "device.path", "object.path"}) {
          if (const gchar* v = gst_structure_get_string(props, key)) {
            out.path = v;
            break;
          }
        }
        if (const gchar* api = gst_structure_get_string(props, "device.api")) out.api = api;
        gst_structure_free(props);
      }
      if (GstCaps* caps = gst_device_get_caps(d)) {
        gchar* s = gst_caps_to_string(caps);
        out.caps = s ? s : "";
        g_free(s);
        gst_caps_unref(caps);
      }
      devices_.push_back(std::move(out));
    }
    g_list_free_full(devices, gst_object_unref);
    gst_device_monitor_stop(monitor);
    gst_object_unref(monitor);
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Array arr = Napi::Array::New(env, devices_.size());
    for (size_t i = 0; i < devices_.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", devices_[i].name);
      o.Set("deviceClass", devices_[i].deviceClass);
      o.Set("path", devices_[i].path);
      o.Set("api", devices_[i].api);
      o.Set("caps", devices_[i].caps);
      arr.Set(static_cast<uint32_t>(i), o);
    }
    deferred_.Resolve(arr);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<Device> devices_;
};

Napi::Value listDevices(const Napi::CallbackInfo& info) {
  auto* worker = new DevicesWorker(info.Env());
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

// Test-only: detaches the ArrayBuffer under a Uint8Array (freeing its memory, as a transfer whose
// receiver is collected would), to test what happens to a slot detached by a path Node cannot stop.
Napi::Value detachForTest(const Napi::CallbackInfo& info) {
  info[0].As<Napi::Uint8Array>().ArrayBuffer().Detach();
  return info.Env().Undefined();
}

// probeBackends(dmabufAllocator): [{ name, available, reason, detail }] for every backend built in.
Napi::Value probeBackends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  fs::BackendSetup setup;
  setup.dmabufAllocator = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  const auto& all = fs::allBackends();
  Napi::Array out = Napi::Array::New(env, all.size());
  for (size_t i = 0; i < all.size(); i++) {
    fs::BackendProbe p = all[i]->probe(setup);
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", all[i]->name);
    o.Set("available", p.available);
    o.Set("reason", p.reason);
    o.Set("detail", p.detail);
    o.Set("systemMemory", p.systemMemory);
    if (!p.devices.empty()) {
      Napi::Array devices = Napi::Array::New(env, p.devices.size());
      for (size_t d = 0; d < p.devices.size(); d++) {
        Napi::Object dev = Napi::Object::New(env);
        dev.Set("index", p.devices[d].index);
        dev.Set("name", p.devices[d].name);
        dev.Set("computeCapability", p.devices[d].capability);
        dev.Set("memory", static_cast<double>(p.devices[d].memory));
        devices.Set(static_cast<uint32_t>(d), dev);
      }
      o.Set("devices", devices);
    }
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// Whether some installed element reads URIs of this scheme (file, http, rtsp, ...).
Napi::Value uriSchemeSupported(const Napi::CallbackInfo& info) {
  std::string scheme = info[0].As<Napi::String>().Utf8Value();
  return Napi::Boolean::New(info.Env(), gst_uri_protocol_is_supported(GST_URI_SRC, scheme.c_str()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  std::call_once(gstInitOnce, []() {
    GError* err = nullptr;
    if (!gst_init_check(nullptr, nullptr, &err)) {
      gstInitError = err && err->message ? err->message : "gst_init failed";
      if (err) g_error_free(err);
      return;
    }
    gst_pb_utils_init();
#ifdef __linux__
    fs::registerTestElements();
#endif
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
  exports.Set("uriSchemeSupported", Napi::Function::New(env, uriSchemeSupported, "uriSchemeSupported"));
  exports.Set("hardwareDecoders", Napi::Function::New(env, hardwareDecoders, "hardwareDecoders"));
  exports.Set("listDevices", Napi::Function::New(env, listDevices, "listDevices"));
  exports.Set("probeBackends", Napi::Function::New(env, probeBackends, "probeBackends"));
  exports.Set("elementExists", Napi::Function::New(env, elementExists, "elementExists"));
  exports.Set("FrameSourceHandle", fs::FrameSourceHandle::Define(env));
  exports.Set("_liveObjects", Napi::Function::New(env, fs::liveObjects, "_liveObjects"));    // tests only
  exports.Set("_detachForTest", Napi::Function::New(env, detachForTest, "_detachForTest"));  // tests only
  return exports;
}

}  // namespace

NODE_API_MODULE(frame_source, Init)
