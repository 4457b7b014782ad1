// Benchmark-only addon (not shipped). Two things:
//  1. AppsinkCopy: the common way to get GStreamer frames into Node, as a baseline for
//     frame-source: appsink, a pull thread, and one copy per frame into a new Node Buffer made on
//     the JS thread (Napi::Buffer::Copy). The pull thread blocks while two frames wait for JS.
//  2. Sink stamps: a GstTracer hook that records, for every buffer pushed into an element named
//     "frame-source-sink" (frame-source's appsink) or "bench-sink" (ours), its PTS and the
//     CLOCK_MONOTONIC time of the push, so every variant's delivery latency (buffer reaching the
//     sink -> frame in JS) is measured by the same native clock, without changing frame-source.
// Threads: the hook runs on GStreamer streaming threads; the pull thread is ours; everything
// else runs on the JS thread.
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/gsttracer.h>
#include <napi.h>
#include <uv.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

double monotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// --- sink stamps ---------------------------------------------------------------------------

struct Stamp {
  int64_t ptsUs;
  double ms;
};
constexpr size_t kStamps = 1 << 14;
std::mutex stampMutex;
Stamp stamps[kStamps];
size_t stampCount = 0;

typedef struct {
  GstTracer parent;
} BenchTracer;
typedef struct {
  GstTracerClass parent_class;
} BenchTracerClass;
G_DEFINE_TYPE(BenchTracer, bench_tracer, GST_TYPE_TRACER)
void bench_tracer_class_init(BenchTracerClass*) {}
void bench_tracer_init(BenchTracer*) {}

bool isBenchSink(GstPad* pad) {
  GstPad* peer = gst_pad_get_peer(pad);
  if (!peer) return false;
  GstObject* parent = gst_pad_get_parent(peer);
  bool yes = parent && (std::strcmp(GST_OBJECT_NAME(parent), "frame-source-sink") == 0 ||
                        std::strcmp(GST_OBJECT_NAME(parent), "bench-sink") == 0);
  if (parent) gst_object_unref(parent);
  gst_object_unref(peer);
  return yes;
}

// Called from a streaming thread just before any pad in the process pushes a buffer.
void onPadPushPre(GObject*, GstClockTime, GstPad* pad, GstBuffer* buffer) {
  if (!GST_BUFFER_PTS_IS_VALID(buffer) || !isBenchSink(pad)) return;
  double now = monotonicMs();
  std::lock_guard<std::mutex> lock(stampMutex);
  stamps[stampCount++ % kStamps] = Stamp{static_cast<int64_t>(GST_BUFFER_PTS(buffer) / 1000), now};
}

GstTracer* tracer = nullptr;

Napi::Value InstallSinkStamps(const Napi::CallbackInfo& info) {
  gst_init(nullptr, nullptr);
  if (!tracer) {
    tracer = GST_TRACER(g_object_new(bench_tracer_get_type(), nullptr));
    gst_tracing_register_hook(tracer, "pad-push-pre", G_CALLBACK(onPadPushPre));
  }
  return info.Env().Undefined();
}

// sinkTime(ptsUs): the monotonic ms at which the buffer with that PTS reached the sink, or -1.
Napi::Value SinkTime(const Napi::CallbackInfo& info) {
  int64_t pts = info[0].As<Napi::Number>().Int64Value();
  std::lock_guard<std::mutex> lock(stampMutex);
  size_t lo = stampCount > kStamps ? stampCount - kStamps : 0;
  for (size_t i = stampCount; i > lo; i--) {
    const Stamp& s = stamps[(i - 1) % kStamps];
    if (s.ptsUs == pts) return Napi::Number::New(info.Env(), s.ms);
  }
  return Napi::Number::New(info.Env(), -1);
}

Napi::Value Now(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), monotonicMs()); }

// --- appsink pull + copy -------------------------------------------------------------------

class AppsinkCopy : public Napi::ObjectWrap<AppsinkCopy> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "AppsinkCopy",
                       {InstanceMethod("_start", &AppsinkCopy::Start), InstanceMethod("_close", &AppsinkCopy::Close)});
  }

  // new AppsinkCopy(description, onFrame(buffer, ptsUs), onEnd(errorMessage | null))
  explicit AppsinkCopy(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AppsinkCopy>(info) {
    gst_init(nullptr, nullptr);
    std::string desc =
        info[0].As<Napi::String>().Utf8Value() +
        " ! appsink name=bench-sink sync=false enable-last-sample=false max-buffers=2 emit-signals=false";
    GError* err = nullptr;
    pipeline_ = gst_parse_launch(desc.c_str(), &err);
    if (err) {
      std::string msg = err->message;
      g_error_free(err);
      if (pipeline_) gst_object_unref(pipeline_);
      pipeline_ = nullptr;
      throw Napi::Error::New(info.Env(), msg);
    }
    sink_ = gst_bin_get_by_name(GST_BIN(pipeline_), "bench-sink");
    onFrame_ = Napi::Persistent(info[1].As<Napi::Function>());
    onEnd_ = Napi::Persistent(info[2].As<Napi::Function>());
    // Two frames may wait for JS; then the pull thread blocks (backpressure, bounded memory).
    tsfn_ = Napi::ThreadSafeFunction::New(info.Env(), info[1].As<Napi::Function>(), "appsink-copy", 2, 1);
  }

  ~AppsinkCopy() override { teardown(); }

 private:
  struct Item {
    AppsinkCopy* self;
    GstSample* sample;  // (transfer full), or null at the end
    std::string error;
  };

  Napi::Value Start(const Napi::CallbackInfo& info) {
    gst_element_set_state(pipeline_, GST_STATE_PLAYING);
    thread_ = std::thread([this] { pull(); });
    return info.Env().Undefined();
  }

  // Runs on the pull thread until EOS or error; every sample goes to the JS thread.
  void pull() {
    for (;;) {
      GstSample* sample = gst_app_sink_pull_sample(GST_APP_SINK(sink_));
      if (!sample) break;
      tsfn_.BlockingCall(new Item{this, sample, {}}, &AppsinkCopy::deliver);
    }
    std::string error;
    if (!gst_app_sink_is_eos(GST_APP_SINK(sink_))) {
      GstBus* bus = gst_element_get_bus(pipeline_);
      GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
      if (msg) {
        GError* err = nullptr;
        gst_message_parse_error(msg, &err, nullptr);
        error = err ? err->message : "pipeline error";
        if (err) g_error_free(err);
        gst_message_unref(msg);
      } else {
        error = "stopped without EOS";
      }
      gst_object_unref(bus);
    }
    tsfn_.BlockingCall(new Item{this, nullptr, error}, &AppsinkCopy::deliver);
    tsfn_.Release();
  }

  // Called on the JS thread for each item the pull thread queued. The JS object is kept alive by
  // its caller until onEnd, and _close() is only called after onEnd (it would deadlock earlier:
  // the pull thread may be blocked handing a frame to this very thread).
  static void deliver(Napi::Env env, Napi::Function, Item* item) {
    std::unique_ptr<Item> owned(item);
    AppsinkCopy* that = item->self;
    if (!item->sample) {
      that->onEnd_.Call({item->error.empty() ? env.Null() : Napi::String::New(env, item->error)});
      return;
    }
    GstBuffer* buffer = gst_sample_get_buffer(item->sample);
    GstMapInfo map;
    Napi::Value copy = env.Undefined();
    double pts = GST_BUFFER_PTS_IS_VALID(buffer) ? static_cast<double>(GST_BUFFER_PTS(buffer) / 1000) : -1;
    if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
      copy = Napi::Buffer<uint8_t>::Copy(env, map.data, map.size);
      gst_buffer_unmap(buffer, &map);
    }
    gst_sample_unref(item->sample);
    that->onFrame_.Call({copy, Napi::Number::New(env, pts)});
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    teardown();
    return info.Env().Undefined();
  }

  void teardown() {
    if (!pipeline_) return;
    gst_element_set_state(pipeline_, GST_STATE_NULL);  // unblocks pull_sample
    if (thread_.joinable()) thread_.join();
    gst_object_unref(sink_);
    gst_object_unref(pipeline_);
    pipeline_ = nullptr;
  }

  GstElement* pipeline_ = nullptr;
  GstElement* sink_ = nullptr;
  std::thread thread_;
  Napi::ThreadSafeFunction tsfn_;
  Napi::FunctionReference onFrame_;
  Napi::FunctionReference onEnd_;
};

// --- the machine's wake floor -------------------------------------------------------------
// A thread that wakes the JS thread every intervalMs, `count` times, the cheapest way a native
// thread can (a libuv async handle, as frame-source does), with the time it woke it: the least any
// sink-to-JS latency can be on this machine, with no GStreamer and no frame in it.
class WakeFloor : public Napi::ObjectWrap<WakeFloor> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "WakeFloor", {InstanceMethod("_close", &WakeFloor::Close)});
  }

  // new WakeFloor(count, intervalMs, onWake(stampMs)); onWake(-1) once all were sent.
  explicit WakeFloor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WakeFloor>(info) {
    count_ = info[0].As<Napi::Number>().Int32Value();
    intervalUs_ = static_cast<int64_t>(info[1].As<Napi::Number>().DoubleValue() * 1000);
    onWake_ = Napi::Persistent(info[2].As<Napi::Function>());
    env_ = info.Env();
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env_, &loop);
    async_ = new uv_async_t;
    async_->data = this;
    uv_async_init(loop, async_, &WakeFloor::onAsync);
    thread_ = std::thread([this] {
      for (int i = 0; i < count_; i++) {
        std::this_thread::sleep_for(std::chrono::microseconds(intervalUs_));
        {
          std::lock_guard<std::mutex> lock(mu_);
          stamps_.push_back(monotonicMs());
        }
        uv_async_send(async_);
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        done_ = true;
      }
      uv_async_send(async_);
    });
  }

  ~WakeFloor() override { stop(); }

 private:
  static void onAsync(uv_async_t* handle) {
    auto* self = static_cast<WakeFloor*>(handle->data);
    std::vector<double> stamps;
    bool done;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      stamps.swap(self->stamps_);
      done = self->done_;
    }
    Napi::HandleScope scope(self->env_);
    for (double t : stamps) self->onWake_.Call({Napi::Number::New(self->env_, t)});
    if (done && !self->ended_) {
      self->ended_ = true;
      self->onWake_.Call({Napi::Number::New(self->env_, -1)});
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    stop();
    return info.Env().Undefined();
  }

  void stop() {
    if (thread_.joinable()) thread_.join();
    if (async_) {
      uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
      async_ = nullptr;
    }
  }

  int count_ = 0;
  int64_t intervalUs_ = 0;
  Napi::Env env_ = nullptr;
  Napi::FunctionReference onWake_;
  uv_async_t* async_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::vector<double> stamps_;
  bool done_ = false;
  bool ended_ = false;
};

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("AppsinkCopy", AppsinkCopy::Init(env));
  exports.Set("WakeFloor", WakeFloor::Init(env));
  exports.Set("installSinkStamps", Napi::Function::New(env, InstallSinkStamps));
  exports.Set("sinkTime", Napi::Function::New(env, SinkTime));
  exports.Set("now", Napi::Function::New(env, Now));
  return exports;
}

NODE_API_MODULE(appsink_copy, Init)
