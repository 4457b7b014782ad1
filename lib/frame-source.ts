// FrameSource: the public class. Owns the state machine (open, closing, closed) and the JS side of
// the ring (slot memory, frames handed out); the native handle is a flat set of operations.
// Everything here runs on the JS thread; the native side wakes it through a libuv async handle (and
// runs the batch poll on a libuv timer), both csrc/util/js_link.h's.
import { EventEmitter } from 'node:events';
import { markAsUntransferable } from 'node:worker_threads';
import {
  cudaDescriptor,
  dmabufDescriptor,
  laterBackends,
  normalizeBackend,
  probeBackends,
  type BackendInfo,
  type DmabufAllocator,
} from './backends';
import { loadBinding } from './binding';
import {
  FrameSourceError,
  MissingElementError,
  OptionTypeError,
  PipelineError,
  PositionRangeError,
  isFrameSourceError,
  type AnyFrameSourceError,
} from './errors';
import { Frame } from './frame';
import { layoutFromPairs, toVideoFormat, type VideoFormat } from './formats';
import { normalizeOptions, toNativeOptions, type FrameSourceOptions, type NormalizedOptions } from './options';
import { normalizeAllocator } from './backends';
import { isNetworkScheme } from './sources';
import type { FrameSourceHandle, NativeFrameItem, NativeMessageItem, NativeOptions, NativeSeekItem, NativeStats } from '../types/binding';

const asyncDisposeSymbol: typeof Symbol.asyncDispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');

/**
 * Where a {@link FrameSource} is in its life: 'open' from construction, 'closing' once close() was
 * called (or the stream ended or failed), 'closed' once no GStreamer thread is left.
 */
export type FrameSourceState = 'open' | 'closing' | 'closed';

/** Counters of a source since it opened (reconnections included), from {@link FrameSource.stats} and the 'stats' event. */
export interface FrameSourceStats extends NativeStats {
  /** Frames handed to JS (by the iterator or read()). */
  deliveredFrames: number;
  /** Kept frames that were garbage-collected unreleased, and so returned to the ring. */
  gcReleasedFrames: number;
  /** 'shared': frames are SharedArrayBuffer views (postable to workers); 'arraybuffer': the fallback. */
  memory: 'shared' | 'arraybuffer';
  /** Whether GStreamer reported the pipeline as live. */
  live: boolean;
  /** Reconnections made so far (network sources with the `reconnect` option). */
  reconnects: number;
  /**
   * Times JS looked for frames on its own while a batch was being gathered (see `wakes`): the poll
   * that brings a batch cut short by a source that stalls. Each costs a wake-up of the JS thread, as a wake does.
   */
  polls: number;
  /** Frames of a GPU backend copied into CPU memory by frame.download(), and their bytes. */
  downloadedFrames: number;
  /** Bytes those downloads copied. */
  bytesDownloaded: number;
}

const CARRIED = ['frames', 'zeroCopyFrames', 'copiedFrames', 'decoderFrames', 'bytesCopied', 'droppedFrames', 'wakes'] as const;

/** The events a {@link FrameSource} emits, each with the arguments its listeners get. */
export interface FrameSourceEvents {
  /** Caps were negotiated, or changed mid-stream. Frames after it carry the new geometry. */
  format: [format: VideoFormat];
  /** The pipeline reached its end; the iterator ends after the frames before it. */
  eos: [];
  /** A pipeline error. Only emitted when listened to; the iterator rejects with it either way. */
  error: [error: AnyFrameSourceError];
  /** A GStreamer warning (a PipelineError), or frame-source's own (ERR_CLOSE_TIMEOUT, ERR_SLOT_DETACHED). */
  warning: [warning: FrameSourceError];
  /** Every `statsInterval` ms. */
  stats: [stats: FrameSourceStats];
  /** A network source lost its connection and frame-source is reconnecting (the iterator goes on). */
  reconnect: [
    info: {
      /** 1, 2, ... while attempts fail; the count starts again once a frame arrives. */
      attempt: number;
      /** Milliseconds until this attempt starts. */
      delay: number;
      /** Why the connection was lost. */
      error: PipelineError;
    },
  ];
  /** The duration (µs, or null when unknown) became known or changed. */
  duration: [duration: number | null];
  /** A seek completed: the next frame (marked `discontinuity`) is at `position` µs (null: none came, end of stream). */
  seek: [
    info: {
      /** µs on the media's timeline of the first frame after the seek, or null when none came. */
      position: number | null;
    },
  ];
}

/** Options of {@link FrameSource.seek}. */
export interface SeekOptions {
  /**
   * false (default): land on the keyframe at or before the position (fast). true: decode from that
   * keyframe and deliver from the first frame at or after the position.
   */
  accurate?: boolean;
}

/** A camera GStreamer can see. */
export interface CameraDevice {
  /** Pass this as the `camera` option. */
  id: string;
  /** The name the platform shows for it. */
  name: string;
  /** Device path where the platform has one (e.g. /dev/video0). */
  path: string;
  /** The capture API (v4l2, avf, mediafoundation, ...) when GStreamer says. */
  api: string;
  /** What the camera can produce, as GStreamer caps. */
  caps: string;
}

// One native pipeline with its slot table. A reconnect replaces it; frames keep theirs.
interface Session {
  handle: FrameSourceHandle;
  slots: Map<number, { buffer: ArrayBufferLike; offset: number }>;
  release: (frame: Frame) => void;
  /** Gives back frame `id`, whose GC guard was collected unreleased. */
  collected: (id: number) => void;
  /** Replaced by a reconnect: nothing more is read from it. */
  retired: boolean;
  /** Frames of the sessions before it (reconnects): its frames' sequence numbers go on from there. */
  sequenceBase: number;
  /** Opened by a reconnect and no frame delivered yet: the next one is a discontinuity. */
  resumed: boolean;
}

// Every source's frame guards (a frame's data view, or its GPU descriptor) in one registry that is
// never collected: while a guard lives, the held value keeps its session, and so the native handle
// that holds the frame's buffer, alive, also after close() and once the FrameSource itself is
// unreachable. A registry per source died with its source; the handle was then collected and its
// finalizer closed the fds of a frame.dmabuf JS still held.
const frameGuards = new FinalizationRegistry<{ session: Session; id: number }>(({ session, id }) => session.collected(id));

interface Reader {
  resolve(frame: Frame | null): void;
  reject(err: Error): void;
  kept: boolean;
}

// What _release() says: not held (already released), released, or released with its slot detached.
const RELEASE_NONE = 0;
const RELEASE_DETACHED = 2;

const ITEM_FRAME = 0;
const ITEM_FORMAT = 1;
const ITEM_EOS = 2;
const ITEM_ERROR = 3;
const ITEM_WARNING = 4;
const ITEM_LIVE = 5;
const ITEM_SEEK = 6;
const ITEM_DURATION = 7;
// What _next() returns as a number (see types/binding.d.ts): slot work first, or a frame in the record.
const NEXT_SLOT_WORK = -1;
const NEXT_FRAME_RECORD = 0;
// The record's fields, by index: the same order as RecordField in csrc/frame_source.cc.
const REC_ID = 0;
const REC_SLOT = 1;
const REC_OFFSET = 2;
const REC_SIZE = 3;
const REC_PTS = 4;
const REC_DURATION = 5;
const REC_POSITION = 6;
const REC_SEQUENCE = 7;
const REC_COPIED = 8;
const REC_DISCONT = 9;
const REC_BATCHING = 10; // written when _next() returns undefined: 1 while JS should poll
const RECORD_FIELDS = 11;
// While frames are batched (the native side wakes JS once per few frames of a fast source), a
// reader also polls this often: a batch cut short (the source stalls) still arrives.
const BATCH_POLL_MS = 3;
const GST_CORE_ERROR_NEGOTIATION = 7;
const GST_CORE_ERROR_MISSING_PLUGIN = 12;
const GST_RESOURCE_ERROR_NOT_FOUND = 3;
const GST_RESOURCE_ERROR_BUSY = 4;
const GST_RESOURCE_ERROR_OPEN_READ = 5;
const GST_RESOURCE_ERROR_READ = 9;
const GST_RESOURCE_ERROR_SEEK = 11;
const GST_STREAM_ERROR_FAILED = 1;
const GST_STREAM_ERROR_TYPE_NOT_FOUND = 4;
const GST_STREAM_ERROR_WRONG_TYPE = 5;
const GST_STREAM_ERROR_CODEC_NOT_FOUND = 6;
const GST_PARSE_ERROR_DELAYED_LINK = 7;
// Errors the addon makes itself have domain 'frame-source' (csrc/pipeline.h, kError*).
const NATIVE_ERROR_OUT_OF_MEMORY = 1;
const NATIVE_ERROR_OUT_OF_RANGE = 2;

// decodebin (or a demuxer) exposed its pads and none could link to what follows it. GStreamer only
// warns, but nothing can ever reach our sink then.
function isDelayedLinkFailure(item: NativeMessageItem): boolean {
  return item.domain === 'gst_parse_error' && item.code === GST_PARSE_ERROR_DELAYED_LINK;
}

function errorCode(item: NativeMessageItem, options: NormalizedOptions): PipelineError['code'] {
  const core = item.domain === 'gst-core-error-quark';
  const stream = item.domain === 'gst-stream-error-quark';
  const resource = item.domain === 'gst-resource-error-quark';
  if (item.domain === 'frame-source' && item.code === NATIVE_ERROR_OUT_OF_MEMORY) return 'ERR_OUT_OF_MEMORY';
  if (item.domain === 'frame-source' && item.code === NATIVE_ERROR_OUT_OF_RANGE) return 'ERR_OUT_OF_RANGE';
  if ((core && item.code === GST_CORE_ERROR_NEGOTIATION) || /not-negotiated/.test(item.debug)) return 'ERR_NOT_NEGOTIATED';
  if (isDelayedLinkFailure(item)) {
    // Nothing decodebin exposed links: the video's decoder is missing, or (a uri read into system
    // memory, where any raw video links) the media has no video stream at all (audio only).
    if (item.missing) return 'ERR_MISSING_PLUGIN';
    if (options.source.kind === 'uri' && options.backend === 'cpu') return 'ERR_UNSUPPORTED_MEDIA';
    return 'ERR_NOT_NEGOTIATED';
  }
  if (item.missing || (core && item.code === GST_CORE_ERROR_MISSING_PLUGIN) || (stream && item.code === GST_STREAM_ERROR_CODEC_NOT_FOUND)) {
    return 'ERR_MISSING_PLUGIN';
  }
  if (stream && (item.code === GST_STREAM_ERROR_TYPE_NOT_FOUND || item.code === GST_STREAM_ERROR_WRONG_TYPE))
    return 'ERR_UNSUPPORTED_MEDIA';
  const src = options.source;
  if (src.kind === 'camera' && resource) {
    if (item.code === GST_RESOURCE_ERROR_BUSY) return 'ERR_CAMERA_BUSY';
    if (item.code === GST_RESOURCE_ERROR_NOT_FOUND) return 'ERR_CAMERA_NOT_FOUND';
  }
  if (src.kind === 'uri' && isNetworkScheme(src.scheme)) {
    if (resource && item.code >= GST_RESOURCE_ERROR_NOT_FOUND && item.code <= GST_RESOURCE_ERROR_READ) return 'ERR_CONNECTION';
    // souphttpsrc (1.22) reports a refused or silent connection only as its flow failing; the
    // network source inside uridecodebin is always named "source".
    if (stream && item.code === GST_STREAM_ERROR_FAILED && item.source === 'source') return 'ERR_CONNECTION';
    // A connection lost mid-file: souphttpsrc asks again from where it stopped, and a server
    // without Range support refuses ("Server does not support seeking").
    if (resource && item.code === GST_RESOURCE_ERROR_SEEK && item.source === 'source') return 'ERR_CONNECTION';
  }
  if (resource && (item.code === GST_RESOURCE_ERROR_OPEN_READ || item.code === GST_RESOURCE_ERROR_NOT_FOUND) && src.kind === 'uri') {
    return 'ERR_FILE_NOT_FOUND';
  }
  return 'ERR_PIPELINE';
}

// Error messages end up in logs: a password in the URI's user info is not repeated there.
function withoutPassword(uri: string): string {
  try {
    const url = new URL(uri);
    if (url.password === '') return uri;
    url.password = '***';
    return url.href;
  } catch {
    return uri;
  }
}

function toPipelineError(item: NativeMessageItem, options: NormalizedOptions): PipelineError {
  const code = errorCode(item, options);
  const where = item.source ? ` (from ${item.source})` : '';
  let fix = '';
  if (code === 'ERR_MISSING_PLUGIN') {
    fix =
      `. GStreamer lacks a plugin${item.missing ? ` (${item.missing})` : ''}: on Debian/Ubuntu install ` +
      'gstreamer1.0-libav, gstreamer1.0-plugins-good, gstreamer1.0-plugins-bad or gstreamer1.0-plugins-ugly ' +
      '(Fedora: gstreamer1-plugins-*, Homebrew: gstreamer)';
  } else if (code === 'ERR_CONNECTION' && options.source.kind === 'uri') {
    fix = `: could not read ${withoutPassword(options.source.uri)} (connection refused, lost or timed out)`;
  } else if (code === 'ERR_UNSUPPORTED_MEDIA' && isDelayedLinkFailure(item) && options.source.kind === 'uri') {
    fix = `: ${withoutPassword(options.source.uri)} has no video stream (audio only?)`;
  } else if (isDelayedLinkFailure(item)) {
    fix =
      ": the decoder's output could not be linked to the rest of the pipeline " +
      "(add 'videoconvert' after decodebin, or use the uri and format options)";
  }
  return new PipelineError(code, `${item.message}${where}${fix}`, item.debug, item.source, item.domain, item.code);
}

// A paused live source captures nothing (NO_PREROLL): a step would wait for a frame that never comes.
function liveStepError(): FrameSourceError<'ERR_NOT_SEEKABLE'> {
  return new FrameSourceError(
    'ERR_NOT_SEEKABLE',
    'a live source (camera, network stream, live test) cannot step: paused, it captures nothing; resume() and read() instead',
  );
}

function toConstructError(err: unknown): Error {
  const e = err as { code?: string; message?: string; missing?: string[] };
  switch (e?.code) {
    case 'ERR_MISSING_ELEMENT':
      return new MissingElementError(e.missing ?? []);
    case 'ERR_PIPELINE_PARSE':
    case 'ERR_NOT_NEGOTIATED':
      return new FrameSourceError(e.code, e.message ?? 'invalid pipeline');
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * One GStreamer pipeline whose frames arrive in memory JS can read. Open it with the options for a
 * source, then read frames with `for await`, {@link FrameSource.read}, or both; close it when done
 * (leaving a `for await` loop does that). Emits the events of {@link FrameSourceEvents}.
 */
export class FrameSource extends EventEmitter implements AsyncIterable<Frame> {
  /** The options in force, defaults filled in. */
  readonly options: Readonly<NormalizedOptions>;

  #session: Session;
  #native: NativeOptions;
  #state: FrameSourceState = 'open';
  #format: VideoFormat | null = null;
  #readers: Reader[] = [];
  #ended = false;
  #error: AnyFrameSourceError | null = null;
  #closing: Promise<void> | null = null;
  // Where _next() writes a plain CPU frame, and the one item object it is read into.
  readonly #record = new Float64Array(RECORD_FIELDS);
  readonly #scratch: NativeFrameItem = {
    type: ITEM_FRAME,
    id: 0,
    slot: 0,
    offset: 0,
    size: 0,
    pts: -1,
    duration: -1,
    position: -1,
    sequence: 0,
    copied: false,
    discont: undefined,
  };
  #delivered = 0;
  #held = 0;
  #gcReleased = 0;
  #live = false;
  #statsTimer: ReturnType<typeof setInterval> | null = null;
  // The session whose poll (_pollAfter) is armed, if one is, and how many polls ran.
  #pollSession: Session | null = null;
  #polls = 0;
  #reconnects = 0;
  #downloaded = 0;
  #bytesDownloaded = 0;
  #totalReconnects = 0;
  // Counters of pipelines replaced by reconnects, so that stats cover the whole stream.
  #carried: Record<(typeof CARRIED)[number], number> = {
    frames: 0,
    zeroCopyFrames: 0,
    copiedFrames: 0,
    decoderFrames: 0,
    bytesCopied: 0,
    droppedFrames: 0,
    wakes: 0,
  };
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #retired: Session[] = [];
  // A network source that loses its server posts a warning, then EOS: that EOS is a lost connection.
  #connectionLost: PipelineError | null = null;
  // Playback control (see the region below).
  #duration: number | null = null;
  #position: number | null = null;
  #nextPosition: number | null = null;
  #paused = false;
  #rate = 1;
  #seekId = 0;
  #pendingSeek: { id: number; position: number; resolve: () => void; reject: (err: Error) => void } | null = null;
  #stepReaders: Reader[] = [];
  // With `loop`, timestamps go on across restarts: what is added to the stream's own timestamps.
  #loopOffset = 0;
  #lastEnd: number | null = null;
  // The current pipeline's error, announced ahead of the frames queued before it.
  #earlyError: PipelineError | null = null;
  // Playing backwards (see #watchBackwards): the check's timer, and what its last tick saw.
  #backwardsTimer: ReturnType<typeof setInterval> | null = null;
  #backwardsFrames = -1;
  #backwardsTicks = 0;

  /**
   * Every frame hand-over backend and whether it works on this machine, with the reason when not:
   * `[{ name: 'cpu', available: true }, { name: 'dmabuf', available: false, reason: '...' }, ...]`.
   * `dmabufAllocator` probes the dmabuf backend for that allocator (default 'auto').
   */
  static backends(options?: { dmabufAllocator?: DmabufAllocator }): Promise<BackendInfo[]> {
    // A promise (probing may move off the JS thread); a bad option rejects rather than throws.
    try {
      if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
        throw new OptionTypeError('options', 'an object such as { dmabufAllocator }', options);
      }
      return Promise.resolve(probeBackends(loadBinding(), normalizeAllocator(options?.dmabufAllocator)));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Cameras GStreamer can see (GstDeviceMonitor); [] when there are none. */
  static async devices(): Promise<CameraDevice[]> {
    const list = await loadBinding().listDevices();
    return list.map((d) => ({ id: d.path || d.name, name: d.name, path: d.path, api: d.api, caps: d.caps }));
  }

  constructor(options?: FrameSourceOptions) {
    super();
    const binding = loadBinding();
    const env = {
      uriSchemeSupported: (scheme: string) => binding.uriSchemeSupported(scheme),
      hardwareDecoders: () => binding.hardwareDecoders(),
      backends: (allocator: DmabufAllocator) => probeBackends(binding, allocator),
    };
    let normalized = normalizeOptions(options, env);
    for (;;) {
      this.#native = toNativeOptions(normalized);
      try {
        this.#session = this.#openSession();
        break;
      } catch (err) {
        // A list or 'auto' goes on to its next backend when the pipeline's output does not link to
        // this one's sink (a `pipeline` of a format the GPU backend does not take): the format is
        // known only once the description is parsed.
        const o = options as Record<string, unknown>;
        const rest = normalized.backend === 'cpu' ? [] : laterBackends(normalizeBackend(o.backend), normalized.backend);
        if ((err as { code?: unknown }).code !== 'ERR_NOT_NEGOTIATED' || rest.length === 0) throw err;
        // cudaDevice and dmabufAllocator go along only while their backend is still to be tried
        // (each is refused without it).
        const next = normalizeOptions(
          {
            ...o,
            backend: rest,
            cudaDevice: rest.includes('cuda') ? o.cudaDevice : undefined,
            dmabufAllocator: rest.includes('dmabuf') ? o.dmabufAllocator : undefined,
          },
          env,
        );
        normalized = {
          ...next,
          skippedBackends: [
            ...normalized.skippedBackends,
            { name: normalized.backend, reason: (err as Error).message },
            ...next.skippedBackends,
          ],
        };
      }
    }
    this.options = Object.freeze(normalized);
    if (this.options.statsInterval > 0) {
      this.#statsTimer = setInterval(() => {
        if (this.#state === 'open') this.#emitSafe('stats', this.stats);
      }, this.options.statsInterval);
      this.#statsTimer.unref();
    }
    this.#session.handle._start();
  }

  #openSession(): Session {
    const binding = loadBinding();
    let session!: Session;
    let handle: FrameSourceHandle;
    try {
      handle = new binding.FrameSourceHandle(this.#native, (polled?: boolean) => {
        if (polled) {
          // One-shot: the poll that ran needs no stopping.
          this.#polls++;
          if (this.#pollSession === session) this.#pollSession = null;
        }
        this.#onWake(session);
      });
    } catch (err) {
      throw toConstructError(err);
    }
    handle._setRecord(this.#record);
    session = {
      handle,
      slots: new Map(),
      release: (frame: Frame): void => {
        frameGuards.unregister(frame);
        this.#releaseNative(session, frame.id);
      },
      collected: (id: number): void => {
        if (this.#releaseNative(session, id)) this.#gcReleased++;
      },
      retired: false,
      sequenceBase: this.#carried.frames,
      resumed: this.#totalReconnects > 0,
    };
    return session;
  }

  // Gives a frame's slot back. The native side notices a slot whose ArrayBuffer was detached (the
  // sharedMemory: false fallback, transferred by a path that ignores markAsUntransferable): that
  // slot is retired for good, never written again, and a new one is allocated when needed.
  #releaseNative(session: Session, id: number): boolean {
    const result = session.handle._release(id);
    if (result === RELEASE_NONE) return false;
    this.#held--;
    if (result === RELEASE_DETACHED && this.#state === 'open') {
      this.#emitSafe(
        'warning',
        new FrameSourceError(
          'ERR_SLOT_DETACHED',
          "a frame's ArrayBuffer was detached (transferred away): its slot was retired and will not be written again. " +
            'Never transfer frame.data.buffer; copy the bytes, or use SharedArrayBuffer memory',
        ),
      );
    }
    return true;
  }

  // Emits an event; a listener that throws does not break the source (which goes on, or closes as
  // it would have): its exception is rethrown on the next tick, so it surfaces as an uncaught
  // exception exactly as from any asynchronous EventEmitter.
  #emitSafe<E extends keyof FrameSourceEvents>(event: E, ...args: FrameSourceEvents[E]): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  /** Where the source is in its life. */
  get state(): FrameSourceState {
    return this.#state;
  }

  /** The format negotiated most recently, or null before the first one. */
  get format(): VideoFormat | null {
    return this.#format;
  }

  /** Counters since the source opened: frames, copies, drops, slots. A new object each time. */
  get stats(): FrameSourceStats {
    const current = this.#session.handle._stats();
    for (const key of CARRIED) current[key] += this.#carried[key];
    return {
      ...current,
      reconnects: this.#totalReconnects,
      deliveredFrames: this.#delivered,
      polls: this.#polls,
      gcReleasedFrames: this.#gcReleased,
      memory: this.options.sharedMemory ? 'shared' : 'arraybuffer',
      live: this.#live,
      downloadedFrames: this.#downloaded,
      bytesDownloaded: this.#bytesDownloaded,
    };
  }

  /**
   * The next frame, or null at the end of the stream or once closed. The frame is yours until you
   * release() it. Rejects with a PipelineError when the pipeline fails, and with
   * ERR_RING_EXHAUSTED when you already hold every slot of the ring (waiting would never end).
   */
  read(): Promise<Frame | null> {
    return this.#read(true);
  }

  #read(kept: boolean): Promise<Frame | null> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#state !== 'open' || this.#ended) return Promise.resolve(null);
    // Checked before taking a queued frame: the pool has one buffer more than the ring (appsink
    // keeps the newest), so a frame may be waiting even when you hold ringSize.
    // Reads still waiting count as frames held: each will hold a slot when it is served.
    const held = this.#held;
    const waiting = this.#readers.length;
    if (held + waiting >= this.options.ringSize) {
      return Promise.reject(
        new FrameSourceError(
          'ERR_RING_EXHAUSTED',
          `you hold ${held} frame(s) and wait for ${waiting} more, which is the whole ring (ringSize ${this.options.ringSize}), ` +
            `so no new frame can arrive: release() some, or raise the ringSize option`,
        ),
      );
    }
    const read = new Promise<Frame | null>((resolve, reject) => {
      this.#readers.push({ resolve, reject, kept });
    });
    this.#watchBackwards();
    this.#onWake(this.#session);
    return read;
  }

  /**
   * Iterates over frames. Each frame is released when the loop asks for the next one unless you
   * call frame.keep(). Leaving the loop (break, return, throw) closes the source.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Frame> {
    // Every frame this iterator handed out and not yet dropped: concurrent next() calls each hand
    // one out, and the next step releases them all (unless kept).
    const handed = new Set<Frame>();
    const dropHanded = (): void => {
      for (const frame of handed) if (!frame.kept) frame.release();
      handed.clear();
    };
    const iterator: AsyncIterableIterator<Frame> = {
      next: async () => {
        dropHanded();
        let frame: Frame | null;
        try {
          frame = await this.#read(false);
        } catch (err) {
          // A loop that rejects is left, like one that breaks: the source closes.
          void this.close();
          throw err;
        }
        if (!frame) return { done: true, value: undefined };
        handed.add(frame);
        return { done: false, value: frame };
      },
      return: async () => {
        dropHanded();
        await this.close();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /**
   * Stops the pipeline and frees what it used. Frames you still hold stay valid until you release
   * them. Resolves once no GStreamer thread is left; no event fires after this call.
   */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#state = 'closing';
      if (this.#statsTimer) clearInterval(this.#statsTimer);
      this.#stopWatchingBackwards();
      if (this.#retryTimer) clearTimeout(this.#retryTimer);
      this.#stopPolling();
      for (const r of this.#readers.splice(0)) r.resolve(null);
      for (const r of this.#stepReaders.splice(0)) r.resolve(null);
      this.#settleSeek(new FrameSourceError('ERR_CLOSED', 'the source was closed before the seek completed'));
      const sessions = new Set([this.#session, ...this.#retired.splice(0)]);
      this.#closing = Promise.all([...sessions].map((s) => this.#closeSession(s))).then(() => {
        this.#state = 'closed';
        this.#session.slots.clear();
      });
    }
    return this.#closing;
  }

  // Closes one native pipeline, within closeTimeout: an element stuck in a system call (a read on a
  // pipe nobody writes to, in a pipeline of the user's) cannot be stopped, so it is abandoned, with
  // a warning, rather than left to hang close(), the event loop and process exit.
  #closeSession(session: Session): Promise<void> {
    const closed = session.handle._close();
    const limit = this.options.closeTimeout;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (session.handle._abandon()) {
          this.#emitSafe(
            'warning',
            new FrameSourceError(
              'ERR_CLOSE_TIMEOUT',
              `the pipeline did not stop within ${limit} ms (an element is blocked, e.g. reading a pipe or device with no writer): ` +
                'it was abandoned; its threads end when the blocking call returns, and frames you hold stay valid',
            ),
          );
        }
        resolve();
      }, limit);
    });
    return Promise.race([closed, timeout]).finally(() => clearTimeout(timer));
  }

  /** For `await using source = new FrameSource(...)`: closes the source. */
  async [asyncDisposeSymbol](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Playback control. Every call returns at once: state changes and seeks run on the native control
  // thread, in the order they were asked for, and their results come back as items.

  /** Duration in µs, or null while unknown (before the first frame) and for live streams. */
  get duration(): number | null {
    return this.#duration;
  }

  /**
   * Where the last frame delivered is on the media's timeline (µs, the timeline seek() takes), or
   * null before the first. It equals that frame's `timestamp` except where the container shifts
   * timestamps (MP4 with B-frames: by the decoder delay).
   */
  get position(): number | null {
    return this.#position;
  }

  /** Whether pause() is in force. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Playback rate: 2 plays twice as fast, -1 backwards (where the demuxer can). It changes the pace
   * only with the `sync` option (otherwise frames come as fast as they are decoded) and the
   * timestamps' direction. Setting it seeks to the current position; see setRate() to await it.
   */
  get rate(): number {
    return this.#rate;
  }

  /** Sets the playback rate (see the getter); throws ERR_OUT_OF_RANGE for 0 or beyond ±64. */
  set rate(rate: number) {
    // Errors about the value throw here; a failure of the seek itself goes to 'error' listeners
    // only as a rejection of setRate(), which this setter ignores.
    this.#checkRate(rate);
    this.setRate(rate).catch(() => undefined);
  }

  /** Changes the playback rate (see `rate`); resolves once the next frame is at the new rate. */
  setRate(rate: number): Promise<void> {
    try {
      this.#checkRate(rate);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    // Forwards from where the last frame delivered ends; backwards from the middle of the frame
    // before it (its start may be off: an accurate seek clips the first frame's start to the target).
    const fps = this.#format?.framerate ?? 0;
    const frameUs = fps > 0 ? 1e6 / fps : 0;
    const end = this.#nextPosition ?? this.options.end ?? this.#duration ?? 0;
    const from = rate > 0 ? (this.#nextPosition ?? this.options.start) : Math.max(this.options.start, Math.floor(end - 1.5 * frameUs));
    const previous = this.#rate;
    this.#rate = rate;
    return this.#startSeek(from, true).catch((err: Error) => {
      if ((err as FrameSourceError).code !== 'ERR_SEEK_SUPERSEDED') this.#rate = previous;
      throw err;
    });
  }

  #checkRate(rate: number): void {
    if (typeof rate !== 'number' || Number.isNaN(rate)) throw new OptionTypeError('rate', 'a number', rate);
    if (!Number.isFinite(rate) || rate === 0 || Math.abs(rate) > 64 || Math.abs(rate) < 1 / 64) {
      throw new PositionRangeError('rate', 'a non-zero number from -64 to 64 (at least 1/64 in size)', rate);
    }
  }

  /**
   * Moves playback to `position` (µs, the media's own time). Resolves when the next frame the
   * source delivers is the seek's target; frames read meanwhile wait for it. Frames you hold stay
   * valid; the first frame after the seek has `discontinuity` set and a 'seek' event precedes it.
   * A later seek wins: the earlier one rejects with ERR_SEEK_SUPERSEDED. Rejects with
   * ERR_NOT_SEEKABLE for live or non-seekable sources, ERR_OUT_OF_RANGE for a position outside the
   * media (or the start/end range), ERR_CLOSED once the source is closing or closed.
   */
  seek(position: number, options: SeekOptions = {}): Promise<void> {
    if (typeof position !== 'number' || Number.isNaN(position)) {
      return Promise.reject(new OptionTypeError('position', 'a number of microseconds', position));
    }
    if (typeof options !== 'object' || options === null) return Promise.reject(new OptionTypeError('options', 'an object', options));
    const accurate = options.accurate ?? false;
    if (typeof accurate !== 'boolean') return Promise.reject(new OptionTypeError('accurate', 'a boolean', accurate));
    const end = this.options.end ?? this.#duration;
    // Beyond MAX_SAFE_INTEGER µs (as for the start and end options), the nanoseconds GStreamer takes overflow.
    const max = Number.MAX_SAFE_INTEGER;
    if (!(position >= this.options.start && position <= max) || (end !== null && position >= end)) {
      return Promise.reject(this.#positionError(position, end));
    }
    return this.#startSeek(Math.floor(position), accurate);
  }

  #startSeek(position: number, accurate: boolean): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#state !== 'open' || this.#ended) {
      return Promise.reject(new FrameSourceError('ERR_CLOSED', 'the source is closed (or reached its end): it cannot seek'));
    }
    if (this.#live) {
      return Promise.reject(new FrameSourceError('ERR_NOT_SEEKABLE', 'a live source (camera, network stream, live test) cannot seek'));
    }
    this.#settleSeek(new FrameSourceError('ERR_SEEK_SUPERSEDED', 'a later seek replaced this one before it completed'));
    const id = ++this.#seekId;
    return new Promise<void>((resolve, reject) => {
      this.#pendingSeek = { id, position, resolve, reject };
      this.#session.handle._seek(id, position, this.options.end ?? -1, this.#rate, accurate);
      this.#watchBackwards();
    });
  }

  // A decoder playing backwards decodes a whole group of pictures, keyframe to keyframe, into slots
  // before it pushes the first (last) of them: a group longer than the ring's slots leaves it
  // holding every one and waiting for another that only it could give back. Nothing else would
  // end that wait, so while playing backwards a check runs every second, and when someone waits for
  // a frame (a read, a step, a seek) and for two seconds no frame came, none is queued or held by
  // JS and upstream waits for a slot, the source fails with ERR_RING_EXHAUSTED saying why.
  #watchBackwards(): void {
    if (this.#rate > 0 || this.#backwardsTimer || this.#state !== 'open') return;
    this.#backwardsFrames = -1;
    this.#backwardsTicks = 0;
    this.#backwardsTimer = setInterval(() => this.#checkBackwards(), 1000);
    this.#backwardsTimer.unref();
  }

  #stopWatchingBackwards(): void {
    if (this.#backwardsTimer) clearInterval(this.#backwardsTimer);
    this.#backwardsTimer = null;
  }

  #checkBackwards(): void {
    if (this.#rate > 0 || this.#state !== 'open' || this.#error) {
      this.#stopWatchingBackwards();
      return;
    }
    const handle = this.#session.handle;
    const { frames, queuedFrames, slots } = handle._stats();
    const waiting = this.#readers.length + this.#stepReaders.length > 0 || this.#pendingSeek !== null;
    const stuck =
      waiting &&
      !this.#paused &&
      this.#held === 0 &&
      queuedFrames === 0 &&
      frames === this.#backwardsFrames &&
      handle._writersWaiting() > 0;
    this.#backwardsFrames = frames;
    this.#backwardsTicks = stuck ? this.#backwardsTicks + 1 : 0;
    if (this.#backwardsTicks < 2) return;
    this.#fail(
      new FrameSourceError(
        'ERR_RING_EXHAUSTED',
        `playing backwards, the decoder decodes from one keyframe to the next before it hands out a frame, and that ` +
          `group of pictures is longer than the ring: it holds all ${slots} slots and waits for another. Raise the ` +
          `ringSize option (now ${this.options.ringSize}; the ring grows to about twice that), or play this file forwards`,
      ),
    );
  }

  // seek() to `position` outside [start, end) (end null: not known yet, up to MAX_SAFE_INTEGER µs).
  #positionError(position: number, end: number | null): PositionRangeError {
    const range =
      end !== null ? `from ${this.options.start} to below ${end} µs` : `from ${this.options.start} to ${Number.MAX_SAFE_INTEGER} µs`;
    return new PositionRangeError('position', `a time in the media, ${range}`, position);
  }

  #settleSeek(err: Error): void {
    const pending = this.#pendingSeek;
    this.#pendingSeek = null;
    pending?.reject(err);
  }

  #onSeekDone({ id, ok, message, position, duration }: NativeSeekItem): void {
    const pending = this.#pendingSeek;
    if (!pending || pending.id !== id) return;
    this.#pendingSeek = null;
    if (!ok && duration >= 0) {
      // A seek made before the duration was known, to a position past it (seek() checks the rest).
      pending.reject(this.#positionError(pending.position, Math.min(duration, this.options.end ?? Infinity)));
      return;
    }
    if (!ok) {
      pending.reject(new FrameSourceError('ERR_NOT_SEEKABLE', message || 'this stream cannot seek (GStreamer says it is not seekable)'));
      return;
    }
    // Timestamps after a seek are the media's own again (with `loop`, restarts shift them to grow).
    this.#loopOffset = 0;
    this.#lastEnd = null;
    this.#emitSafe('seek', { position: position >= 0 ? position : null });
    pending.resolve();
  }

  /**
   * Stops delivering frames: the pipeline goes to PAUSED, so decoding stops and no new memory is
   * taken (frames already decoded stay in their slots). Readers wait until resume() or step(). A
   * live source stops capturing: what it would have sent meanwhile is lost. No-op once closed.
   */
  pause(): void {
    if (this.#paused || this.#state !== 'open') return;
    this.#paused = true;
    this.#session.handle._pause(true);
  }

  /** Goes on from where pause() stopped. */
  resume(): void {
    if (!this.#paused || this.#state !== 'open') return;
    this.#paused = false;
    this.#session.handle._pause(false);
    this.#onWake(this.#session);
  }

  /**
   * While paused: advances `frames` frames (default 1) and resolves with the last of them, yours
   * until you release() it (those in between are released). Resolves with null at the end of the
   * stream or once closed; rejects with ERR_NOT_PAUSED when not paused, and with ERR_NOT_SEEKABLE
   * for a live source (paused, it captures nothing to step to).
   */
  async step(frames = 1): Promise<Frame | null> {
    // A wrong type is the same mistake as seek('1'): ERR_INVALID_OPTION; a number out of range is ERR_OUT_OF_RANGE.
    if (typeof frames !== 'number' || Number.isNaN(frames)) throw new OptionTypeError('frames', 'a number of frames', frames);
    if (!Number.isInteger(frames) || frames < 1 || frames > 1_000_000) {
      throw new PositionRangeError('frames', 'an integer from 1 to 1000000', frames);
    }
    if (this.#error) throw this.#error;
    if (this.#state !== 'open') throw new FrameSourceError('ERR_CLOSED', 'the source is closed: it cannot step');
    if (this.#live) throw liveStepError();
    if (!this.#paused) throw new FrameSourceError('ERR_NOT_PAUSED', 'step() needs a paused source: call pause() first');
    let frame: Frame | null = null;
    for (let i = 0; i < frames; i++) {
      frame?.release();
      frame = await this.#stepOne();
      if (!frame) return null;
    }
    return frame;
  }

  #stepOne(): Promise<Frame | null> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#state !== 'open' || this.#ended) return Promise.resolve(null);
    if (this.#held >= this.options.ringSize) {
      return Promise.reject(
        new FrameSourceError('ERR_RING_EXHAUSTED', `you hold all ${this.#held} frames of the ring: release() some before step()`),
      );
    }
    return new Promise<Frame | null>((resolve, reject) => {
      this.#stepReaders.push({ resolve, reject, kept: true });
      // A frame decoded before the pause (or the one the sink prerolled on) comes first.
      if (this.#session.handle._stats().queuedFrames === 0) this.#session.handle._step();
      this.#onWake(this.#session);
    });
  }

  // Whether the head of the native queue may be delivered now: a step takes it even while paused;
  // readers wait while paused, and both wait while a seek is on its way to its target (what is
  // queued before it is from before the seek).
  #acceptsFrame(): boolean {
    if (this.#pendingSeek !== null) return false;
    return this.#stepReaders.length > 0 || (this.#readers.length > 0 && !this.#paused);
  }

  // Called on the JS thread by the native side when items are waiting, and by readers.
  #onWake(session: Session): void {
    this.#stopPolling();
    if (this.#state !== 'open' || session !== this.#session || session.retired) return;
    try {
      this.#pump(session);
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #allocate(bytes: number): Uint8Array {
    if (this.options.sharedMemory) return new Uint8Array(new SharedArrayBuffer(bytes));
    // An ArrayBuffer can be transferred (detached), and its memory then freed by its new owner while
    // GStreamer writes into it: Node's postMessage and structuredClone copy it instead.
    const buffer = new ArrayBuffer(bytes);
    markAsUntransferable(buffer);
    return new Uint8Array(buffer);
  }

  // The streaming thread is waiting for these: answer before anything else.
  #serviceSlots(session: Session): void {
    const h = session.handle;
    for (let req = h._slotRequest(); req; req = h._slotRequest()) {
      const arrays: Uint8Array[] = [];
      try {
        for (let i = 0; i < req.count; i++) arrays.push(this.#allocate(req.bytes));
      } catch (err) {
        h._abandonSlots();
        throw new FrameSourceError(
          'ERR_OUT_OF_MEMORY',
          `could not allocate ${req.count} frame slot(s) of ${req.bytes} bytes: ${(err as Error).message}`,
          { cause: err },
        );
      }
      const placed = h._addSlots(arrays);
      for (let i = 0; i < placed.length; i += 2) {
        session.slots.set(placed[i]!, { buffer: arrays[i / 2]!.buffer, offset: placed[i + 1]! });
      }
    }
    const retired = h._retired();
    if (retired) for (const id of retired) session.slots.delete(id);
  }

  #pump(session: Session): void {
    const h = session.handle;
    while (this.#state === 'open' && session === this.#session && !session.retired) {
      const next = h._next(this.#acceptsFrame());
      if (next === undefined) {
        if (this.#record[REC_BATCHING] === 1) this.#poll(session);
        return;
      }
      if (next === NEXT_SLOT_WORK) {
        this.#serviceSlots(session);
        continue;
      }
      const item = next === NEXT_FRAME_RECORD ? this.#frameFromRecord() : next;
      switch (item.type) {
        case ITEM_FRAME:
          this.#deliver(session, item);
          break;
        case ITEM_FORMAT:
          this.#format = toVideoFormat(item, this.options.backend, this.options.skippedBackends);
          this.#emitSafe('format', this.#format);
          break;
        case ITEM_EOS:
          if (this.#connectionLost) {
            const err = this.#connectionLost;
            this.#connectionLost = null;
            if (!this.#reconnect(err)) this.#fail(err);
            return;
          }
          this.#ended = true;
          for (const r of this.#readers.splice(0)) r.resolve(null);
          for (const r of this.#stepReaders.splice(0)) r.resolve(null);
          this.#emitSafe('eos');
          void this.close();
          return;
        case ITEM_ERROR: {
          if (item.early) {
            // Announced at once, even to a consumer that is not reading: listeners hear of it and
            // a reconnect starts now. Frames decoded before the error can still be read.
            if (this.#earlyError) break;
            const err = toPipelineError(item, this.options);
            this.#earlyError = err;
            if (this.#reconnect(err)) return;
            if (this.listenerCount('error') > 0) this.#emitSafe('error', err);
            break;
          }
          // In order, after those frames: readers reject with the same error, and the source closes.
          const announced = this.#earlyError;
          const err = announced ?? toPipelineError(item, this.options);
          if (announced || !this.#reconnect(err)) this.#fail(err, announced === null);
          return;
        }
        case ITEM_WARNING: {
          const warning = toPipelineError(item, this.options);
          // The error that usually follows a failed delayed link can be lost in decodebin: fail now.
          if (isDelayedLinkFailure(item)) {
            const announced = this.#earlyError;
            this.#fail(announced ?? warning, announced === null);
            return;
          }
          if (warning.code === 'ERR_CONNECTION') this.#connectionLost = warning;
          this.#emitSafe('warning', warning);
          break;
        }
        case ITEM_LIVE:
          this.#live = item.live;
          // A step asked for before the source said it was live would wait forever.
          if (item.live) for (const r of this.#stepReaders.splice(0)) r.reject(liveStepError());
          break;
        case ITEM_SEEK:
          this.#onSeekDone(item);
          break;
        case ITEM_DURATION: {
          const duration = item.duration >= 0 ? item.duration : null;
          if (duration !== this.#duration) {
            this.#duration = duration;
            this.#emitSafe('duration', duration);
          }
          break;
        }
      }
    }
  }

  // Batching: the next wake may only come after a few frames, so look again in BATCH_POLL_MS. The
  // timer is the addon's (a libuv timer that runs the session's wake callback): a setTimeout
  // cleared on every wake would still wake the idle JS thread at its old deadline.
  #poll(session: Session): void {
    if (this.#pollSession) return;
    session.handle._pollAfter(BATCH_POLL_MS);
    this.#pollSession = session;
  }

  #stopPolling(): void {
    if (!this.#pollSession) return;
    this.#pollSession.handle._pollAfter(0);
    this.#pollSession = null;
  }

  // The frame _next() wrote into the record, in the one scratch item #deliver reads (and keeps nothing of).
  #frameFromRecord(): NativeFrameItem {
    const r = this.#record;
    const item = this.#scratch;
    item.id = r[REC_ID]!;
    item.slot = r[REC_SLOT]!;
    item.offset = r[REC_OFFSET]!;
    item.size = r[REC_SIZE]!;
    item.pts = r[REC_PTS]!;
    item.duration = r[REC_DURATION]!;
    item.position = r[REC_POSITION]!;
    item.sequence = r[REC_SEQUENCE]!;
    item.copied = r[REC_COPIED] === 1;
    item.discont = r[REC_DISCONT] === 1 ? true : undefined;
    return item;
  }

  #deliver(session: Session, item: NativeFrameItem): void {
    const reader = this.#stepReaders.shift() ?? this.#readers.shift()!;
    const slot = item.handles ? undefined : session.slots.get(item.slot);
    const format = this.#format;
    if ((!slot && !item.handles) || !format) {
      this.#releaseNative(session, item.id);
      throw new Error(`frame-source internal error: frame in unknown slot ${item.slot}`);
    }
    // A GPU backend's frame has no bytes in the ring: its descriptor stands in for them, and
    // the GC guard is registered on the descriptor instead.
    const data = slot ? new Uint8Array(slot.buffer, slot.offset + item.offset, item.size) : null;
    const cuda = item.handles?.cuda ? cudaDescriptor(item.handles) : null;
    const dmabuf = item.handles && !cuda ? dmabufDescriptor(item.handles) : null;
    // A CPU frame's download() is its data (Frame's default); a GPU frame's is one copy, made off
    // the JS thread. The closure keeps values, not the item (the record's item is reused).
    let download: (() => Promise<Uint8Array>) | undefined;
    if (!data) {
      const handle = session.handle;
      const { id, size } = item;
      download = async (): Promise<Uint8Array> => {
        let target: Uint8Array;
        try {
          target = this.#allocate(size);
        } catch (err) {
          throw new FrameSourceError(
            'ERR_OUT_OF_MEMORY',
            `could not allocate ${size} bytes to download a frame into: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        }
        let n: number;
        try {
          n = await handle._download(id, target);
        } catch (err) {
          // The addon marks memory the CPU cannot map; anything else is unexpected and passes as is.
          if ((err as { code?: unknown }).code !== 'ERR_NO_CPU_MEMORY') throw err;
          throw new FrameSourceError('ERR_NO_CPU_MEMORY', (err as Error).message, { cause: err });
        }
        this.#downloaded++;
        this.#bytesDownloaded += n;
        return target;
      };
    }
    const frame = Frame.create({
      release: session.release,
      id: item.id,
      data,
      videoFormat: format,
      // A cuda frame's planes are where its device memory has them (pitched), also in download().
      layout: cuda
        ? cuda.planes.map((p) => ({ offset: p.offset, stride: p.stride }))
        : item.layout
          ? layoutFromPairs(item.layout)
          : format.layout,
      timestamp: this.#continuedTimestamp(item.pts >= 0 ? item.pts : null, item.duration >= 0 ? item.duration : null),
      duration: item.duration >= 0 ? item.duration : null,
      sequence: session.sequenceBase + item.sequence,
      copied: item.copied,
      kept: reader.kept,
      backend: this.options.backend,
      dmabuf,
      cuda,
      download,
      discontinuity: item.discont === true || session.resumed,
    });
    session.resumed = false;
    if (item.position >= 0) {
      this.#position = item.position;
      this.#nextPosition = item.position + (frame.duration ?? 0);
    }
    // Registered on each frame's data view (or GPU descriptor): while you hold it, the slot stays yours.
    frameGuards.register(data ?? dmabuf ?? cuda!, { session, id: item.id }, frame);
    this.#reconnects = 0;
    this.#delivered++;
    this.#held++;
    reader.resolve(frame);
  }

  // With `loop`, a restart shows as a timestamp going back: shift it to go on where the last
  // frame ended, so timestamps only ever grow (as WebCodecs and encoders expect).
  #continuedTimestamp(pts: number | null, duration: number | null): number | null {
    if (pts === null || !this.options.loop) return pts;
    let ts = pts + this.#loopOffset;
    if (this.#lastEnd !== null && ts < this.#lastEnd) {
      this.#loopOffset = this.#lastEnd - pts;
      ts = this.#lastEnd;
    }
    this.#lastEnd = ts + (duration ?? 0);
    return ts;
  }

  // A network source that lost its connection: replace the pipeline after a delay, and let the
  // readers wait on. Frames of the old pipeline stay valid; it is closed now, its slots come back as
  // they are released.
  #reconnect(err: PipelineError): boolean {
    const policy = this.options.reconnect;
    if (!policy || (err.code !== 'ERR_CONNECTION' && err.code !== 'ERR_PIPELINE') || this.#reconnects >= policy.attempts) return false;
    this.#reconnects++;
    this.#totalReconnects++;
    // Retired at once: a second error queued by the same pipeline must not start a second reconnect.
    const old = this.#session;
    old.retired = true;
    this.#retired.push(old);
    void old.handle._close().then(() => {
      const i = this.#retired.indexOf(old);
      if (i >= 0 && this.#state === 'open') this.#retired.splice(i, 1);
    });
    // The timer is armed before the event: a listener that calls close() must find it to clear it
    // (else it keeps the process alive for the whole delay).
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (this.#state !== 'open') return;
      try {
        this.#connectionLost = null;
        this.#earlyError = null;
        const last = old.handle._stats();
        for (const key of CARRIED) this.#carried[key] += last[key];
        this.#session = this.#openSession();
        this.#session.handle._start();
      } catch (e) {
        this.#fail(e instanceof Error ? e : new Error(String(e)));
      }
    }, policy.delay);
    this.#emitSafe('reconnect', { attempt: this.#reconnects, delay: policy.delay, error: err });
    return true;
  }

  #fail(cause: Error, emit = true): void {
    if (this.#error || this.#state !== 'open') return;
    const err = isFrameSourceError(cause)
      ? cause
      : new FrameSourceError('ERR_INTERNAL', `frame-source internal error: ${cause.message}`, { cause });
    this.#error = err;
    for (const r of this.#readers.splice(0)) r.reject(err);
    for (const r of this.#stepReaders.splice(0)) r.reject(err);
    this.#settleSeek(err);
    // An 'error' event without a listener would throw from here and take the process down.
    if (emit && this.listenerCount('error') > 0) this.#emitSafe('error', err);
    void this.close();
  }
}

// Typed events for TypeScript users.
export interface FrameSource {
  /** Calls `listener` on every `event` (see {@link FrameSourceEvents}). */
  on<E extends keyof FrameSourceEvents>(event: E, listener: (...args: FrameSourceEvents[E]) => void): this;
  /** Calls `listener` on the next `event` only. */
  once<E extends keyof FrameSourceEvents>(event: E, listener: (...args: FrameSourceEvents[E]) => void): this;
  /** Removes a listener added with on() or once(). */
  off<E extends keyof FrameSourceEvents>(event: E, listener: (...args: FrameSourceEvents[E]) => void): this;
  /** @internal FrameSource emits its own events; calling this from outside fakes one. */
  emit<E extends keyof FrameSourceEvents>(event: E, ...args: FrameSourceEvents[E]): boolean;
}
