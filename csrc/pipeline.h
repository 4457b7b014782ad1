// SourcePipeline: one GStreamer pipeline (the user's description, then our appsink), the ring its
// frames land in, and the ordered queue of items (frames, format changes, end of stream, errors)
// waiting for the JS thread. Threads: built and read on the JS thread; state changes run on a
// thread of their own; the pad probe, appsink callback and bus sync handler run on streaming threads
// and never call or wait for JS, except to wait (cancellably) for JS to allocate slots.
#pragma once

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "slot_ring.h"
#include "util/gst_ptr.h"

namespace fs {

struct PipelineOptions {
  std::string description;  // gst-launch syntax for everything upstream of our sink
  uint32_t ringSize = 8;    // the pool's max buffers
  uint32_t maxSlots = 18;   // hard limit of the ring, renegotiation and copies included
  int drop = -1;            // -1: drop when the pipeline is live; 0: never; 1: always
  uint32_t maxQueued = 1;   // undelivered frames kept before the oldest is dropped (when dropping)
  // Set on the element named "fs-src" after parsing, so values never go through the parser.
  std::vector<std::pair<std::string, std::string>> sourceProps;
  // Set on the network/file source that uridecodebin creates ("source-setup"), where it has them.
  std::vector<std::pair<std::string, std::string>> sourceSetupProps;
  int decoder = 0;    // for a decodebin "fs-src": 0 any decoder, 1 hardware only, 2 software only
  bool loop = false;  // at end of stream, seek back to the start instead of ending
  // A named pipe (FIFO) to read through the element named "fs-fd" (fdsrc): opened here without
  // blocking, and polled by fdsrc, so that close() can interrupt a read that waits for a writer.
  std::string fifoPath;
  std::string backend = "cpu";  // a name from the backend table (lib/backends.ts resolved the choice)
  int dmabufAllocator = 0;      // 0 auto, 1 dma-heap, 2 udmabuf, 3 memfd
  // Playback range and clock (playback control).
  int64_t start = 0;  // ns; where playback (and each loop) starts
  int64_t end = -1;   // ns; where it stops, -1 for the end of the media
  bool sync = false;  // the sink waits for each frame's time on the clock (real-time playback, rate)
};

// A seek asked for by JS. position and stop in ns (stop -1: to the end, or the `end` option).
struct SeekRequest {
  uint32_t id = 0;
  int64_t position = 0;
  int64_t stop = -1;
  double rate = 1.0;
  bool accurate = false;
};

struct PlaneLayout {
  uint32_t offset;
  uint32_t stride;
};

struct FormatInfo {
  uint32_t id = 0;
  std::string format;  // GStreamer's name (RGBA, I420, ...)
  int width = 0, height = 0;
  int fpsN = 0, fpsD = 1;
  int parN = 1, parD = 1;
  size_t size = 0;
  uint32_t planes = 0;
  PlaneLayout layout[GST_VIDEO_MAX_PLANES]{};
  std::string caps;
  std::string colorimetry;
  bool interlaced = false;
  std::vector<std::string> elements;  // factory names in the pipeline, in the order they were added
  std::string decoder;                // the video decoder's factory name, if any
  // How this format's frames reach the ring: "upstream" (the writer renders each frame into a
  // slot), "decoder" (a software decoder copies each decoded picture into a slot: its own one copy,
  // none of ours) or "copy" (upstream declined our pool: we copy each frame into a slot).
  std::string path;
  std::string writer;  // factory name of the element our pool was offered to, or ""
};

// Frames of a GPU backend in upstream's own memory (a decoder's CUDA pool, memory:DMABuf) that are
// queued or held by JS. Nothing else bounds them: such a pool may have no maximum. Shared with each
// frame's token, so that a frame released after its pipeline is gone still counts down safely.
struct InFlight {
  std::mutex mu;
  std::condition_variable cv;
  uint32_t count = 0;
  bool cancelled = false;
};

struct Item {
  enum class Kind { Frame, Format, Eos, Error, Warning, Live, Seek, Duration };
  Kind kind = Kind::Frame;

  // Frame: the buffer keeps the slot (or the backend's memory) busy until JS releases the frame.
  BufferPtr buffer;
  int slot = -1;  // -1 for frames of a GPU backend, described by `handles`
  std::shared_ptr<const FrameHandles> handles;
  std::shared_ptr<void> inFlight;  // GPU frames: counts InFlight down when the frame is gone
  size_t offset = 0;               // of the frame's first byte in its slot
  size_t size = 0;
  uint64_t pts = GST_CLOCK_TIME_NONE;
  uint64_t duration = GST_CLOCK_TIME_NONE;
  // pts on the media's timeline (its segment's stream time): what seek positions are given in. It
  // differs from pts where the container shifts timestamps (MP4 edit lists for B-frame delay).
  uint64_t streamTime = GST_CLOCK_TIME_NONE;
  uint64_t sequence = 0;
  bool copied = false;
  bool discont = false;  // the first frame after a flush (seek, loop): consumers reset their state
  uint32_t planes = 0;   // > 0 when this frame's layout differs from its format's
  PlaneLayout layout[GST_VIDEO_MAX_PLANES]{};

  // Format
  std::shared_ptr<const FormatInfo> format;

  // Error / Warning; Live
  std::string message, debug, source, domain;
  std::string missing;  // description of a missing plugin GStreamer reported before the error
  int code = 0;
  bool live = false;

  // Seek: the result of seek `seekId` (ok: the next frame is its target; else `message`, and
  // `message` empty with !ok means the stream cannot seek; a `duration` with !ok: the position was
  // at or past the media's end, that long). Duration: `pts` holds it (ns or NONE).
  uint32_t seekId = 0;
  bool ok = false;
  bool seekable = false;
  bool early = false;  // Error: the notice handed out ahead of queued frames (the item itself stays in order)
};

// Error items frame-source makes itself have domain "frame-source" and one of these codes.
constexpr int kErrorGeneric = 0;
constexpr int kErrorOutOfMemory = 1;  // a backend's pool could not allocate memory for a frame
constexpr int kErrorOutOfRange = 2;   // the `start` option is at or past the media's end

struct PipelineStats {
  uint64_t frames = 0, zeroCopyFrames = 0, copiedFrames = 0, bytesCopied = 0, droppedFrames = 0;
  uint64_t decoderFrames = 0;  // of zeroCopyFrames: written into their slot by a video decoder
  uint64_t queuedFrames = 0;
  uint64_t wakes = 0;  // times a GStreamer thread woke the JS thread
  SlotRing::Counts ring;
};

struct BuildError {
  std::string code;  // ERR_PIPELINE_PARSE, ERR_MISSING_ELEMENT
  std::string message;
  std::vector<std::string> missing;  // element names
};

class SourcePipeline : public std::enable_shared_from_this<SourcePipeline> {
 public:
  // JS thread. Parses the description and links it to our sink; nullptr and *err on failure.
  static std::shared_ptr<SourcePipeline> create(const PipelineOptions& opts, BuildError* err);
  ~SourcePipeline();
  SourcePipeline(const SourcePipeline&) = delete;
  SourcePipeline& operator=(const SourcePipeline&) = delete;

  const std::shared_ptr<SlotRing>& ring() const { return ring_; }

  // JS thread, before start(): how to wake JS. Called from any thread; must not block.
  void setWake(std::function<void()> wake);
  // Called on the JS thread when a wake is being handled, so the next item wakes JS again.
  void wakeHandled() { wakePending_ = false; }

  // JS thread: starts the pipeline on a thread of its own.
  void start();
  // JS thread: tears down on a thread of its own, then calls done() on that thread.
  void stop(std::function<void()> done);
  // Tears down (on a thread of its own) and waits up to `wait` for it; false if it did not finish
  // (an element is stuck, e.g. in a system call) or the pipeline was abandoned.
  bool stopNow(std::chrono::milliseconds wait);
  // JS thread: gives up on a teardown that does not finish. Threads still stuck keep this object
  // alive through their own references; nothing of theirs reaches JS any more.
  void abandon();

  // JS thread: moves the next item into *out. A frame at the head is only taken when acceptFrame.
  // When it returns false, *batching says whether frames may now be queued a few at a time before
  // JS is woken (one wake per batch instead of per frame). Only while frames come faster than
  // kFastGap from a source that is neither live nor clock-synchronised; JS then polls on a short
  // timer (JsLink::pollAfter, armed by lib/frame-source.ts), which bounds how long a frame waits.
  bool next(bool acceptFrame, Item* out, bool* batching);
  // Streaming thread, about to wait for a buffer: frames queued in a batch must not wait with it.
  void beforeWait();
  PipelineStats stats() const;

  // Playback control, JS thread. Each queues work for the control thread (in order) and returns at
  // once; results come back as items (Seek, Duration, frames).
  void seek(const SeekRequest& request);
  void setPaused(bool paused);
  // While paused: the sink prerolls the next frame, which is queued like any other.
  void step();

 private:
  explicit SourcePipeline(const PipelineOptions& opts);
  bool build(BuildError* err);

  static GstPadProbeReturn onQuery(GstPad* pad, GstPadProbeInfo* info, gpointer self);
  static GstFlowReturn onNewSample(GstAppSink* sink, gpointer self);
  static GstBusSyncReply onBusMessage(GstBus* bus, GstMessage* msg, gpointer self);
  static void onElementAdded(GstBin* bin, GstBin* sub, GstElement* element, gpointer self);
  static void onSourceSetup(GstElement* bin, GstElement* source, gpointer self);
  static int onAutoplugSelect(GstElement* bin, GstPad* pad, GstCaps* caps, GstElementFactory* factory, gpointer self);
  bool applyProperties(GstElement* element, const std::vector<std::pair<std::string, std::string>>& props,
                       bool onlyExisting, BuildError* err);
  void loopToStart();
  void runControl(std::function<void(SourcePipeline&)> work);
  void control(std::function<void(SourcePipeline&)> work);
  bool waitSettled();
  void doSeek(const SeekRequest& request);
  void queryDuration();
  static GstPadProbeReturn onFlush(GstPad* pad, GstPadProbeInfo* info, gpointer self);
  static GstFlowReturn onNewPreroll(GstAppSink* sink, gpointer self);
  GstFlowReturn takePreroll(GstAppSink* sink);
  bool makeFrame(GstSample* sample, Item* item, GstFlowReturn* flow);
  void pushFrame(Item&& item);
  void setPoolsFlushing(bool flushing);
  void pushUrgent(Item&& item);
  void pushError(const std::string& message, int code = kErrorGeneric);
  void noteAllocFailure(const std::string& why);
  std::string takeAllocFailure();

  GstPadProbeReturn answerAllocation(GstQuery* query);
  // The pool we offer, by who writes into it (see offerFor in pipeline.cc).
  struct PoolOffer {
    uint32_t maxBuffers = 0;
    bool grow = false;      // no max: the ring's maxSlots is the limit
    bool decoder = false;   // the writer is a video decoder
    bool videoMeta = true;  // announce GstVideoMeta (strides of the writer's choosing)
    std::string writer;     // its factory name
  };
  PoolOffer offerFor();
  std::string pathOf(GstBuffer* buf);
  GstFlowReturn takeSample(GstAppSink* sink);
  // Both: false when the frame was not taken: with *error set, a failure the pipeline reports
  // (its code in *errorCode); without, dropped or interrupted (a live source, a flush, teardown).
  bool takeIntoRing(GstBuffer* buf, Item* item, std::string* error);
  bool takeIntoBackend(GstBuffer* buf, Item* item, std::string* error, int* errorCode);
  bool admitInFlight(Item* item);
  void noteCaps(GstCaps* caps, GstBuffer* buf);  // buf: the first frame in these caps
  void push(Item&& item);
  void wake();
  bool dropping() const;
  uint32_t upfrontSlots() const;
  void teardown();
  void cancelWaits();

  PipelineOptions opts_;
  std::shared_ptr<SlotRing> ring_;
  const Backend* backend_ = nullptr;
  BackendSetup setup_;
  // Why a backend's pool last failed to allocate (setup_.allocFailed), until the error that
  // follows (upstream's failed flow, or our copy's) takes it as its message.
  std::mutex allocMu_;
  std::string allocError_;
  ElementPtr pipeline_;

  // Streaming-thread state (appsink has one streaming thread at a time).
  CapsPtr lastCaps_;
  std::shared_ptr<const FormatInfo> format_;
  GstVideoInfo videoInfo_;  // of format_
  PoolPtr copyPool_;        // GPU backends: where frames that upstream put elsewhere are copied
  std::shared_ptr<InFlight> inFlight_ = std::make_shared<InFlight>();
  CapsPtr copyPoolCaps_;
  uint32_t nextFormatId_ = 1;
  uint64_t sequence_ = 0;

  std::mutex elementsMu_;
  std::vector<std::string> elements_;
  std::string decoder_;
  std::string missingPlugin_;

  std::mutex poolsMu_;
  std::vector<std::unique_ptr<WeakRef>> pools_;
  PoolOffer offered_;  // the last offer (guarded by poolsMu_)

  mutable std::mutex queueMu_;
  std::deque<Item> queue_;
  size_t queuedFrames_ = 0;
  std::deque<Item> urgent_;         // warnings, liveness, errors' early notices: handed out before queue_
  bool jsWaiting_ = false;          // JS asked for a frame and found none: the next frame must wake it
  bool batchOk_ = false;            // ...and agreed to poll: frames may wait for a batch (see next())
  size_t batchFrames_ = 1;          // frames per wake when batching: min(4, ringSize / 2); 1 for big frames
  int64_t lastPushNs_ = 0;          // monotonic time of the last frame queued
  int64_t lastGapNs_ = INT64_MAX;   // between the last two frames queued
  std::condition_variable roomCv_;  // push() waits here for JS to take a decoder's frame

  std::mutex wakeMu_;
  std::function<void()> wake_;
  std::atomic<bool> wakePending_{false};
  std::atomic<uint64_t> wakes_{0};

  std::atomic<bool> stopping_{false};
  std::atomic<bool> abandoned_{false};
  int fifoFd_ = -1;  // owned; closed when the last thread lets go of this object
  std::atomic<bool> live_{false};
  std::atomic<uint64_t> frames_{0}, zeroCopy_{0}, copied_{0}, bytesCopied_{0}, dropped_{0}, decoderFrames_{0};

  // Playback control. The control queue runs its work in order on one control thread at a time.
  std::mutex controlMu_;
  std::deque<std::function<void(SourcePipeline&)>> controlQueue_;
  bool controlRunning_ = false;
  std::atomic<bool> paused_{false};      // what JS asked for last
  std::atomic<uint32_t> latestSeek_{0};  // id of the newest seek JS asked for: older ones are skipped
  std::atomic<uint32_t> seekSeqnum_{0};  // seqnum of the seek event in flight, and its id
  std::atomic<uint32_t> seekInFlight_{0};
  std::atomic<uint32_t> flushedSeek_{0};  // the seek whose flush went by: its result rides the next frame
  std::atomic<bool> discont_{false};      // the next frame follows a flush
  std::atomic<bool> flushing_{false};     // between FLUSH_START and FLUSH_STOP at our sink
  std::atomic<double> rate_{1.0};         // of the last seek: loops keep it
  int64_t lastDuration_ = -2;             // control thread only
  bool lastSeekable_ = false;
  std::mutex prerollMu_;
  BufferPtr prerollPushed_;  // a preroll frame already queued: when PLAYING renders it again, skip it
  // A STEP sent and its preroll not yet come, and steps asked for meanwhile: a second flushing STEP
  // would replace the first, and the sink would skip the frame the first was going to preroll on.
  bool stepInFlight_ = false;
  int stepsWaiting_ = 0;
  void sendStep();

  // Threads of our own: counted so teardown can wait for them without joining from inside one.
  std::mutex threadsMu_;
  std::condition_variable threadsCv_;
  int starting_ = 0;  // control threads (start, loop) still running
  bool tornDown_ = false;
  bool tearingDown_ = false;
};

}  // namespace fs
