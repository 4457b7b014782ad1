// The one place options are validated and given their defaults. The native side trusts what it
// gets from here. Every rejection names the option, what was expected and what was given.
import { FrameSourceError, OptionRangeError, OptionTypeError } from './errors';
import {
  buildSource,
  isNetworkScheme,
  normalizeCamera,
  normalizeOutput,
  normalizeTest,
  normalizeUri,
  type Decoder,
  type OutputFormat,
  type OutputSpec,
  type ReconnectOptions,
  type SourceSpec,
  type TestSourceOptions,
} from './sources';
import {
  allocatorCode,
  chooseBackend,
  CUDA_FORMATS,
  DMABUF_FORMATS,
  normalizeAllocator,
  normalizeBackend,
  type Backend,
  type BackendInfo,
  type BackendName,
  type DmabufAllocator,
} from './backends';
import type { NativeOptions } from '../types/binding';

export type { Backend, BackendName, DmabufAllocator } from './backends';

/**
 * What `new FrameSource(options)` accepts. Give at most one source (`uri`, `camera`, `test` or
 * `pipeline`); with none, {@link DEFAULT_PIPELINE} plays. Every option is checked: a wrong one
 * throws {@link OptionTypeError} or {@link OptionRangeError} naming it.
 */
export interface FrameSourceOptions {
  /** Any URI decodebin handles: `file:///videos/a.mp4`, `https://...`, `rtsp://cam/stream`. */
  uri?: string;
  /** The default camera (`true`), or a device path such as '/dev/video2' (see FrameSource.devices()). */
  camera?: true | string;
  /** A test pattern: `true` for the defaults (1280x720 smpte at 30 fps, not live). */
  test?: true | TestSourceOptions;
  /** Output pixel format; a converter is inserted only when one is given. */
  format?: OutputFormat;
  /** Output width in pixels; a scaler is inserted only when width or height is given. */
  width?: number;
  /** Output height in pixels. */
  height?: number;
  /** Output frames per second; a rate adapter is inserted only when given. */
  framerate?: number;
  /** Which decoders a `uri` or `camera` source may use. 'hardware' fails clearly when there is none. Default 'auto'. */
  decoder?: Decoder;
  /** RTSP jitter-buffer latency in ms (rtspsrc's `latency`), for `uri` sources. */
  latency?: number;
  /** At end of stream, start again from the beginning (files, non-live sources). */
  loop?: boolean;
  /**
   * Where playback starts, in µs of the media's own time (files and other seekable sources).
   * Also where `loop` goes back to. Default 0.
   */
  start?: number;
  /** Where playback ends, in µs (end of stream comes there). Default: the end of the media. */
  end?: number;
  /**
   * Deliver frames at their own pace on the pipeline clock (real-time playback, as a player would),
   * instead of as fast as they are decoded. Needed for `rate` to change the pace. Default false.
   */
  sync?: boolean;
  /** For network `uri` sources: when the connection drops, reconnect (emitting 'reconnect') instead of failing. */
  reconnect?: boolean | ReconnectOptions;
  /**
   * gst-launch description of everything upstream of frame-source's sink, e.g.
   * `'videotestsrc ! video/x-raw,format=RGBA,width=1280,height=720'`. frame-source appends its own
   * sink. Default: {@link DEFAULT_PIPELINE}. A description can open files and network connections,
   * exactly as gst-launch-1.0 would: never build one from untrusted input.
   */
  pipeline?: string;
  /**
   * Frame slots GStreamer writes into (the buffer pool's size): how many frames can be in flight
   * at once, upstream, queued and held by you together. Decoders keep reference frames in the
   * pool too, so give them at least 6. Default 8; 2 to 64.
   */
  ringSize?: number;
  /**
   * When the consumer is slower than the source: `true` drops the oldest undelivered frame,
   * `false` makes the pipeline wait (nothing lost). `'auto'` (default) drops for live sources
   * (cameras, network streams, `is-live=true`) and waits for the others.
   */
  drop?: boolean | 'auto';
  /** Undelivered frames kept before the oldest is dropped, when dropping. Default 1; 1 to 64. */
  maxQueued?: number;
  /**
   * Where frames are handed over: 'cpu' (default: SharedArrayBuffer slots), 'dmabuf' (Linux DMA-BUF
   * fds), 'cuda', 'iosurface'; a list in order of preference (the first available is used); or
   * 'auto' (the best this machine can deliver, 'cpu' last). See FrameSource.backends().
   */
  backend?: Backend | readonly BackendName[];
  /**
   * How the dmabuf backend allocates frames made in system memory: 'auto' (dma-heap, else udmabuf),
   * 'dma-heap', 'udmabuf', or 'memfd' (plain shared memory: mappable and passable to another
   * process, not importable by a GPU). Default 'auto'.
   */
  dmabufAllocator?: DmabufAllocator;
  /**
   * The cuda backend's GPU (a device index, see FrameSource.backends()): where cudaupload puts
   * frames made in system memory. Decoders run on the GPU their element belongs to (nvh264dec: the
   * first; nvh264device1dec: the second, named in a `pipeline`). Default 0.
   */
  cudaDevice?: number;
  /**
   * Allocate frame memory as SharedArrayBuffer (shareable with workers). `'auto'` (default) uses it
   * where it exists and otherwise falls back to ArrayBuffer (still zero-copy, not shareable), as in
   * an Electron renderer that is not cross-origin isolated. `false` forces ArrayBuffer.
   */
  sharedMemory?: boolean | 'auto';
  /** Emit a 'stats' event every this many milliseconds; 0 (default) never. */
  statsInterval?: number;
  /**
   * How long close() waits for the pipeline to stop, in ms. An element blocked in a system call
   * (reading a pipe or device nobody writes to) cannot be stopped: after this long it is abandoned
   * with an ERR_CLOSE_TIMEOUT 'warning' and close() resolves. Default 5000; 100 to 600000.
   */
  closeTimeout?: number;
}

/** The options in force ({@link FrameSource.options}): checked, with every default filled in. */
export interface NormalizedOptions {
  /** The source asked for. */
  source: SourceSpec;
  /** The output shape asked for. */
  output: OutputSpec;
  /** The full description frame-source built (its sink appended at run time). */
  pipeline: string;
  /** The `decoder` option ('auto' when not given). */
  decoder: Decoder;
  /** The `latency` option in ms, or null (rtspsrc's own default). */
  latency: number | null;
  /** The `loop` option. */
  loop: boolean;
  /** µs; 0 for the beginning. */
  start: number;
  /** µs; null for the end of the media. */
  end: number | null;
  /** Whether frames are delivered on the clock (the `sync` option). */
  sync: boolean;
  /** The `reconnect` option with its defaults, or null when off. */
  reconnect: {
    /** Attempts after each failure before giving up. */
    attempts: number;
    /** Milliseconds between attempts. */
    delay: number;
  } | null;
  /** The `ringSize` option. */
  ringSize: number;
  /** The `drop` option ('auto' is decided when the pipeline says whether it is live). */
  drop: boolean | 'auto';
  /** The `maxQueued` option. */
  maxQueued: number;
  /** The backend chosen on this machine. */
  backend: BackendName;
  /** Backends preferred over it, and why each was not used. */
  skippedBackends: Array<{
    /** The backend's name. */
    name: BackendName;
    /** Why it was not used here. */
    reason: string;
  }>;
  /** The `dmabufAllocator` option. */
  dmabufAllocator: DmabufAllocator;
  /** The cuda backend's device index. */
  cudaDevice: number;
  /** Whether frame memory is SharedArrayBuffer (true) or ArrayBuffer (false). */
  sharedMemory: boolean;
  /** The `statsInterval` option in ms (0: no 'stats' events). */
  statsInterval: number;
  /** The `closeTimeout` option in ms. */
  closeTimeout: number;
}

/** The built-in source used when no source option is given: a 720p RGBA test pattern. */
export const DEFAULT_PIPELINE = 'videotestsrc pattern=smpte ! video/x-raw,format=RGBA,width=1280,height=720,framerate=30/1';

/** The value each of these options takes when it is not given. */
export const DEFAULTS = {
  /** Frame slots in GStreamer's pool. */
  ringSize: 8,
  /** Drop for live sources, wait for the others. */
  drop: 'auto' as const,
  /** Undelivered frames kept before the oldest is dropped. */
  maxQueued: 1,
  // Not 'auto': frames of a GPU backend have no CPU bytes (frame.data), so code written for the
  // CPU path must ask for GPU frames, never get them because the machine happens to have a GPU.
  /** 'cpu': GPU backends are asked for, never chosen because the machine has a GPU. */
  backend: 'cpu' as const,
  /** SharedArrayBuffer where it exists. */
  sharedMemory: 'auto' as const,
  /** No 'stats' events. */
  statsInterval: 0,
  /** close() waits up to 5 s for the pipeline to stop. */
  closeTimeout: 5000,
};

/** The smallest and largest value each of these integer options accepts (both included). */
export const LIMITS = {
  /** Frame slots in GStreamer's pool. */
  ringSize: { min: 2, max: 64 },
  /** Undelivered frames kept when dropping. */
  maxQueued: { min: 1, max: 64 },
  /** Milliseconds between 'stats' events (up to one hour). */
  statsInterval: { min: 0, max: 3_600_000 },
  /** Milliseconds close() waits before abandoning a pipeline that does not stop. */
  closeTimeout: { min: 100, max: 600_000 },
};

// prettier-ignore
const KNOWN_KEYS = new Set([
  'pipeline', 'uri', 'camera', 'test', 'format', 'width', 'height', 'framerate', 'decoder', 'latency', 'loop',
  'start', 'end', 'sync', 'reconnect', 'ringSize', 'drop', 'maxQueued', 'backend', 'dmabufAllocator', 'cudaDevice',
  'sharedMemory', 'statsInterval', 'closeTimeout',
]);
const SOURCE_KEYS = ['pipeline', 'uri', 'camera', 'test'] as const;
const DECODERS: readonly Decoder[] = ['auto', 'hardware', 'software'];

/** What option checks need to ask of the installed GStreamer. */
export interface Environment {
  uriSchemeSupported(scheme: string): boolean;
  hardwareDecoders(): string[];
  /** What each backend can do here (the native probes). */
  backends(allocator: DmabufAllocator): BackendInfo[];
}

function integer(name: string, value: unknown, fallback: number, range: { min: number; max: number }): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new OptionTypeError(name, 'an integer', value);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new OptionRangeError(name, `an integer from ${range.min} to ${range.max}`, value);
  }
  return value;
}

function boolOrAuto(name: string, value: unknown, fallback: boolean | 'auto'): boolean | 'auto' {
  if (value === undefined) return fallback;
  if (value === true || value === false || value === 'auto') return value;
  throw new OptionTypeError(name, "true, false or 'auto'", value);
}

export function normalizeOptions(options: unknown, env: Environment): NormalizedOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new OptionTypeError('options', 'an object', options);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_KEYS.has(key)) {
      throw new OptionTypeError(key, `one of the known options (${[...KNOWN_KEYS].join(', ')})`, o[key]);
    }
  }

  const given = SOURCE_KEYS.filter((k) => o[k] !== undefined);
  if (given.length > 1) {
    throw new OptionTypeError(given[1]!, `not given together with '${given[0]}' (one source per FrameSource)`, o[given[1]!]);
  }
  let source: SourceSpec;
  if (o.uri !== undefined) source = normalizeUri(o.uri, (scheme) => env.uriSchemeSupported(scheme));
  else if (o.camera !== undefined) source = normalizeCamera(o.camera);
  else if (o.test !== undefined) source = normalizeTest(o.test);
  else source = { kind: 'pipeline', description: o.pipeline === undefined ? DEFAULT_PIPELINE : normalizeDescription(o.pipeline) };
  let output = normalizeOutput(o);

  let decoder: Decoder = 'auto';
  if (o.decoder !== undefined) {
    if (!DECODERS.includes(o.decoder as Decoder)) throw new OptionTypeError('decoder', "'auto', 'hardware' or 'software'", o.decoder);
    decoder = o.decoder as Decoder;
    if (decoder !== 'auto' && source.kind !== 'uri' && source.kind !== 'camera') {
      throw new OptionRangeError('decoder', "'auto' unless the source is a uri or camera", o.decoder);
    }
    if (decoder === 'hardware' && env.hardwareDecoders().length === 0) {
      throw new FrameSourceError(
        'ERR_NO_HARDWARE_DECODER',
        "decoder: 'hardware' was asked for, but GStreamer has no hardware video decoder here " +
          "(install gstreamer1.0-vaapi or the va plugin of gstreamer1.0-plugins-bad with a VA driver, or NVIDIA's nvcodec); " +
          "use decoder: 'auto' to fall back to software",
      );
    }
  }

  let latency: number | null = null;
  if (o.latency !== undefined) {
    if (source.kind !== 'uri') throw new OptionRangeError('latency', 'given only with a uri source', o.latency);
    // As every integer option: a non-number is a TypeError, a fraction or Infinity a RangeError.
    latency = integer('latency', o.latency, 0, { min: 0, max: 60000 });
  }

  if (o.loop !== undefined && typeof o.loop !== 'boolean') throw new OptionTypeError('loop', 'a boolean', o.loop);
  const loop = o.loop === true;
  if (
    loop &&
    (source.kind === 'camera' || (source.kind === 'test' && source.live) || (source.kind === 'uri' && isNetworkScheme(source.scheme)))
  ) {
    throw new OptionRangeError('loop', 'true only for files and other non-live sources', o.loop);
  }

  const isLive =
    source.kind === 'camera' || (source.kind === 'test' && source.live) || (source.kind === 'uri' && isNetworkScheme(source.scheme));
  const start = integer('start', o.start, 0, { min: 0, max: Number.MAX_SAFE_INTEGER });
  const end = o.end === undefined ? null : integer('end', o.end, 0, { min: start + 1, max: Number.MAX_SAFE_INTEGER });
  if ((start > 0 || end !== null) && isLive) {
    throw new OptionRangeError(
      o.start !== undefined ? 'start' : 'end',
      'given only for files and other seekable, non-live sources',
      o.start ?? o.end,
    );
  }
  if (o.sync !== undefined && typeof o.sync !== 'boolean') throw new OptionTypeError('sync', 'a boolean', o.sync);

  let reconnect: NormalizedOptions['reconnect'] = null;
  if (o.reconnect !== undefined && o.reconnect !== false) {
    if (source.kind !== 'uri' || !isNetworkScheme(source.scheme)) {
      throw new OptionRangeError('reconnect', 'given only with a network uri (rtsp, http, ...)', o.reconnect);
    }
    const r = o.reconnect === true ? {} : o.reconnect;
    if (typeof r !== 'object' || r === null || Array.isArray(r))
      throw new OptionTypeError('reconnect', 'a boolean or { attempts, delay }', o.reconnect);
    const rr = r as Record<string, unknown>;
    for (const key of Object.keys(rr)) {
      if (key !== 'attempts' && key !== 'delay') throw new OptionTypeError(`reconnect.${key}`, 'attempts or delay', rr[key]);
    }
    reconnect = {
      attempts: integer('reconnect.attempts', rr.attempts, 10, { min: 1, max: 1_000_000 }),
      delay: integer('reconnect.delay', rr.delay, 1000, { min: 0, max: 600_000 }),
    };
  }

  const dmabufAllocator = normalizeAllocator(o.dmabufAllocator);
  const preference = o.backend === undefined ? DEFAULTS.backend : normalizeBackend(o.backend);
  const cudaDevice = integer('cudaDevice', o.cudaDevice, 0, { min: 0, max: 1023 });
  const probes = preference === 'cpu' ? [] : env.backends(dmabufAllocator);
  const choice =
    preference === 'cpu'
      ? { backend: 'cpu' as const, skipped: [] }
      : chooseBackend(preference, probes, {
          nvidiaDecodable: source.kind === 'uri' && decoder !== 'software',
          format: output.format,
          gpuMemorySource: (source.kind === 'uri' && decoder !== 'software') || source.kind === 'pipeline',
        });
  if (choice.backend === 'cuda') {
    const devices = probes.find((b) => b.name === 'cuda')?.devices ?? [];
    if (cudaDevice >= devices.length) {
      throw new OptionRangeError('cudaDevice', `a device index below ${devices.length} (the CUDA devices here)`, cudaDevice);
    }
    if (output.format !== null && !(CUDA_FORMATS as readonly string[]).includes(output.format)) {
      throw new OptionRangeError('format', `one of ${CUDA_FORMATS.join(', ')} with the cuda backend`, output.format);
    }
    // Frames made in system memory are uploaded; frames of NVIDIA's decoders pass through it.
    output = { ...output, upload: `cudaupload cuda-device-id=${cudaDevice}` };
  } else if (o.cudaDevice !== undefined && preference !== 'auto' && !(Array.isArray(preference) && preference.includes('cuda'))) {
    throw new OptionRangeError('cudaDevice', "given only with backend 'cuda' (or a list or 'auto' that may choose it)", o.cudaDevice);
  }
  if (
    o.dmabufAllocator !== undefined &&
    preference !== 'auto' &&
    !(Array.isArray(preference) && preference.includes('dmabuf')) &&
    preference !== 'dmabuf'
  ) {
    throw new OptionRangeError(
      'dmabufAllocator',
      "given only with backend 'dmabuf' (or a list or 'auto' that may choose it)",
      o.dmabufAllocator,
    );
  }
  if (choice.backend === 'dmabuf') {
    if (output.format !== null && !(DMABUF_FORMATS as readonly string[]).includes(output.format)) {
      throw new OptionRangeError('format', `one of ${DMABUF_FORMATS.join(', ')} with the dmabuf backend`, output.format);
    }
    // Decoders and cameras rarely output these: convert (into the dma-buf) unless told otherwise.
    if (output.format === null && source.kind !== 'pipeline') output = { ...output, format: 'NV12' };
  }

  const sharedMemory = boolOrAuto('sharedMemory', o.sharedMemory, DEFAULTS.sharedMemory);
  const hasShared = typeof SharedArrayBuffer === 'function';
  if (sharedMemory === true && !hasShared) {
    throw new OptionRangeError('sharedMemory', "false or 'auto' here: SharedArrayBuffer does not exist in this context", true);
  }

  return {
    source,
    output,
    pipeline: buildSource(source, output, latency).description,
    decoder,
    latency,
    loop,
    start,
    end,
    sync: o.sync === true,
    reconnect,
    ringSize: integer('ringSize', o.ringSize, DEFAULTS.ringSize, LIMITS.ringSize),
    drop: boolOrAuto('drop', o.drop, DEFAULTS.drop),
    maxQueued: integer('maxQueued', o.maxQueued, DEFAULTS.maxQueued, LIMITS.maxQueued),
    backend: choice.backend,
    skippedBackends: choice.skipped,
    dmabufAllocator,
    cudaDevice,
    sharedMemory: sharedMemory === 'auto' ? hasShared : sharedMemory,
    statsInterval: integer('statsInterval', o.statsInterval, DEFAULTS.statsInterval, LIMITS.statsInterval),
    closeTimeout: integer('closeTimeout', o.closeTimeout, DEFAULTS.closeTimeout, LIMITS.closeTimeout),
  };
}

function normalizeDescription(value: unknown): string {
  if (typeof value !== 'string') throw new OptionTypeError('pipeline', 'a gst-launch description string', value);
  if (value.trim() === '') throw new OptionRangeError('pipeline', 'a non-empty gst-launch description', value);
  if (value.includes('\0')) throw new OptionRangeError('pipeline', 'a string without NUL characters', value);
  const pipeline = value.trim();
  if (/\bname\s*=\s*["']?(frame-source-sink|fs-src)\b/.test(pipeline)) {
    throw new FrameSourceError('ERR_PIPELINE_PARSE', "the element names 'frame-source-sink' and 'fs-src' are reserved for frame-source");
  }
  if (pipeline.endsWith('!')) {
    throw new OptionRangeError('pipeline', "a description that does not end in '!' (frame-source appends its own sink)", value);
  }
  return pipeline;
}

/** What the native side gets: flat, complete, already checked. */
export function toNativeOptions(o: NormalizedOptions): NativeOptions {
  const built = buildSource(o.source, o.output, o.latency);
  return {
    pipeline: built.description,
    sourceProps: built.sourceProps,
    sourceSetupProps: built.sourceSetupProps,
    decoder: o.decoder === 'hardware' ? 1 : o.decoder === 'software' ? 2 : 0,
    loop: o.loop,
    start: o.start,
    end: o.end ?? -1,
    sync: o.sync,
    ringSize: o.ringSize,
    // A new pool per renegotiation while frames of the old one are still held, plus copies.
    maxSlots: o.ringSize * 2 + 2,
    drop: o.drop === 'auto' ? -1 : o.drop ? 1 : 0,
    maxQueued: o.maxQueued,
    fifoPath: built.fifoPath,
    sharedMemory: o.sharedMemory,
    backend: o.backend,
    dmabufAllocator: allocatorCode(o.dmabufAllocator),
  };
}
