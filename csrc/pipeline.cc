// SourcePipeline: see pipeline.h for what it owns and which threads run its code.
#include "pipeline.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include <gst/base/gstbasetransform.h>
#include <gst/pbutils/missing-plugins.h>

#include "slot_pool.h"

namespace fs {

namespace {

ElementPtr sinkRef(GstElement* e) { return ElementPtr(GST_ELEMENT(gst_object_ref_sink(e))); }

constexpr const char* kSinkName = "frame-source-sink";

// Reference frames a decoder may keep in slots of a growing pool, beyond the ring's maxSlots: the
// most H.264/H.265 allow (a DPB of 16 frames).
constexpr size_t kDecoderReferences = 16;

// Items that JS gets as soon as it wakes, ahead of queued frames. An error is also announced early
// (a copy in notices_), while the item itself stays behind the frames decoded before it.
bool isUrgent(Item::Kind k) { return k == Item::Kind::Warning || k == Item::Kind::Live; }

// Whether any element in the bin (recursively) is made by a factory without sink pad templates.
bool hasSourceElement(GstBin* bin) {
  GstIterator* it = gst_bin_iterate_recurse(bin);
  GValue item = G_VALUE_INIT;
  bool found = false;
  while (!found && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    GstElement* e = GST_ELEMENT(g_value_get_object(&item));
    GstElementFactory* f = gst_element_get_factory(e);
    // Factories without templates (plain bins, capsfilter-like helpers are not among them) say nothing.
    const GList* templates = f ? gst_element_factory_get_static_pad_templates(f) : nullptr;
    bool hasSink = false;
    for (const GList* t = templates; t; t = t->next) {
      if (static_cast<GstStaticPadTemplate*>(t->data)->direction == GST_PAD_SINK) hasSink = true;
    }
    found = templates != nullptr && !hasSink;
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return found;
}

std::string describeMissing(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Whether any element in the bin (recursively) can create source pads later (decodebin, demuxers).
bool hasSometimesSrcPads(GstBin* bin) {
  bool found = false;
  GstIterator* it = gst_bin_iterate_recurse(bin);
  GValue item = G_VALUE_INIT;
  while (!found && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    GstElementFactory* factory = gst_element_get_factory(GST_ELEMENT(g_value_get_object(&item)));
    const GList* t = factory ? gst_element_factory_get_static_pad_templates(factory) : nullptr;
    for (; t && !found; t = t->next) {
      auto* tmpl = static_cast<const GstStaticPadTemplate*>(t->data);
      found = tmpl->direction == GST_PAD_SRC && tmpl->presence == GST_PAD_SOMETIMES;
    }
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return found;
}

}  // namespace

SourcePipeline::SourcePipeline(const PipelineOptions& opts)
    : opts_(opts), ring_(std::make_shared<SlotRing>(opts.maxSlots)) {}

std::shared_ptr<SourcePipeline> SourcePipeline::create(const PipelineOptions& opts, BuildError* err) {
  std::shared_ptr<SourcePipeline> p(new SourcePipeline(opts));
  if (!p->build(err)) return nullptr;
  std::weak_ptr<SourcePipeline> weak = p;
  p->ring_->setWake([weak]() {
    if (auto self = weak.lock()) self->wake();
  });
  return p;
}

bool SourcePipeline::build(BuildError* err) {
  // The description may end in a caps filter ("... ! video/x-raw,format=RGBA"), which only parses
  // with an element after it: our sink is appended to the text. Its caps make a non-video output
  // fail here, at link time, instead of later at negotiation.
  const std::string full = opts_.description + " ! appsink name=" + kSinkName + " caps=video/x-raw";
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
                     ": the pipeline's output must be raw video (video/x-raw in system memory); end it with a "
                     "decoder or 'videoconvert'";
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
  // Without an element that has no input (a source), nothing would ever flow.
  if (!hasSourceElement(GST_BIN(top.get()))) {
    err->code = "ERR_PIPELINE_PARSE";
    err->message = "the pipeline has no source element: it must start with one (e.g. 'videotestsrc ! ...', "
                   "'filesrc location=... ! decodebin ! videoconvert')";
    return false;
  }
  // An unlinked input means a branch nothing feeds: the sink would wait forever, with no error
  // and no end of stream. Elements with "sometimes" outputs (decodebin, demuxers) are linked only
  // when their pads appear, so with one of them an unlinked input is expected.
  PadPtr dangling(hasSometimesSrcPads(GST_BIN(top.get())) ? nullptr
                                                          : gst_bin_find_unlinked_pad(GST_BIN(top.get()), GST_PAD_SINK));
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
      err->message = "cannot open " + opts_.fifoPath + ": " + (fdsrc ? std::strerror(errno) : "no fs-fd element");
      return false;
    }
    g_object_set(fdsrc.get(), "fd", fifoFd_, nullptr);
  }
  // What the pipeline is made of, decoders plugged later included: reported with each format.
  g_signal_connect(top.get(), "deep-element-added", G_CALLBACK(&SourcePipeline::onElementAdded), this);
  {
    GstIterator* it = gst_bin_iterate_recurse(GST_BIN(top.get()));
    GValue item = G_VALUE_INIT;
    std::vector<std::string> names;
    while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
      GstElementFactory* f = gst_element_get_factory(GST_ELEMENT(g_value_get_object(&item)));
      if (f) names.emplace_back(GST_OBJECT_NAME(f));
      g_value_reset(&item);
    }
    g_value_unset(&item);
    gst_iterator_free(it);
    // The iterator walks from the sink upstream; report in data-flow order.
    std::lock_guard<std::mutex> lk(elementsMu_);
    elements_.assign(names.rbegin(), names.rend());
  }
  // enable-last-sample would pin one extra buffer (and its slot); sync=false delivers on arrival.
  g_object_set(sink, "sync", FALSE, "enable-last-sample", FALSE, "emit-signals", FALSE, "max-buffers", 1u, "qos",
               FALSE, nullptr);
  pipeline_ = std::move(top);

  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = &SourcePipeline::onNewSample;
  gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, this, nullptr);

  PadPtr sinkPad(gst_element_get_static_pad(sink, "sink"));
  gst_pad_add_probe(sinkPad.get(), GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM, &SourcePipeline::onQuery, this, nullptr);

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

// Called on a thread of its own at end of stream when looping: a flushing seek from the
// streaming thread that posted EOS would wait on itself.
void SourcePipeline::loopToStart() {
  runControl([](SourcePipeline& self) {
    gboolean ok = gst_element_seek_simple(self.pipeline_.get(), GST_FORMAT_TIME,
                                          static_cast<GstSeekFlags>(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT), 0);
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

void SourcePipeline::pushError(const std::string& message) {
  Item item;
  item.kind = Item::Kind::Error;
  item.message = message;
  item.domain = "frame-source";
  push(std::move(item));
}

void SourcePipeline::setWake(std::function<void()> wake) {
  std::lock_guard<std::mutex> lk(wakeMu_);
  wake_ = std::move(wake);
}

void SourcePipeline::wake() {
  if (wakePending_.exchange(true)) return;
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
  ring_->reserve(size, upfrontSlots());
  PoolOffer offer = offerFor();
  if (offer.grow) ring_->allowExtra(kDecoderReferences);
  PoolPtr pool(newSlotPool(ring_, SlotPoolOptions{offer.grow, offer.decoder}));
  {
    std::lock_guard<std::mutex> lk(poolsMu_);
    // cancelWaits() sets stopping_ before flushPools() takes this lock: a pool registered here is
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
// caps (H.264 at 720p, H.265 at 1080p: no padding rows), and we copy again. Such a pool grows as the decoder's reference
// frames need it, on demand, up to the ring's maxSlots (ringSize x 2 + 2) plus kDecoderReferences:
// the decoder's references must not eat into the frames the consumer may hold. Everything else gets
// a bounded pool, whose max is the backpressure: one buffer more than the ring, because appsink
// keeps a reference to the last buffer it handed out (in its reusable sample) until the next one
// arrives, so without it a consumer holding ringSize - 1 frames that releases the newest would leave
// upstream waiting forever.
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
  ring_->reserve(f->size, upfrontSlots());
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
  noteCaps(caps, buf);
  if (!format_) return GST_FLOW_NOT_NEGOTIATED;
  frames_++;

  Item item;
  item.kind = Item::Kind::Frame;
  item.sequence = sequence_++;
  item.pts = GST_BUFFER_PTS(buf);
  item.duration = GST_BUFFER_DURATION(buf);
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

  if (gst_buffer_n_memory(buf) == 1) {
    MemoryMap map(gst_buffer_peek_memory(buf, 0));
    size_t offset = 0;
    int slot = map.ok() ? ring_->find(map.data(), map.size(), &offset) : -1;
    if (slot >= 0) {
      item.slot = slot;
      item.offset = offset;
      item.size = map.size();
      item.buffer.reset(gst_buffer_ref(buf));
      zeroCopy_++;
      if (isDecoderSlotPool(buf->pool)) decoderFrames_++;
    }
  }
  if (!item.buffer) {
    // Upstream did not write into our pool: copy into a slot, so JS still reads V8 memory.
    size_t total = gst_buffer_get_size(buf);
    int slot = ring_->acquire(total, !dropping(), nullptr);
    if (slot < 0) {
      if (stopping_ || ring_->cancelled()) return GST_FLOW_FLUSHING;
      dropped_++;
      return GST_FLOW_OK;
    }
    gst_buffer_extract(buf, 0, ring_->data(slot), total);
    BufferPtr copy(gst_buffer_new());
    gst_buffer_append_memory(copy.get(), ring_->wrap(slot, total));
    item.slot = slot;
    item.size = total;
    item.copied = true;
    item.buffer = std::move(copy);
    copied_++;
    bytesCopied_ += total;
  }
  push(std::move(item));
  return GST_FLOW_OK;
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
      if (isError) {
        std::lock_guard<std::mutex> lk(self->elementsMu_);
        item.missing = self->missingPlugin_;
      }
      if (GST_MESSAGE_SRC(msg)) item.source = GST_OBJECT_NAME(GST_MESSAGE_SRC(msg));
      self->push(std::move(item));
      break;
    }
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
        roomCv_.wait(lk, [this] { return queuedFrames_ < opts_.ringSize || stopping_.load(); });
        if (stopping_) return;
      }
      if (dropping()) {
        size_t keep = std::max<uint32_t>(opts_.maxQueued, 1);
        while (queuedFrames_ >= keep) {
          auto it = std::find_if(queue_.begin(), queue_.end(),
                                 [](const Item& i) { return i.kind == Item::Kind::Frame; });
          drops.push_back(std::move(*it));
          queue_.erase(it);
          queuedFrames_--;
          dropped_++;
        }
      }
      queuedFrames_++;
      // A frame only needs JS woken when JS is waiting for one; a consumer that reads ahead
      // finds it queued. Waking per frame costs more CPU than the frame's delivery itself.
      needWake = jsWaiting_;
    } else {
      needWake = true;  // events must reach listeners even when nobody reads frames
      if (isUrgent(item.kind)) urgent_++;
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
        notices_.push_back(std::move(notice));
        noticeAfter_.push_back(urgent_);
      }
    }
    queue_.push_back(std::move(item));
  }
  drops.clear();  // unref outside our lock: it returns buffers to their pool
  if (needWake) wake();
}

// ---------------------------------------------------------------------------------------------
// JS thread

bool SourcePipeline::next(bool acceptFrame, Item* out) {
  std::lock_guard<std::mutex> lk(queueMu_);
  // Set and read under queueMu_, as push() reads it: a frame pushed after this call wakes JS.
  jsWaiting_ = acceptFrame && queue_.empty();
  // An error's notice goes out ahead of everything except the warnings queued before the error,
  // which may say why it happened (a decoder output that cannot be linked is a warning, followed by
  // the demuxer's error): the outcome must not depend on when the JS thread happens to wake.
  if (!notices_.empty() && noticeAfter_.front() == 0) {
    *out = std::move(notices_.front());
    notices_.pop_front();
    noticeAfter_.pop_front();
    return true;
  }
  if (queue_.empty()) return false;
  // Warnings and liveness do not wait behind frames nobody reads yet; 'format', 'eos' and the error
  // itself stay in order with the frames they belong to.
  auto it = queue_.begin();
  if (urgent_ > 0) {
    it = std::find_if(queue_.begin(), queue_.end(), [](const Item& i) { return isUrgent(i.kind); });
    urgent_--;
    for (size_t& n : noticeAfter_) n -= n > 0 ? 1 : 0;
  } else if (it->kind == Item::Kind::Frame) {
    if (!acceptFrame) return false;
    queuedFrames_--;
    roomCv_.notify_one();
  }
  *out = std::move(*it);
  queue_.erase(it);
  return true;
}

PipelineStats SourcePipeline::stats() const {
  PipelineStats s;
  s.frames = frames_;
  s.zeroCopyFrames = zeroCopy_;
  s.copiedFrames = copied_;
  s.bytesCopied = bytesCopied_;
  s.droppedFrames = dropped_;
  s.decoderFrames = decoderFrames_;
  {
    std::lock_guard<std::mutex> lk(queueMu_);
    s.queuedFrames = queuedFrames_;
  }
  s.ring = ring_->counts();
  return s;
}

void SourcePipeline::start() {
  runControl([](SourcePipeline& self) {
    GstElement* p = self.pipeline_.get();
    GstStateChangeReturn r = gst_element_set_state(p, GST_STATE_PAUSED);
    if (r == GST_STATE_CHANGE_NO_PREROLL) {
      self.live_ = true;
      Item item;
      item.kind = Item::Kind::Live;
      item.live = true;
      self.push(std::move(item));
    }
    if (r != GST_STATE_CHANGE_FAILURE && !self.stopping_) r = gst_element_set_state(p, GST_STATE_PLAYING);
    // The failing element has usually posted an ERROR already; this one says where it happened.
    if (r == GST_STATE_CHANGE_FAILURE && !self.stopping_) {
      self.pushError("the pipeline failed to start (an element refused to change state)");
    }
  });
}

void SourcePipeline::flushPools() {
  std::vector<PoolPtr> pools;
  {
    std::lock_guard<std::mutex> lk(poolsMu_);
    for (auto& w : pools_) {
      if (gpointer p = w->get()) pools.emplace_back(GST_BUFFER_POOL(p));
    }
  }
  // Wakes upstream threads blocked waiting for a free buffer (the consumer may hold every frame).
  for (auto& p : pools) {
    if (gst_buffer_pool_is_active(p.get())) gst_buffer_pool_set_flushing(p.get(), TRUE);
  }
}

// Any thread: no new pool is offered, and every wait (for JS slots, for a pool buffer) ends now.
void SourcePipeline::cancelWaits() {
  stopping_ = true;
  ring_->cancel();
  flushPools();
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
  if (threadsCv_.wait_for(lk, wait, [this] { return tornDown_; })) return true;
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
  std::deque<Item> leftovers;
  {
    std::lock_guard<std::mutex> lk(queueMu_);
    leftovers.swap(queue_);
    queuedFrames_ = 0;
    urgent_ = 0;
    notices_.clear();
    noticeAfter_.clear();
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
