// Test-only diagnostics: see leaks.h. Runs on the JS thread.
#include "util/leaks.h"

#include <dlfcn.h>
#include <gst/gst.h>

#include <cstdio>

#include "util/gst_ptr.h"

namespace fs {

namespace {
using ActiveTracersFn = GList* (*)();

// gst_tracing_get_active_tracers() came in GStreamer 1.18; the addon must load on 1.16, so it is
// looked up at run time in the libgstreamer the addon is linked to (found through a function every
// version has), never linked. Null on 1.16: the leaks diagnostics then report "not active".
ActiveTracersFn activeTracersFn() {
  static const ActiveTracersFn fn = []() -> ActiveTracersFn {
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void*>(&gst_version), &info) || !info.dli_fname) return nullptr;
    void* lib = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!lib) return nullptr;
    auto found = reinterpret_cast<ActiveTracersFn>(dlsym(lib, "gst_tracing_get_active_tracers"));
    dlclose(lib);  // RTLD_NOLOAD took a reference to a library that stays loaded: give it back
    return found;
  }();
  return fn;
}

GstPtr<GstTracer> leaksTracer() {
  GstPtr<GstTracer> leaks;
  ActiveTracersFn activeTracers = activeTracersFn();
  if (!activeTracers) return leaks;
  GList* tracers = activeTracers();
  for (GList* l = tracers; l; l = l->next) {
    if (!leaks && g_strcmp0(G_OBJECT_TYPE_NAME(l->data), "GstLeaksTracer") == 0) {
      leaks.reset(GST_TRACER(gst_object_ref(l->data)));
    }
  }
  g_list_free_full(tracers, gst_object_unref);
  return leaks;
}
}  // namespace

Napi::Value liveObjects(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GstPtr<GstTracer> leaks = leaksTracer();
  if (!leaks) return env.Null();
  // The result is deliberately never freed: in GStreamer 1.22 freeing it unrefs some mini objects
  // once too often (GStreamer-CRITICAL "refcount > 0" in gst_mini_object_unref). Its references
  // only pin objects alive at this moment; tests compare such snapshots by address.
  GstStructure* result = nullptr;
  g_signal_emit_by_name(leaks.get(), "get-live-objects", &result);
  Napi::Array out = Napi::Array::New(env);
  const GValue* list = result ? gst_structure_get_value(result, "live-objects-list") : nullptr;
  guint n = list ? gst_value_list_get_size(list) : 0;
  for (guint i = 0; i < n; i++) {
    const GstStructure* s = gst_value_get_structure(gst_value_list_get_value(list, i));
    const GValue* obj = s ? gst_structure_get_value(s, "object") : nullptr;
    if (!obj) continue;
    gpointer p = G_VALUE_HOLDS_OBJECT(obj) ? g_value_get_object(obj) : g_value_get_boxed(obj);
    char address[32];
    std::snprintf(address, sizeof address, "%p", p);
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", G_VALUE_TYPE_NAME(obj));
    o.Set("address", address);
    out.Set(i, o);
  }
  return out;
}

}  // namespace fs
