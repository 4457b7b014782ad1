// SourcePipeline: see pipeline.h for what it owns and which threads run its code.
#include "pipeline.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>
#include <utility>

#include <gst/base/gstbasetransform.h>
#include <gst/pbutils/missing-plugins.h>

#include "backends/cpu.h"
#include "slot_pool.h"

namespace fs {

namespace {

ElementPtr sinkRef(GstElement* e) { return ElementPtr(GST_ELEMENT(gst_object_ref_sink(e))); }

constexpr const char* kSinkName = "frame-source-sink";

// Frames closer together than this come from a source running as fast as it can: JS is woken
// once per batch of up to kBatchFrames of them (see SourcePipeline::next()). Waking a sleeping JS
// thread costs ~30 us on the waking thread and as much again on the woken one on our 2-core VM;
// a batch of 4 saved ~8% of the whole process's CPU at 720p RGBA (npm run bench) while the slots
// were reused first in, first out (every slot written in turn whatever the batch).
constexpr int64_t kFastGapNs = 2'000'000;
constexpr size_t kBatchFrames = 4;
// Frames larger than this are not batched. A batch's frames are in flight, each in a slot of its
// own, and the slot pool reuses the slot returned last first: every frame a batch holds back is one
// more slot the writer cycles through, out of the CPU's caches. Measured with npm run bench (ratio
// to the floor, alternating builds, the host's caches contended): 1080p RGBA (8.3 MB frames)
// 1.10-1.20x with a wake per frame, 1.30-1.35x in batches of 4; 720p I420 (1.4 MB) 1.09x in
// batches of 4, 1.15x one by one; 720p RGBA (3.7 MB), 1080p I420 and 2160p the same either way,
// within the noise, where batches of 4 save half the wakes of batches of 2 (~0.007 ms of JS a
// frame at 720p RGBA).
constexpr size_t kBatchMaxFrameBytes = 4u << 20;

int64_t monotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Reference frames a decoder may keep in slots of a growing pool, beyond the ring's maxSlots: the
// most H.264/H.265 allow (a DPB of 16 frames).
constexpr size_t kDecoderReferences = 16;

// Items that JS gets as soon as it wakes, ahead of queued frames (in urgent_, in arrival order). An
// error is also announced there (a copy), while the item itself stays behind the frames decoded
// before it.
bool isUrgent(Item::Kind k) { return k == Item::Kind::Warning || k == Item::Kind::Live; }

// Calls fn(element) for each element in the bin, recursively, until it returns true; whether one did.
// The elements are borrowed: the bin keeps them.
template <typename Fn>
bool anyElement(GstBin* bin, Fn fn) {
  GstIterator* it = gst_bin_iterate_recurse(bin);
  GValue item = G_VALUE_INIT;
  bool found = false;
  while (!found && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    found = fn(GST_ELEMENT(g_value_get_object(&item)));
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return found;
}

// The pipeline's duration in ns, or -1 while it is not known.
gint64 durationOf(GstElement* pipeline) {
  gint64 duration = -1;
  return gst_element_query_duration(pipeline, GST_FORMAT_TIME, &duration) ? duration : -1;
}

const char* factoryName(GstElement* e) {
  GstElementFactory* f = gst_element_get_factory(e);
  return f ? GST_OBJECT_NAME(f) : nullptr;
}

// The name of an appsink in the bin (recursively) other than `ours`, or "" when there is none.
std::string otherAppsink(GstBin* bin, GstElement* ours) {
  std::string found;
  anyElement(bin, [&](GstElement* e) {
    const char* factory = factoryName(e);
    if (e != ours && factory && std::strcmp(factory, "appsink") == 0) found = GST_OBJECT_NAME(e);
    return !found.empty();
  });
  return found;
}

// Whether any element in the bin (recursively) is made by a factory without sink pad templates.
bool hasSourceElement(GstBin* bin) {
  return anyElement(bin, [](GstElement* e) {
    GstElementFactory* f = gst_element_get_factory(e);
    // Factories without templates (plain bins, capsfilter-like helpers are not among them) say nothing.
    const GList* templates = f ? gst_element_factory_get_static_pad_templates(f) : nullptr;
    bool hasSink = false;
    for (const GList* t = templates; t; t = t->next) {
      if (static_cast<GstStaticPadTemplate*>(t->data)->direction == GST_PAD_SINK) hasSink = true;
    }
    return templates != nullptr && !hasSink;
  });
}

std::string describeMissing(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Whether any element in the bin (recursively) can create source pads later (decodebin, demuxers).
bool hasSometimesSrcPads(GstBin* bin) {
  return anyElement(bin, [](GstElement* e) {
    GstElementFactory* factory = gst_element_get_factory(e);
    for (const GList* t = factory ? gst_element_factory_get_static_pad_templates(factory) : nullptr; t; t = t->next) {
      auto* tmpl = static_cast<const GstStaticPadTemplate*>(t->data);
      if (tmpl->direction == GST_PAD_SRC && tmpl->presence == GST_PAD_SOMETIMES) return true;
    }
    return false;
  });
}

}  // namespace

SourcePipeline::SourcePipeline(const PipelineOptions& opts)
    : opts_(opts), ring_(std::make_shared<SlotRing>(opts.maxSlots)) {
  batchFrames_ = std::min<size_t>(kBatchFrames, std::max<size_t>(opts.ringSize / 2, 1));
  backend_ = findBackend(opts.backend);
  setup_.ring = ring_;
  setup_.ringSize = opts.ringSize;
  setup_.dmabufAllocator = opts.dmabufAllocator;
  gst_video_info_init(&videoInfo_);
}

std::shared_ptr<SourcePipeline> SourcePipeline::create(const PipelineOptions& opts, BuildError* err) {
  std::shared_ptr<SourcePipeline> p(new SourcePipeline(opts));
  if (!p->backend_) {
    err->code = "ERR_BACKEND_UNAVAILABLE";
    err->message = "this build of frame-source has no backend named '" + opts.backend + "'";
    return nullptr;
  }
  if (!p->build(err)) return nullptr;
  std::weak_ptr<SourcePipeline> weak = p;
  p->ring_->setWake([weak]() {
    if (auto self = weak.lock()) self->wake();
  });
  p->setup_.allocFailed = [weak](const std::string& why) {
    if (auto self = weak.lock()) self->noteAllocFailure(why);
  };
  return p;
}

bool SourcePipeline::build(BuildError* err) {
  // The description may end in a caps filter ("... ! video/x-raw,format=RGBA"), which only parses
  // with an element after it: our sink is appended to the text. Its caps make a non-video output
  // fail here, at link time, instead of later at negotiation.
  // A GPU backend's caps (with a caps feature) are quoted: they hold parentheses and semicolons.
  const std::string sinkCaps =
      backend_ == &kCpuBackend ? std::string("video/x-raw") : "\"" + std::string(backend_->sinkCaps) + "\"";
  const std::string full = opts_.description + " ! appsink name=" + kSinkName + " caps=" + sinkCaps;
  ParseContextPtr ctx(gst_parse_context_new());
  GError* gerr = nullptr;
  GstElement* parsed = gst_parse_launch_full(full.c_str(), ctx.get(), GST_PARSE_FLAG_FATAL_ERRORS, &gerr);
  ErrorPtr error(gerr);
  ElementPtr top(parsed ? sinkRef(parsed) : nullptr);
  if (!top || error) {
    StrvPtr missing(gst_parse_context_get_missing_elements(ctx.get()));
    if (missing && missing.get()[0]) {
      for (gchar** m = missing.get(); *m; m++) err->missing.emplace_back(*m);
      err->code = "ERR_MISSING_ELEMENT";
      err->message = "no such GStreamer element: " + describeMissing(err->missing);
    } else if (error && error->domain == GST_PARSE_ERROR && error->code == GST_PARSE_ERROR_LINK) {
      err->code = "ERR_NOT_NEGOTIATED";
      err->message = std::string(error->message) +
                     (backend_ == &kCpuBackend
                          ? std::string(": the pipeline's output must be raw video (video/x-raw in system memory); end "
                                        "it with a decoder or 'videoconvert'")
                          : std::string(": the ") + backend_->name + " backend takes " + backend_->sinkCaps +
                                "; end the pipeline with 'videoconvert' and a caps filter to one of those formats");
    } else {
      err->code = "ERR_PIPELINE_PARSE";
      err->message = error ? error->message : "the pipeline description could not be parsed";
    }
    return false;
  }
  if (!GST_IS_PIPELINE(top.get())) {
    err->code = "ERR_PIPELINE_PARSE";
    err->message = "the pipeline description did not produce a pipeline";
    return false;
  }
  GstElement* sink = gst_bin_get_by_name(GST_BIN(top.get()), kSinkName);
  ElementPtr sinkHolder(sink);
  GstElementFactory* factory = sink ? gst_element_get_factory(sink) : nullptr;
  if (!factory || std::strcmp(GST_OBJECT_NAME(factory), "appsink") != 0) {
    err->code = "ERR_PIPELINE_PARSE";
    err->message = std::string("the name '") + kSinkName + "' is reserved for frame-source's sink";
    return false;
  }
  // An appsink of the description's own: nothing reads it, so it holds its buffers, its end of
  // stream (it waits for them to be pulled) and, with it, the pipeline's: reads would never end.
  std::string foreignAppsink = otherAppsink(GST_BIN(top.get()), sink);
  if (!foreignAppsink.empty()) {
    err->code = "ERR_PIPELINE_PARSE";
    err->message = "'" + foreignAppsink +
                   "' is an appsink: nothing would read it, and the stream could never end (frame-source "
                   "reads frames from a sink of its own; end a branch you discard in 'fakesink')";
    return false;
  }
  // Without an element that has no input (a source), nothing would ever flow.
  if (!hasSourceElement(GST_BIN(top.get()))) {
    err->code = "ERR_PIPELINE_PARSE";
    err->message =
        "the pipeline has no source element: it must start with one (e.g. 'videotestsrc ! ...', "
        "'filesrc location=... ! decodebin ! videoconvert')";
    return false;
  }
  // An unlinked input means a branch nothing feeds: the sink would wait forever, with no error
  // and no end of stream. Elements with "sometimes" outputs (decodebin, demuxers) are linked only
  // when their pads appear, so with one of them an unlinked input is expected.
  PadPtr dangling(
      hasSometimesSrcPads(GST_BIN(top.get())) ? nullptr : gst_bin_find_unlinked_pad(GST_BIN(top.get()), GST_PAD_SINK));
  if (dangling) {
    GstObject* parent = gst_pad_get_parent(dangling.get());
    std::string name = parent ? GST_OBJECT_NAME(parent) : "an element";
    if (parent) gst_object_unref(parent);
    err->code = "ERR_PIPELINE_PARSE";
    err->message = "'" + name + "' has an unlinked input: nothing would ever reach it (link it, or remove it)";
    return false;
  }
  if (!opts_.sourceProps.empty() || !opts_.sourceSetupProps.empty() || opts_.decoder != 0) {
    ElementPtr src(gst_bin_get_by_name(GST_BIN(top.get()), "fs-src"));
    if (!src) {
      err->code = "ERR_PIPELINE_PARSE";
      err->message = "internal: the source element 'fs-src' is missing";
      return false;
    }
    if (!applyProperties(src.get(), opts_.sourceProps, false, err)) return false;
    if (!opts_.sourceSetupProps.empty() && g_signal_lookup("source-setup", G_OBJECT_TYPE(src.get())) != 0) {
      g_signal_connect(src.get(), "source-setup", G_CALLBACK(&SourcePipeline::onSourceSetup), this);
    }
    if (opts_.decoder != 0 && g_signal_lookup("autoplug-select", G_OBJECT_TYPE(src.get())) != 0) {
      g_signal_connect(src.get(), "autoplug-select", G_CALLBACK(&SourcePipeline::onAutoplugSelect), this);
    }
  }
  if (!opts_.fifoPath.empty()) {
    ElementPtr fdsrc(gst_bin_get_by_name(GST_BIN(top.get()), "fs-fd"));
    // O_NONBLOCK: opening a FIFO for reading would otherwise block until a writer appears.
    fifoFd_ = fdsrc ? open(opts_.fifoPath.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC) : -1;
    if (fifoFd_ < 0) {
      err->code = errno == ENOENT ? "ERR_FILE_NOT_FOUND" : "ERR_PIPELINE";
      err->message = "cannot open " + opts_.fifoPath + ": " + (fdsrc ? g_strerror(errno) : "no fs-fd element");
      return false;
    }
    g_object_set(fdsrc.get(), "fd", fifoFd_, nullptr);
  }
  // What the pipeline is made of, decoders plugged later included: reported with each format.
  g_signal_connect(top.get(), "deep-element-added", G_CALLBACK(&SourcePipeline::onElementAdded), this);
  {
    std::vector<std::string> names;
    anyElement(GST_BIN(top.get()), [&](GstElement* e) {
      if (const char* factory = factoryName(e)) names.emplace_back(factory);
      return false;
    });
    // The iterator walks from the sink upstream; report in data-flow order.
    std::lock_guard<std::mutex> lk(elementsMu_);
    elements_.assign(names.rbegin(), names.rend());
  }
  // enable-last-sample would pin one extra buffer (and its slot); sync=false delivers on arrival.
  // sync (the `sync` option) makes it wait for each frame's time on the clock instead.
  g_object_set(sink, "sync", opts_.sync ? TRUE : FALSE, "enable-last-sample", FALSE, "emit-signals", FALSE,
               "max-buffers", 1u, "qos", FALSE, nullptr);
  pipeline_ = std::move(top);

  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = &SourcePipeline::onNewSample;
  callbacks.new_preroll = &SourcePipeline::onNewPreroll;
  gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, this, nullptr);

  PadPtr sinkPad(gst_element_get_static_pad(sink, "sink"));
  gst_pad_add_probe(sinkPad.get(), GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM, &SourcePipeline::onQuery, this, nullptr);
  gst_pad_add_probe(sinkPad.get(), static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_EVENT_FLUSH),
                    &SourcePipeline::onFlush, this, nullptr);

  BusPtr bus(gst_element_get_bus(pipeline_.get()));
  gst_bus_set_sync_handler(bus.get(), &SourcePipeline::onBusMessage, this, nullptr);
  return true;
}

SourcePipeline::~SourcePipeline() {
  teardown();
  // Only now: a thread that was stuck reading it (abandoned) may have held it until a moment ago.
  if (fifoFd_ >= 0) close(fifoFd_);
}

// Sets string-given properties, each converted to the property's own type by GStreamer; a string
// property is set verbatim, never deserialized (a value starting with a quote stays as it is).
bool SourcePipeline::applyProperties(GstElement* element, const std::vector<std::pair<std::string, std::string>>& props,
                                     bool onlyExisting, BuildError* err) {
  for (const auto& [name, value] : props) {
    GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(element), name.c_str());
    if (!spec) {
      if (onlyExisting) continue;
      err->code = "ERR_PIPELINE_PARSE";
      err->message = "internal: " + std::string(GST_OBJECT_NAME(element)) + " has no property '" + name + "'";
      return false;
    }
    if (G_PARAM_SPEC_VALUE_TYPE(spec) == G_TYPE_STRING) {
      g_object_set(element, name.c_str(), value.c_str(), nullptr);
    } else {
      gst_util_set_object_arg(G_OBJECT(element), name.c_str(), value.c_str());
    }
  }
  return true;
}

// Called from the thread that adds an element anywhere in the pipeline (the JS thread while
// building, streaming threads as decodebin plugs decoders).
void SourcePipeline::onElementAdded(GstBin*, GstBin*, GstElement* element, gpointer data) {
  auto* self = static_cast<SourcePipeline*>(data);
  GstElementFactory* f = gst_element_get_factory(element);
  if (!f) return;
  const gchar* klass = gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_KLASS);
  std::lock_guard<std::mutex> lk(self->elementsMu_);
  self->elements_.emplace_back(GST_OBJECT_NAME(f));
  if (klass && std::strstr(klass, "Decoder") && (std::strstr(klass, "Video") || std::strstr(klass, "Image"))) {
    self->decoder_ = GST_OBJECT_NAME(f);
  }
}

// Called from a streaming thread when uridecodebin has created its source element (rtspsrc, ...).
void SourcePipeline::onSourceSetup(GstElement*, GstElement* source, gpointer data) {
  auto* self = static_cast<SourcePipeline*>(data);
  BuildError ignored;
  self->applyProperties(source, self->opts_.sourceSetupProps, true, &ignored);
}

// Called from a streaming thread when decodebin is about to try `factory`. Values are decodebin's
// GstAutoplugSelectResult, which no public header declares: 0 try, 2 skip.
int SourcePipeline::onAutoplugSelect(GstElement*, GstPad*, GstCaps*, GstElementFactory* factory, gpointer data) {
  auto* self = static_cast<SourcePipeline*>(data);
  const gchar* klass = gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_KLASS);
  if (!klass || !std::strstr(klass, "Decoder")) return 0;
  bool hardware = std::strstr(klass, "Hardware") != nullptr;
  if (self->opts_.decoder == 1 && !hardware) return 2;
  if (self->opts_.decoder == 2 && hardware) return 2;
  return 0;
}

// Called at end of stream when looping: the seek runs on the control thread, as a flushing seek
// from the streaming thread that posted EOS would wait on itself.
void SourcePipeline::loopToStart() {
  control([](SourcePipeline& self) {
    double rate = self.rate_;
    int64_t stop = self.opts_.end;
    gboolean ok =
        gst_element_seek(self.pipeline_.get(), rate, GST_FORMAT_TIME,
                         static_cast<GstSeekFlags>(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE), GST_SEEK_TYPE_SET,
                         self.opts_.start, stop < 0 ? GST_SEEK_TYPE_NONE : GST_SEEK_TYPE_SET, stop < 0 ? 0 : stop);
    // A still image (jpegparse) has no timeline: back to its first byte, when the whole is played.
    if (!ok && self.opts_.start == 0 && stop < 0) {
      ok = gst_element_seek(self.pipeline_.get(), 1.0, GST_FORMAT_BYTES, GST_SEEK_FLAG_FLUSH, GST_SEEK_TYPE_SET, 0,
                            GST_SEEK_TYPE_NONE, 0);
    }
    if (!ok && !self.stopping_) self.pushError("the source cannot seek back to its start, so it cannot loop");
  });
}

// Runs `work` on a thread of its own, unless teardown has begun; teardown waits for it to end.
void SourcePipeline::runControl(std::function<void(SourcePipeline&)> work) {
  {
    std::lock_guard<std::mutex> lk(threadsMu_);
    if (tearingDown_ || tornDown_) return;
    starting_++;
  }
  auto self = shared_from_this();
  std::thread([self, work = std::move(work)]() {
    if (!self->stopping_) work(*self);
    std::lock_guard<std::mutex> lk(self->threadsMu_);
    self->starting_--;
    self->threadsCv_.notify_all();
  }).detach();
}

void SourcePipeline::pushError(const std::string& message, int code) {
  Item item;
  item.kind = Item::Kind::Error;
  item.message = message;
  item.domain = "frame-source";
  item.code = code;
  push(std::move(item));
}

// The allocating thread (upstream's, or ours for copies): the first failure not yet reported.
void SourcePipeline::noteAllocFailure(const std::string& why) {
  std::lock_guard<std::mutex> lk(allocMu_);
  if (allocError_.empty()) allocError_ = why;
}

// Taken by the error it caused (our copy's, or upstream's next one), so that a later error of
// another cause keeps its own words.
std::string SourcePipeline::takeAllocFailure() {
  std::lock_guard<std::mutex> lk(allocMu_);
  return std::exchange(allocError_, std::string());
}

void SourcePipeline::setWake(std::function<void()> wake) {
  std::lock_guard<std::mutex> lk(wakeMu_);
  wake_ = std::move(wake);
}

void SourcePipeline::wake() {
  if (wakePending_.exchange(true)) return;
  wakes_++;
  std::lock_guard<std::mutex> lk(wakeMu_);
  if (wake_) wake_();
}

// Slots asked of JS in one go on (re)negotiation; the rest of the ring grows on demand. Simple
// pipelines keep 3 or 4 frames in flight, and at 4K each slot is 33 MB.
uint32_t SourcePipeline::upfrontSlots() const { return std::min<uint32_t>(opts_.ringSize, 3); }

bool SourcePipeline::dropping() const { return opts_.drop == 1 || (opts_.drop < 0 && live_.load()); }

// ---------------------------------------------------------------------------------------------
// Streaming threads

// Called from the upstream streaming thread when an element downstream-queries our sink pad.
GstPadProbeReturn SourcePipeline::onQuery(GstPad*, GstPadProbeInfo* info, gpointer self) {
  GstQuery* query = GST_PAD_PROBE_INFO_QUERY(info);
  if (GST_QUERY_TYPE(query) != GST_QUERY_ALLOCATION) return GST_PAD_PROBE_OK;
  return static_cast<SourcePipeline*>(self)->answerAllocation(query);
}

GstPadProbeReturn SourcePipeline::answerAllocation(GstQuery* query) {
  if (stopping_) return GST_PAD_PROBE_OK;
  GstCaps* caps = nullptr;
  gboolean needPool = FALSE;
  gst_query_parse_allocation(query, &caps, &needPool);
  GstVideoInfo info;
  // Decline (let appsink answer, so upstream allocates and we copy) rather than offer a pool whose
  // set_config would then have to refuse: that refusal is fatal to upstream.
  if (caps == nullptr || !gst_video_info_from_caps(&info, caps)) return GST_PAD_PROBE_OK;
  size_t size = GST_VIDEO_INFO_SIZE(&info);
  bool cpu = backend_ == &kCpuBackend;
  PoolOffer offer;
  offer.maxBuffers = opts_.ringSize + 1;
  PoolPtr pool;
  if (cpu) {
    // The CPU ring: a pool over its slots, shaped for whoever writes into it (offerFor()).
    ring_->reserve(size, upfrontSlots());
    offer = offerFor();
    if (offer.grow) ring_->allowExtra(kDecoderReferences);
    std::weak_ptr<SourcePipeline> weak = shared_from_this();
    pool.reset(newSlotPool(ring_, SlotPoolOptions{offer.grow, offer.decoder, [weak]() {
                                                    if (auto self = weak.lock()) self->beforeWait();
                                                  }}));
  } else {
    pool.reset(backend_->newPool ? backend_->newPool(setup_) : nullptr);
  }
  if (!pool) return GST_PAD_PROBE_OK;
  {
    std::lock_guard<std::mutex> lk(poolsMu_);
    // cancelWaits() sets stopping_ before setPoolsFlushing() takes this lock: a pool registered here is
    // either flushed by it, or not offered at all.
    if (stopping_) return GST_PAD_PROBE_OK;
    pools_.erase(std::remove_if(pools_.begin(), pools_.end(),
                                [](const std::unique_ptr<WeakRef>& w) {
                                  gpointer p = w->get();
                                  if (p) gst_object_unref(p);
                                  return p == nullptr;
                                }),
                 pools_.end());
    pools_.push_back(std::make_unique<WeakRef>(pool.get()));
    offered_ = offer;
  }
  gst_query_add_allocation_pool(query, pool.get(), static_cast<guint>(size), 0, offer.maxBuffers);
  if (offer.videoMeta) gst_query_add_allocation_meta(query, GST_VIDEO_META_API_TYPE, nullptr);
  return GST_PAD_PROBE_HANDLED;
}

// ---------------------------------------------------------------------------------------------
// What we offer upstream, by who writes into our pool. Streaming threads.

namespace {

bool isVideoDecoder(GstElementFactory* f) {
  const gchar* klass = f ? gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_KLASS) : nullptr;
  return klass && std::strstr(klass, "Decoder") && (std::strstr(klass, "Video") || std::strstr(klass, "Image"));
}

// The element whose ALLOCATION query reaches our sink pad: the first one upstream that does not
// pass the query on. Bins are crossed through their ghost pads; transforms in passthrough
// (videoconvert or videoscale with nothing to do) or in place (capsfilter) and queues forward the
// query, so we look past them.
ElementPtr allocationWriter(GstPad* sinkPad) {
  PadPtr pad(gst_pad_get_peer(sinkPad));
  for (int hops = 0; pad && hops < 32; hops++) {
    while (pad && GST_IS_GHOST_PAD(pad.get())) pad.reset(gst_ghost_pad_get_target(GST_GHOST_PAD(pad.get())));
    if (!pad) break;
    ElementPtr element(gst_pad_get_parent_element(pad.get()));
    if (!element) break;
    GstElementFactory* f = gst_element_get_factory(element.get());
    const char* name = f ? GST_OBJECT_NAME(f) : "";
    // A transform in passthrough or in place (capsfilter, identity) allocates nothing: it proxies
    // the query of the element before it.
    GstBaseTransform* t = GST_IS_BASE_TRANSFORM(element.get()) ? GST_BASE_TRANSFORM(element.get()) : nullptr;
    bool forwards = (t && (gst_base_transform_is_passthrough(t) || gst_base_transform_is_in_place(t))) ||
                    std::strcmp(name, "queue") == 0 || std::strcmp(name, "multiqueue") == 0;
    if (!forwards) return element;
    PadPtr in(gst_element_get_static_pad(element.get(), "sink"));
    if (!in) break;  // multiqueue's pads are request pads: stop rather than guess
    pad.reset(gst_pad_get_peer(in.get()));
  }
  return nullptr;
}

}  // namespace

// gst-libav's decoders (avdec_*) drop any pool whose max is 1 to 31 ("it may stall") and fall back
// to a pool of their own, into which they copy each picture; we then copied it again into a slot.
// Offered a pool with no max they copy their picture into our slot instead: one copy, their own,
// the same one they make into any sink's buffers. Without GstVideoMeta: told downstream takes video
// meta, avdec hands out the buffers of its own direct-rendering pool whenever their size matches the
// caps (H.264 at 720p, H.265 at 1080p: no padding rows), and we copy again. Such a pool grows as the decoder's
// reference frames need it, on demand, up to the ring's maxSlots (ringSize x 2 + 2) plus kDecoderReferences: the
// decoder's references must not eat into the frames the consumer may hold. Everything else gets a bounded pool, whose
// max is the backpressure: one buffer more than the ring, because appsink keeps a reference to the last buffer it
// handed out (in its reusable sample) until the next one arrives, so without it a consumer holding ringSize - 1 frames
// that releases the newest would leave upstream waiting forever.
SourcePipeline::PoolOffer SourcePipeline::offerFor() {
  PoolOffer offer;
  offer.maxBuffers = opts_.ringSize + 1;
  ElementPtr sink(gst_bin_get_by_name(GST_BIN(pipeline_.get()), kSinkName));
  PadPtr sinkPad(sink ? gst_element_get_static_pad(sink.get(), "sink") : nullptr);
  ElementPtr writer(sinkPad ? allocationWriter(sinkPad.get()) : nullptr);
  GstElementFactory* f = writer ? gst_element_get_factory(writer.get()) : nullptr;
  if (!f) return offer;
  offer.writer = GST_OBJECT_NAME(f);
  offer.decoder = isVideoDecoder(f);
  if (offer.decoder && offer.writer.rfind("avdec_", 0) == 0) {
    offer.maxBuffers = 0;
    offer.grow = true;
    offer.videoMeta = false;
  }
  // vp9dec has libvpx decode into buffers of its own pool and, told downstream takes GstVideoMeta,
  // pushes those (which we then copied into a slot); told it does not, it copies each picture into
  // a buffer of ours itself: the same one copy, now into the ring.
  if (offer.decoder && offer.writer == "vp9dec") offer.videoMeta = false;
  return offer;
}

// How `buf` reached the ring (FormatInfo::path), told the way takeSample counts it.
std::string SourcePipeline::pathOf(GstBuffer* buf) {
  if (gst_buffer_n_memory(buf) != 1) return "copy";
  MemoryMap map(gst_buffer_peek_memory(buf, 0));
  size_t offset = 0;
  if (!map.ok() || ring_->find(map.data(), map.size(), &offset) < 0) return "copy";
  return isDecoderSlotPool(buf->pool) ? "decoder" : "upstream";
}

// Called from the streaming thread that pushed a buffer into appsink.
GstFlowReturn SourcePipeline::onNewSample(GstAppSink* sink, gpointer self) {
  return static_cast<SourcePipeline*>(self)->takeSample(sink);
}

void SourcePipeline::noteCaps(GstCaps* caps, GstBuffer* buf) {
  if (lastCaps_ && (lastCaps_.get() == caps || gst_caps_is_equal(lastCaps_.get(), caps))) return;
  GstVideoInfo info;
  lastCaps_.reset(gst_caps_ref(caps));
  if (!gst_video_info_from_caps(&info, caps)) {
    format_.reset();
    return;
  }
  videoInfo_ = info;
  auto f = std::make_shared<FormatInfo>();
  f->id = nextFormatId_++;
  f->format = gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info));
  f->width = GST_VIDEO_INFO_WIDTH(&info);
  f->height = GST_VIDEO_INFO_HEIGHT(&info);
  f->fpsN = GST_VIDEO_INFO_FPS_N(&info);
  f->fpsD = GST_VIDEO_INFO_FPS_D(&info);
  f->parN = GST_VIDEO_INFO_PAR_N(&info);
  f->parD = GST_VIDEO_INFO_PAR_D(&info);
  f->size = GST_VIDEO_INFO_SIZE(&info);
  f->planes = GST_VIDEO_INFO_N_PLANES(&info);
  for (uint32_t i = 0; i < f->planes; i++) {
    f->layout[i] = PlaneLayout{static_cast<uint32_t>(GST_VIDEO_INFO_PLANE_OFFSET(&info, i)),
                               static_cast<uint32_t>(GST_VIDEO_INFO_PLANE_STRIDE(&info, i))};
  }
  CharPtr capsStr(gst_caps_to_string(caps));
  f->caps = capsStr.get();
  CharPtr colorimetry(gst_video_colorimetry_to_string(&info.colorimetry));
  if (colorimetry) f->colorimetry = colorimetry.get();
  f->interlaced = GST_VIDEO_INFO_IS_INTERLACED(&info);
  {
    std::lock_guard<std::mutex> lk(elementsMu_);
    f->elements = elements_;
    f->decoder = decoder_;
  }
  f->path = pathOf(buf);
  {
    std::lock_guard<std::mutex> lk(poolsMu_);
    f->writer = offered_.writer;
  }
  format_ = f;
  if (backend_ == &kCpuBackend) ring_->reserve(f->size, upfrontSlots());
  Item item;
  item.kind = Item::Kind::Format;
  item.format = f;
  push(std::move(item));
}

GstFlowReturn SourcePipeline::takeSample(GstAppSink* sink) {
  SamplePtr sample(gst_app_sink_pull_sample(sink));
  if (!sample) return GST_FLOW_FLUSHING;
  if (stopping_) return GST_FLOW_FLUSHING;
  GstBuffer* buf = gst_sample_get_buffer(sample.get());
  GstCaps* caps = gst_sample_get_caps(sample.get());
  if (buf == nullptr || caps == nullptr) return GST_FLOW_OK;
  {
    // PLAYING renders the buffer the sink prerolled on; if it was queued as a paused frame, it
    // has been delivered already.
    std::lock_guard<std::mutex> lk(prerollMu_);
    if (prerollPushed_ && prerollPushed_.get() == buf) {
      prerollPushed_.reset();
      return GST_FLOW_OK;
    }
    prerollPushed_.reset();
  }
  noteCaps(caps, buf);
  if (!format_) return GST_FLOW_NOT_NEGOTIATED;
  Item item;
  GstFlowReturn flow = GST_FLOW_OK;
  if (!makeFrame(sample.get(), &item, &flow)) return flow;
  pushFrame(std::move(item));
  return GST_FLOW_OK;
}

// Called from the streaming thread when the sink prerolls (reaching PAUSED, after a flush, after a
// step). Only while JS has paused is the preroll frame queued: playing, the same buffer is rendered
// (new_sample) right after.
GstFlowReturn SourcePipeline::onNewPreroll(GstAppSink* sink, gpointer self) {
  return static_cast<SourcePipeline*>(self)->takePreroll(sink);
}

GstFlowReturn SourcePipeline::takePreroll(GstAppSink* sink) {
  if (!paused_ || stopping_) return GST_FLOW_OK;
  SamplePtr sample(gst_app_sink_pull_preroll(sink));
  if (!sample) return GST_FLOW_OK;
  GstBuffer* buf = gst_sample_get_buffer(sample.get());
  GstCaps* caps = gst_sample_get_caps(sample.get());
  if (buf == nullptr || caps == nullptr) return GST_FLOW_OK;
  {
    std::lock_guard<std::mutex> lk(prerollMu_);
    if (prerollPushed_ && prerollPushed_.get() == buf) return GST_FLOW_OK;
  }
  noteCaps(caps, buf);
  if (!format_) return GST_FLOW_OK;
  Item item;
  GstFlowReturn flow = GST_FLOW_OK;
  if (!makeFrame(sample.get(), &item, &flow)) return GST_FLOW_OK;
  bool again;
  {
    std::lock_guard<std::mutex> lk(prerollMu_);
    prerollPushed_.reset(gst_buffer_ref(buf));
    // This preroll ends the step in flight; one asked for meanwhile can go now. Not from here:
    // the sink holds its preroll lock while calling us, and a STEP takes it.
    stepInFlight_ = false;
    again = stepsWaiting_ > 0;
    if (again) {
      stepsWaiting_--;
      stepInFlight_ = true;
    }
  }
  pushFrame(std::move(item));
  if (again) control([](SourcePipeline& self) { self.sendStep(); });
  return GST_FLOW_OK;
}

// Streaming thread: the frame item for the sample's buffer (in a slot or the backend's memory).
// False when there is no frame to deliver; *flow then says what to return upstream.
bool SourcePipeline::makeFrame(GstSample* sample, Item* out, GstFlowReturn* flow) {
  GstBuffer* buf = gst_sample_get_buffer(sample);
  frames_++;
  Item& item = *out;
  item.kind = Item::Kind::Frame;
  item.pts = GST_BUFFER_PTS(buf);
  item.duration = GST_BUFFER_DURATION(buf);
  const GstSegment* segment = gst_sample_get_segment(sample);
  if (segment && segment->format == GST_FORMAT_TIME && item.pts != GST_CLOCK_TIME_NONE) {
    item.streamTime = gst_segment_to_stream_time(segment, GST_FORMAT_TIME, item.pts);
  }
  // Strides come from the buffer's GstVideoMeta when it has one: never assume the caps' layout.
  if (GstVideoMeta* meta = gst_buffer_get_video_meta(buf)) {
    bool same = meta->n_planes == format_->planes;
    for (uint32_t i = 0; same && i < meta->n_planes; i++) {
      same = meta->offset[i] == format_->layout[i].offset &&
             static_cast<uint32_t>(meta->stride[i]) == format_->layout[i].stride;
    }
    if (!same) {
      item.planes = meta->n_planes;
      for (uint32_t i = 0; i < meta->n_planes; i++) {
        item.layout[i] = PlaneLayout{static_cast<uint32_t>(meta->offset[i]), static_cast<uint32_t>(meta->stride[i])};
      }
    }
  }

  std::string error;
  int errorCode = kErrorGeneric;
  bool taken = backend_->describe ? takeIntoBackend(buf, &item, &error, &errorCode) : takeIntoRing(buf, &item, &error);
  if (!taken) {
    // A flush (seek) ends the wait for a slot: upstream is told to stop as for teardown.
    if (stopping_ || ring_->cancelled() || flushing_) {
      *flow = GST_FLOW_FLUSHING;
      return false;
    }
    if (!error.empty()) {
      pushError(error, errorCode);
      *flow = GST_FLOW_ERROR;
      return false;
    }
    dropped_++;
    *flow = GST_FLOW_OK;
    return false;
  }
  return true;
}

// CPU backend: the frame is in a ring slot (upstream wrote it there), or is copied into one.
bool SourcePipeline::takeIntoRing(GstBuffer* buf, Item* item, std::string* error) {
  if (gst_buffer_n_memory(buf) == 1) {
    MemoryMap map(gst_buffer_peek_memory(buf, 0));
    size_t offset = 0;
    int slot = map.ok() ? ring_->find(map.data(), map.size(), &offset) : -1;
    if (slot >= 0) {
      item->slot = slot;
      item->offset = offset;
      item->size = map.size();
      item->buffer.reset(gst_buffer_ref(buf));
      zeroCopy_++;
      if (isDecoderSlotPool(buf->pool)) decoderFrames_++;
      return true;
    }
  }
  // Upstream did not write into our pool: copy into a slot, so JS still reads V8 memory.
  size_t total = gst_buffer_get_size(buf);
  int slot = ring_->acquire(total, !dropping(), &flushing_);
  if (slot < 0) return false;
  BufferPtr copy(gst_buffer_new());
  gst_buffer_append_memory(copy.get(), ring_->wrap(slot, total));  // dropping `copy` frees the slot
  if (GstMemory* unmapped = copyBufferBytes(buf, ring_->data(slot))) {
    // An element that hands out memory the CPU cannot map under system-memory caps.
    *error =
        std::string("could not read a frame from upstream: the CPU cannot map its ") + memoryKind(unmapped) + " memory";
    return false;
  }
  item->slot = slot;
  item->size = total;
  item->copied = true;
  item->buffer = std::move(copy);
  copied_++;
  bytesCopied_ += total;
  return true;
}

// GPU backends: the frame is in the backend's memory (upstream made it there, or wrote into our
// pool), or is copied into a buffer of a pool of the backend's own, counted like a CPU copy.
bool SourcePipeline::takeIntoBackend(GstBuffer* buf, Item* item, std::string* error, int* errorCode) {
  auto handles = std::make_shared<FrameHandles>();
  if (backend_->describe(buf, videoInfo_, handles.get())) {
    if (!admitInFlight(item)) return false;
    item->buffer.reset(gst_buffer_ref(buf));
    item->size = gst_buffer_get_size(buf);
    item->handles = std::move(handles);
    zeroCopy_++;
    return true;
  }
  if (!copyPool_ || !copyPoolCaps_ || !gst_caps_is_equal(copyPoolCaps_.get(), lastCaps_.get())) {
    if (copyPool_) gst_buffer_pool_set_active(copyPool_.get(), FALSE);
    copyPool_.reset(backend_->newPool ? backend_->newPool(setup_) : nullptr);
    copyPoolCaps_.reset();
    if (!copyPool_) {
      *error = std::string("frames arrived in system memory and the ") + backend_->name +
               " backend has no allocator here to copy them into";
      return false;
    }
    GstStructure* config = gst_buffer_pool_get_config(copyPool_.get());
    gst_buffer_pool_config_set_params(config, lastCaps_.get(), static_cast<guint>(GST_VIDEO_INFO_SIZE(&videoInfo_)), 0,
                                      opts_.ringSize + 1);
    gst_buffer_pool_config_add_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
    if (!gst_buffer_pool_set_config(copyPool_.get(), config) || !gst_buffer_pool_set_active(copyPool_.get(), TRUE)) {
      copyPool_.reset();
      *error = std::string("could not set up the ") + backend_->name + " backend's memory for copies";
      return false;
    }
    copyPoolCaps_.reset(gst_caps_ref(lastCaps_.get()));
    std::lock_guard<std::mutex> lk(poolsMu_);
    pools_.push_back(std::make_unique<WeakRef>(copyPool_.get()));
  }
  // The pool's max is the backpressure, as for upstream; a live source drops instead of waiting
  // (the pool says EOS when none is free). FLUSHING: a flush or teardown. ERROR: no memory for a
  // new buffer, which no source may take for a reason to drop frames.
  GstBufferPoolAcquireParams params{};
  params.flags = dropping() ? GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT : GST_BUFFER_POOL_ACQUIRE_FLAG_NONE;
  GstBuffer* raw = nullptr;
  GstFlowReturn acquired = gst_buffer_pool_acquire_buffer(copyPool_.get(), &raw, &params);
  if (acquired != GST_FLOW_OK) {
    if (acquired == GST_FLOW_ERROR) {
      std::string why = takeAllocFailure();
      *error =
          why.empty() ? std::string("could not allocate the ") + backend_->name + " backend's memory for a frame" : why;
      *errorCode = kErrorOutOfMemory;
    }
    return false;
  }
  BufferPtr copy(raw);
  GstVideoFrame from, to;
  bool ok = gst_video_frame_map(&from, &videoInfo_, buf, GST_MAP_READ);
  if (ok) {
    ok = gst_video_frame_map(&to, &videoInfo_, copy.get(), GST_MAP_WRITE);
    if (ok) {
      ok = gst_video_frame_copy(&to, &from);
      gst_video_frame_unmap(&to);
    }
    gst_video_frame_unmap(&from);
  }
  if (!ok || !backend_->describe(copy.get(), videoInfo_, handles.get())) {
    *error = "could not copy a frame into the backend's memory";
    return false;
  }
  item->size = gst_buffer_get_size(copy.get());
  item->buffer = std::move(copy);
  item->handles = std::move(handles);
  item->copied = true;
  copied_++;
  bytesCopied_ += item->size;
  return true;
}

// Streaming thread (the sink's): numbers the frame, and marks the first one after a flush. A seek
// whose flush went by resolves just ahead of its first frame.
void SourcePipeline::pushFrame(Item&& item) {
  if (discont_.exchange(false)) item.discont = true;
  if (uint32_t id = flushedSeek_.exchange(0)) {
    Item done;
    done.kind = Item::Kind::Seek;
    done.seekId = id;
    done.ok = true;
    done.pts = item.streamTime;
    push(std::move(done));
  }
  item.sequence = sequence_++;
  push(std::move(item));
}

// Called from the thread that sends a flush downstream (the seeking thread, or a demuxer's) when
// FLUSH_START or FLUSH_STOP reaches our sink pad. Upstream may be blocked waiting for a buffer of
// our pool while the consumer holds frames: flushing the pool releases it, so a seek never waits
// for the consumer.
GstPadProbeReturn SourcePipeline::onFlush(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* self = static_cast<SourcePipeline*>(data);
  GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
  if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_START) {
    self->flushing_ = true;
    self->setPoolsFlushing(true);
    self->ring_->wakeWaiters();
    {
      // A decoder thread waiting in push() for the consumer to take a frame.
      std::lock_guard<std::mutex> lk(self->queueMu_);
      self->roomCv_.notify_all();
    }
    if (std::shared_ptr<InFlight> f = self->inFlight_) {
      std::lock_guard<std::mutex> lk(f->mu);
      f->cv.notify_all();
    }
  } else if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP) {
    {
      std::lock_guard<std::mutex> lk(self->prerollMu_);
      self->prerollPushed_.reset();
      self->stepInFlight_ = false;
      self->stepsWaiting_ = 0;
    }
    uint32_t id = self->seekInFlight_;
    if (id != 0 && gst_event_get_seqnum(event) == self->seekSeqnum_) {
      // Frames decoded before the seek and not yet delivered are not what the consumer asked for,
      // and an end of stream reached before it no longer holds.
      std::vector<Item> drops;
      {
        std::lock_guard<std::mutex> lk(self->queueMu_);
        for (auto it = self->queue_.begin(); it != self->queue_.end();) {
          if (it->kind == Item::Kind::Frame || it->kind == Item::Kind::Eos) {
            if (it->kind == Item::Kind::Frame) self->queuedFrames_--;
            drops.push_back(std::move(*it));
            it = self->queue_.erase(it);
          } else {
            ++it;
          }
        }
      }
      drops.clear();
      self->seekInFlight_.compare_exchange_strong(id, 0);
      self->flushedSeek_ = id;
    }
    self->discont_ = true;
    if (!self->stopping_) {
      self->setPoolsFlushing(false);
      // cancelWaits() (close(), on the JS thread) may have flushed the pools between the check and
      // that call, which would then undo the one flush that frees an upstream thread waiting for a
      // buffer: either this sees stopping_ now, or cancelWaits' flush came after the unflush.
      if (self->stopping_) self->setPoolsFlushing(true);
    }
    self->flushing_ = false;
  }
  return GST_PAD_PROBE_OK;
}

void SourcePipeline::setPoolsFlushing(bool flushing) {
  std::vector<PoolPtr> pools;
  {
    std::lock_guard<std::mutex> lk(poolsMu_);
    for (auto& w : pools_) {
      if (gpointer p = w->get()) pools.emplace_back(GST_BUFFER_POOL(p));
    }
  }
  for (auto& p : pools) {
    // Not a decoder's growing pool: avdec takes a flushing pool's refusal for an allocation error
    // and fails the pipeline, or crashes if it was draining (see slotPoolAcquireBuffer). It never
    // waits on that pool's max (it has none), and its waits end on a flush of our sink or the
    // ring's cancel, so neither a seek nor close() needs to flush it.
    if (isDecoderSlotPool(p.get()) && slotPoolGrows(p.get())) continue;
    if (gst_buffer_pool_is_active(p.get())) gst_buffer_pool_set_flushing(p.get(), flushing ? TRUE : FALSE);
  }
}

// Streaming thread: backpressure for frames in memory we did not offer (our pools' max bounds the
// rest). Waits while ringSize + 1 such frames are queued or held, as our pools' max would, unless
// the source is live (then the queue drops). False when the pipeline is stopping.
bool SourcePipeline::admitInFlight(Item* item) {
  std::shared_ptr<InFlight> f = inFlight_;
  {
    std::unique_lock<std::mutex> lk(f->mu);
    // A flush (seek) ends the wait too, as it does for our pools.
    if (!dropping()) f->cv.wait(lk, [&] { return f->cancelled || flushing_ || f->count < opts_.ringSize + 1; });
    if (f->cancelled || flushing_) return false;
    f->count++;
  }
  // Dropped with the frame: when the queue drops it, or JS releases it (on whichever thread).
  item->inFlight = std::shared_ptr<void>(f.get(), [f](void*) {
    std::lock_guard<std::mutex> lk(f->mu);
    f->count--;
    f->cv.notify_all();
  });
  return true;
}

// Called from the thread that posts a message (streaming threads, or the state-change thread).
// Nothing reads this bus: every message is handled here and dropped, and a sync handler that
// returns GST_BUS_DROP owns the message.
GstBusSyncReply SourcePipeline::onBusMessage(GstBus*, GstMessage* message, gpointer data) {
  MessagePtr owned(message);
  GstMessage* msg = message;
  auto* self = static_cast<SourcePipeline*>(data);
  if (self->stopping_) return GST_BUS_DROP;
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_EOS: {
      // A seek that flushed and then found no frame (its target was at the very end) ends here.
      if (uint32_t id = self->flushedSeek_.exchange(0)) {
        Item done;
        done.kind = Item::Kind::Seek;
        done.seekId = id;
        done.ok = true;
        self->push(std::move(done));
      }
      if (self->opts_.loop) {
        self->loopToStart();
        break;
      }
      Item item;
      item.kind = Item::Kind::Eos;
      self->push(std::move(item));
      break;
    }
    case GST_MESSAGE_ERROR:
    case GST_MESSAGE_WARNING: {
      GError* gerr = nullptr;
      gchar* dbg = nullptr;
      bool isError = GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR;
      if (isError)
        gst_message_parse_error(msg, &gerr, &dbg);
      else
        gst_message_parse_warning(msg, &gerr, &dbg);
      ErrorPtr error(gerr);
      CharPtr debug(dbg);
      Item item;
      item.kind = isError ? Item::Kind::Error : Item::Kind::Warning;
      if (error) {
        item.message = error->message ? error->message : "";
        item.domain = g_quark_to_string(error->domain);
        item.code = error->code;
      }
      if (debug) item.debug = debug.get();
      // A failed delayed link too: decodebin exposed only streams nothing takes (audio), because it
      // had no decoder for the video; the missing plugin is the reason then.
      bool delayedLink = error && error->domain == GST_PARSE_ERROR && error->code == GST_PARSE_ERROR_DELAYED_LINK;
      if (isError || delayedLink) {
        std::lock_guard<std::mutex> lk(self->elementsMu_);
        item.missing = self->missingPlugin_;
      }
      // Upstream failed because our pool could not allocate: it only knows its flow failed
      // ("Internal data stream error"), so the reason is ours, and its words go to debug.
      std::string why = isError ? self->takeAllocFailure() : std::string();
      if (!why.empty()) {
        item.debug = item.message + (item.debug.empty() ? "" : "\n" + item.debug);
        item.message = why;
        item.domain = "frame-source";
        item.code = kErrorOutOfMemory;
      }
      if (GST_MESSAGE_SRC(msg)) item.source = GST_OBJECT_NAME(GST_MESSAGE_SRC(msg));
      self->push(std::move(item));
      break;
    }
    case GST_MESSAGE_ASYNC_DONE:
    case GST_MESSAGE_DURATION_CHANGED:
      // Not on this (streaming) thread: a query from here could wait on the thread itself.
      if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_DURATION_CHANGED ||
          GST_MESSAGE_SRC(msg) == GST_OBJECT(self->pipeline_.get())) {
        self->control([](SourcePipeline& s) { s.queryDuration(); });
      }
      break;
    case GST_MESSAGE_ELEMENT:
      if (gst_is_missing_plugin_message(msg)) {
        CharPtr desc(gst_missing_plugin_message_get_description(msg));
        std::lock_guard<std::mutex> lk(self->elementsMu_);
        if (desc) self->missingPlugin_ = desc.get();
      }
      break;
    default:
      break;
  }
  return GST_BUS_DROP;
}

void SourcePipeline::push(Item&& item) {
  std::vector<Item> drops;
  bool needWake;
  {
    std::unique_lock<std::mutex> lk(queueMu_);
    if (item.kind == Item::Kind::Frame) {
      // A decoder writing into a growing pool has no pool max to stop it, and the ring's limit
      // leaves room for its references: without this, a consumer that stops reading would let it
      // fill the whole ring with undelivered frames. Wait (streaming thread) for JS to take one.
      if (!dropping() && item.buffer && isDecoderSlotPool(item.buffer->pool) && slotPoolGrows(item.buffer->pool)) {
        // A seek's flush ends the wait too: the frame is stale, and the flush needs this thread back.
        // So does a pause: the sink calls us holding its preroll lock, which the change to PAUSED
        // takes, and a seek or step asked while paused waits behind that change on the control
        // thread; the frame is queued, one over the limit (its slot is already taken).
        roomCv_.wait(lk, [this] {
          return queuedFrames_ < opts_.ringSize || stopping_.load() || flushing_.load() || paused_.load();
        });
        if (stopping_ || flushing_) return;
      }
      if (dropping()) {
        size_t keep = std::max<uint32_t>(opts_.maxQueued, 1);
        while (queuedFrames_ >= keep) {
          auto it =
              std::find_if(queue_.begin(), queue_.end(), [](const Item& i) { return i.kind == Item::Kind::Frame; });
          drops.push_back(std::move(*it));
          queue_.erase(it);
          queuedFrames_--;
          dropped_++;
        }
      }
      queuedFrames_++;
      int64_t now = monotonicNs();
      lastGapNs_ = now - lastPushNs_;
      lastPushNs_ = now;
      // A frame only needs JS woken when JS is waiting for one; a consumer that reads ahead
      // finds it queued. Waking per frame costs more CPU than the frame's delivery itself, so a
      // fast source's frames wake JS once per batch while JS agreed to poll (see next()).
      size_t perBatch = item.size > kBatchMaxFrameBytes ? 1 : batchFrames_;
      bool batch = batchOk_ && !item.discont && lastGapNs_ < kFastGapNs && queuedFrames_ < perBatch;
      needWake = jsWaiting_ && !batch;
    } else {
      needWake = true;  // events must reach listeners even when nobody reads frames
      if (item.kind == Item::Kind::Error) {
        Item notice;
        notice.kind = Item::Kind::Error;
        notice.early = true;
        notice.message = item.message;
        notice.debug = item.debug;
        notice.source = item.source;
        notice.domain = item.domain;
        notice.missing = item.missing;
        notice.code = item.code;
        urgent_.push_back(std::move(notice));
      }
    }
    if (isUrgent(item.kind))
      urgent_.push_back(std::move(item));
    else
      queue_.push_back(std::move(item));
  }
  drops.clear();  // unref outside our lock: it returns buffers to their pool
  if (needWake) {
    wake();
    // Linux tends to wake the JS thread on this thread's CPU, where a live source goes on to make
    // its next frame: JS then waits for this thread's time slice (2-3 ms for a 1080p test pattern,
    // p90 of the latency bench). Giving the CPU up once lets JS take its frame first: p90 2.2 ->
    // 0.6 ms, p99 3.1 -> 1.0 ms. Only where latency is the point (live or clock-synchronised).
    if (live_ || opts_.sync) sched_yield();
  }
}

// ---------------------------------------------------------------------------------------------
// JS thread

bool SourcePipeline::next(bool acceptFrame, Item* out, bool* batching) {
  std::lock_guard<std::mutex> lk(queueMu_);
  // Set and read under queueMu_, as push() reads it: a frame pushed after this call wakes JS.
  jsWaiting_ = acceptFrame && queue_.empty();
  // Not while dropping (live, or drop: true): the queue would drop the batch's older frames and
  // never reach a batch, and JS would only see a frame per poll.
  batchOk_ = jsWaiting_ && batchFrames_ > 1 && !dropping() && !live_ && !opts_.sync && !paused_ && !flushing_ &&
             seekInFlight_ == 0 && lastGapNs_ < kFastGapNs && monotonicNs() - lastPushNs_ < kFastGapNs;
  *batching = batchOk_;
  // Warnings, liveness and errors' notices do not wait behind frames nobody reads yet; 'format',
  // 'eos' and the error itself stay in order with the frames they belong to.
  if (!urgent_.empty()) {
    *out = std::move(urgent_.front());
    urgent_.pop_front();
    return true;
  }
  if (queue_.empty()) return false;
  if (queue_.front().kind == Item::Kind::Frame) {
    if (!acceptFrame) return false;
    queuedFrames_--;
    roomCv_.notify_one();
  }
  *out = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

void SourcePipeline::beforeWait() {
  bool wakeNow;
  {
    std::lock_guard<std::mutex> lk(queueMu_);
    wakeNow = jsWaiting_ && queuedFrames_ > 0;
  }
  if (wakeNow) wake();
}

PipelineStats SourcePipeline::stats() const {
  PipelineStats s;
  s.frames = frames_;
  s.zeroCopyFrames = zeroCopy_;
  s.copiedFrames = copied_;
  s.bytesCopied = bytesCopied_;
  s.droppedFrames = dropped_;
  s.decoderFrames = decoderFrames_;
  s.wakes = wakes_;
  {
    std::lock_guard<std::mutex> lk(queueMu_);
    s.queuedFrames = queuedFrames_;
  }
  s.ring = ring_->counts();
  return s;
}

void SourcePipeline::start() {
  control([](SourcePipeline& self) {
    GstElement* p = self.pipeline_.get();
    GstStateChangeReturn r = gst_element_set_state(p, GST_STATE_PAUSED);
    if (r == GST_STATE_CHANGE_NO_PREROLL) {
      self.live_ = true;
      Item item;
      item.kind = Item::Kind::Live;
      item.live = true;
      self.push(std::move(item));
    }
    // A range: seek once prerolled, before PLAYING, so no frame before `start` is delivered.
    if (r != GST_STATE_CHANGE_FAILURE && (self.opts_.start > 0 || self.opts_.end >= 0) && self.waitSettled()) {
      // From past the end GStreamer would deliver the last frame, clipped to nothing.
      gint64 duration = self.opts_.start > 0 ? durationOf(p) : -1;
      if (duration > 0 && self.opts_.start >= duration) {
        self.pushError("option 'start' (" + std::to_string(self.opts_.start / 1000) +
                           " µs) is at or past the end of the media (" + std::to_string(duration / 1000) + " µs)",
                       kErrorOutOfRange);
        return;
      }
      gst_element_seek(p, 1.0, GST_FORMAT_TIME, static_cast<GstSeekFlags>(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE),
                       GST_SEEK_TYPE_SET, self.opts_.start, self.opts_.end < 0 ? GST_SEEK_TYPE_NONE : GST_SEEK_TYPE_SET,
                       self.opts_.end < 0 ? 0 : self.opts_.end);
      self.discont_ = false;  // the first frame is where the stream starts, not a jump
    }
    // pause() before the start leaves the pipeline in PAUSED, its first frame prerolled and queued.
    if (r != GST_STATE_CHANGE_FAILURE && !self.stopping_ && !self.paused_) {
      r = gst_element_set_state(p, GST_STATE_PLAYING);
    }
    // The failing element has usually posted an ERROR already; this one says where it happened.
    if (r == GST_STATE_CHANGE_FAILURE && !self.stopping_) {
      self.pushError("the pipeline failed to start (an element refused to change state)");
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Playback control: queued on the JS thread, run in order on a control thread

// Any thread: runs `work` after the control work queued before it, on a control thread.
void SourcePipeline::control(std::function<void(SourcePipeline&)> work) {
  {
    std::lock_guard<std::mutex> lk(controlMu_);
    controlQueue_.push_back(std::move(work));
    if (controlRunning_) return;
    controlRunning_ = true;
  }
  runControl([](SourcePipeline& self) {
    for (;;) {
      std::function<void(SourcePipeline&)> next;
      {
        std::lock_guard<std::mutex> lk(self.controlMu_);
        if (self.controlQueue_.empty() || self.stopping_) {
          self.controlQueue_.clear();
          self.controlRunning_ = false;
          return;
        }
        next = std::move(self.controlQueue_.front());
        self.controlQueue_.pop_front();
      }
      next(self);
    }
  });
}

// Control thread: waits until the pipeline has prerolled once (its pads exist, so it can seek and
// answer queries). A later state change still in progress (PLAYING to PAUSED while the consumer
// holds every frame) does not count: a flushing seek is fine then. False when stopping or failed.
bool SourcePipeline::waitSettled() {
  for (;;) {
    if (stopping_) return false;
    GstState current = GST_STATE_VOID_PENDING, pending = GST_STATE_VOID_PENDING;
    GstStateChangeReturn r = gst_element_get_state(pipeline_.get(), &current, &pending, 20 * GST_MSECOND);
    if (r == GST_STATE_CHANGE_FAILURE) return false;
    if (r != GST_STATE_CHANGE_ASYNC || current >= GST_STATE_PAUSED) return !stopping_;
  }
}

void SourcePipeline::seek(const SeekRequest& request) {
  latestSeek_ = request.id;
  control([request](SourcePipeline& self) { self.doSeek(request); });
}

void SourcePipeline::doSeek(const SeekRequest& r) {
  // A later seek replaced this one (JS has rejected it already).
  if (r.id != latestSeek_ || !waitSettled() || r.id != latestSeek_) return;
  // A seek that fails changes nothing in the stream, so its result goes ahead of queued frames: JS
  // holds readers back while a seek is pending and would not look past them.
  // `duration`: the position was at or past the media's end, that long (ns).
  auto fail = [&](const std::string& message, gint64 duration = -1) {
    Item item;
    item.kind = Item::Kind::Seek;
    item.seekId = r.id;
    item.ok = false;
    item.message = message;
    if (duration > 0) item.duration = static_cast<uint64_t>(duration);
    pushUrgent(std::move(item));
  };
  GstElement* p = pipeline_.get();
  MiniPtr<GstQuery> query(gst_query_new_seeking(GST_FORMAT_TIME));
  gboolean seekable = FALSE;
  if (gst_element_query(p, query.get())) gst_query_parse_seeking(query.get(), nullptr, &seekable, nullptr, nullptr);
  if (!seekable || live_) return fail("");
  // GStreamer takes a position past the end and delivers the last frame, or (keyframe seeks) the
  // first: JS checks against the duration it knows, and this one for a seek made before it did.
  gint64 duration = r.rate > 0 ? durationOf(p) : -1;
  if (duration > 0 && r.position >= duration) return fail("", duration);
  auto flags = static_cast<GstSeekFlags>(
      GST_SEEK_FLAG_FLUSH | (r.accurate ? GST_SEEK_FLAG_ACCURATE : GST_SEEK_FLAG_KEY_UNIT | GST_SEEK_FLAG_SNAP_BEFORE));
  int64_t stop = r.stop >= 0 ? r.stop : opts_.end;
  int64_t from = r.position, to = stop;
  // Backwards, playback runs from the segment's stop down to its start.
  if (r.rate < 0) {
    from = opts_.start;
    to = r.position;
  }
  GstEvent* event = gst_event_new_seek(r.rate, GST_FORMAT_TIME, flags, GST_SEEK_TYPE_SET, from,
                                       to < 0 ? GST_SEEK_TYPE_NONE : GST_SEEK_TYPE_SET, to < 0 ? 0 : to);
  // The flush this seek causes carries its seqnum: that is how the sink knows which seek it ends.
  seekSeqnum_ = gst_event_get_seqnum(event);
  seekInFlight_ = r.id;
  rate_ = r.rate;
  if (!gst_element_send_event(p, event)) {
    uint32_t id = r.id;
    seekInFlight_.compare_exchange_strong(id, 0);
    id = r.id;
    flushedSeek_.compare_exchange_strong(id, 0);
    fail("the pipeline refused the seek");
  }
}

void SourcePipeline::setPaused(bool paused) {
  {
    std::lock_guard<std::mutex> lk(queueMu_);  // a waiter in push() either sees paused_ or is woken
    paused_ = paused;
    batchOk_ = false;  // a step's frame or the last frames before the pause: JS wants them now
  }
  if (paused) roomCv_.notify_all();
  if (!paused) {
    std::lock_guard<std::mutex> lk(prerollMu_);
    stepInFlight_ = false;
    stepsWaiting_ = 0;
  }
  control([paused](SourcePipeline& self) {
    if (!self.waitSettled()) return;
    // A live source stops capturing while paused (NO_PREROLL); what it would have sent is lost.
    gst_element_set_state(self.pipeline_.get(), paused ? GST_STATE_PAUSED : GST_STATE_PLAYING);
  });
}

void SourcePipeline::step() {
  control([](SourcePipeline& self) {
    if (!self.paused_ || self.stopping_) return;
    // When the sink has prerolled since pausing, its frame is queued already: a step skips it and
    // prerolls on the next one, which takePreroll queues. When it has not (still going to PAUSED,
    // upstream perhaps waiting for a slot), the coming preroll is the next frame: nothing to send.
    // Waiting here for PAUSED instead could wait on the consumer, and hold up later control work.
    {
      std::lock_guard<std::mutex> lk(self.prerollMu_);
      if (!self.prerollPushed_) return;
      if (self.stepInFlight_) {
        self.stepsWaiting_++;
        return;
      }
      self.stepInFlight_ = true;
    }
    self.sendStep();
  });
}

// Control thread.
void SourcePipeline::sendStep() {
  if (!paused_ || stopping_) return;
  gst_element_send_event(pipeline_.get(), gst_event_new_step(GST_FORMAT_BUFFERS, 1, 1.0, TRUE, FALSE));
}

// Control thread: the duration (and whether the stream can seek), queued when either changed.
void SourcePipeline::queryDuration() {
  if (stopping_) return;
  gint64 duration = durationOf(pipeline_.get());
  MiniPtr<GstQuery> query(gst_query_new_seeking(GST_FORMAT_TIME));
  gboolean seekable = FALSE;
  if (gst_element_query(pipeline_.get(), query.get())) {
    gst_query_parse_seeking(query.get(), nullptr, &seekable, nullptr, nullptr);
  }
  bool canSeek = seekable && !live_;
  if (duration == lastDuration_ && canSeek == lastSeekable_) return;
  lastDuration_ = duration;
  lastSeekable_ = canSeek;
  Item item;
  item.kind = Item::Kind::Duration;
  item.pts = duration < 0 ? GST_CLOCK_TIME_NONE : static_cast<uint64_t>(duration);
  item.seekable = canSeek;
  pushUrgent(std::move(item));
}

// Any thread: queues an item that is about the source, not a point in the stream, in the urgent
// lane, ahead of queued frames: JS only looks past a frame when it has a reader for it.
void SourcePipeline::pushUrgent(Item&& item) {
  {
    std::lock_guard<std::mutex> lk(queueMu_);
    urgent_.push_back(std::move(item));
  }
  wake();
}

// Any thread: no new pool is offered, and every wait (for JS slots, for a pool buffer) ends now.
void SourcePipeline::cancelWaits() {
  stopping_ = true;
  ring_->cancel();
  {
    std::lock_guard<std::mutex> lk(inFlight_->mu);
    inFlight_->cancelled = true;
    inFlight_->cv.notify_all();
  }
  // Wakes upstream threads blocked waiting for a free buffer (the consumer may hold every frame).
  setPoolsFlushing(true);
  {
    std::lock_guard<std::mutex> lk(queueMu_);  // a waiter in push() either sees stopping_ or is woken
  }
  roomCv_.notify_all();
}

void SourcePipeline::stop(std::function<void()> done) {
  cancelWaits();  // at once, on the JS thread, so that close() never waits for the new thread
  auto self = shared_from_this();
  std::thread([self, done]() {
    self->teardown();
    if (done) done();
  }).detach();
}

bool SourcePipeline::stopNow(std::chrono::milliseconds wait) {
  bool start;
  {
    std::lock_guard<std::mutex> lk(threadsMu_);
    if (tornDown_) return true;
    if (abandoned_) return false;
    start = !tearingDown_;
  }
  if (start) stop(nullptr);
  std::unique_lock<std::mutex> lk(threadsMu_);
  // A system_clock deadline: libstdc++ waits for steady_clock ones with pthread_cond_clockwait,
  // which needs glibc 2.30, newer than the prebuilds support.
  if (threadsCv_.wait_until(lk, std::chrono::system_clock::now() + wait, [this] { return tornDown_; })) return true;
  abandoned_ = true;
  return false;
}

void SourcePipeline::abandon() {
  abandoned_ = true;
  cancelWaits();
}

void SourcePipeline::teardown() {
  {
    std::unique_lock<std::mutex> lk(threadsMu_);
    if (tornDown_) return;
    if (tearingDown_) {
      threadsCv_.wait(lk, [this] { return tornDown_; });
      return;
    }
    tearingDown_ = true;
  }
  cancelWaits();
  {
    std::unique_lock<std::mutex> lk(threadsMu_);
    threadsCv_.wait(lk, [this] { return starting_ == 0; });
  }
  if (pipeline_) {
    gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
    BusPtr bus(gst_element_get_bus(pipeline_.get()));
    gst_bus_set_sync_handler(bus.get(), nullptr, nullptr, nullptr);
    pipeline_.reset();
  }
  lastCaps_.reset();
  {
    // A paused frame's extra reference would keep its slot busy after close.
    std::lock_guard<std::mutex> lk(prerollMu_);
    prerollPushed_.reset();
  }
  if (copyPool_) gst_buffer_pool_set_active(copyPool_.get(), FALSE);
  copyPool_.reset();
  copyPoolCaps_.reset();
  std::deque<Item> leftovers;
  {
    std::lock_guard<std::mutex> lk(queueMu_);
    leftovers.swap(queue_);
    queuedFrames_ = 0;
    urgent_.clear();
  }
  leftovers.clear();
  {
    std::lock_guard<std::mutex> lk(wakeMu_);
    wake_ = nullptr;
  }
  ring_->setWake(nullptr);
  std::lock_guard<std::mutex> lk(threadsMu_);
  tornDown_ = true;
  threadsCv_.notify_all();
}

}  // namespace fs
