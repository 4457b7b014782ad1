// The one place options are validated and given their defaults. The native side trusts what it
// gets from here. Every rejection names the option, what was expected and what was given.
import { FrameSourceError, OptionRangeError, OptionTypeError } from './errors';
import type { NativeOptions } from '../types/binding';

/** Where frames are handed over. Only 'cpu' exists in this release; 'auto' picks the best available. */
export type Backend = 'auto' | 'cpu' | 'dmabuf' | 'cuda' | 'iosurface';

export interface FrameSourceOptions {
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
  /** Frame hand-over backend. Default 'auto' (which is 'cpu' in this release). */
  backend?: Backend;
  /**
   * Allocate frame memory as SharedArrayBuffer (shareable with workers). `'auto'` (default) uses it
   * where it exists and otherwise falls back to ArrayBuffer (still zero-copy, not shareable), as in
   * an Electron renderer that is not cross-origin isolated. `false` forces ArrayBuffer.
   */
  sharedMemory?: boolean | 'auto';
  /** Emit a 'stats' event every this many milliseconds; 0 (default) never. */
  statsInterval?: number;
}

export interface NormalizedOptions {
  pipeline: string;
  ringSize: number;
  drop: boolean | 'auto';
  maxQueued: number;
  backend: 'cpu';
  sharedMemory: boolean;
  statsInterval: number;
}

/** The built-in source used when no source option is given: a 720p RGBA test pattern. */
export const DEFAULT_PIPELINE = 'videotestsrc pattern=smpte ! video/x-raw,format=RGBA,width=1280,height=720,framerate=30/1';

export const DEFAULTS = {
  ringSize: 8,
  drop: 'auto' as const,
  maxQueued: 1,
  backend: 'auto' as const,
  sharedMemory: 'auto' as const,
  statsInterval: 0,
};

export const LIMITS = {
  ringSize: { min: 2, max: 64 },
  maxQueued: { min: 1, max: 64 },
  statsInterval: { min: 0, max: 3_600_000 },
};

const KNOWN_KEYS = new Set(['pipeline', 'ringSize', 'drop', 'maxQueued', 'backend', 'sharedMemory', 'statsInterval']);
const BACKENDS: readonly Backend[] = ['auto', 'cpu', 'dmabuf', 'cuda', 'iosurface'];

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

export function normalizeOptions(options: unknown): NormalizedOptions {
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

  let pipeline = DEFAULT_PIPELINE;
  if (o.pipeline !== undefined) {
    if (typeof o.pipeline !== 'string') throw new OptionTypeError('pipeline', 'a gst-launch description string', o.pipeline);
    if (o.pipeline.trim() === '') throw new OptionRangeError('pipeline', 'a non-empty gst-launch description', o.pipeline);
    if (o.pipeline.includes('\0')) throw new OptionRangeError('pipeline', 'a string without NUL characters', o.pipeline);
    pipeline = o.pipeline.trim();
    if (/\bname\s*=\s*["']?frame-source-sink\b/.test(pipeline)) {
      throw new FrameSourceError('ERR_PIPELINE_PARSE', "the element name 'frame-source-sink' is reserved for frame-source's own sink");
    }
    if (pipeline.endsWith('!')) {
      throw new OptionRangeError('pipeline', "a description that does not end in '!' (frame-source appends its own sink)", o.pipeline);
    }
  }

  let backend: Backend = DEFAULTS.backend;
  if (o.backend !== undefined) {
    if (typeof o.backend !== 'string' || !BACKENDS.includes(o.backend as Backend)) {
      throw new OptionTypeError('backend', `one of ${BACKENDS.map((b) => `'${b}'`).join(', ')}`, o.backend);
    }
    backend = o.backend as Backend;
  }
  if (backend !== 'auto' && backend !== 'cpu') {
    throw new FrameSourceError(
      'ERR_BACKEND_UNAVAILABLE',
      `backend '${backend}' is not available in this build of frame-source; use 'cpu' or 'auto'`,
    );
  }

  const sharedMemory = boolOrAuto('sharedMemory', o.sharedMemory, DEFAULTS.sharedMemory);
  const hasShared = typeof SharedArrayBuffer === 'function';
  if (sharedMemory === true && !hasShared) {
    throw new OptionRangeError('sharedMemory', "false or 'auto' here: SharedArrayBuffer does not exist in this context", true);
  }

  return {
    pipeline,
    ringSize: integer('ringSize', o.ringSize, DEFAULTS.ringSize, LIMITS.ringSize),
    drop: boolOrAuto('drop', o.drop, DEFAULTS.drop),
    maxQueued: integer('maxQueued', o.maxQueued, DEFAULTS.maxQueued, LIMITS.maxQueued),
    backend: 'cpu',
    sharedMemory: sharedMemory === 'auto' ? hasShared : sharedMemory,
    statsInterval: integer('statsInterval', o.statsInterval, DEFAULTS.statsInterval, LIMITS.statsInterval),
  };
}

/** What the native side gets: flat, complete, already checked. */
export function toNativeOptions(o: NormalizedOptions): NativeOptions {
  return {
    pipeline: o.pipeline,
    ringSize: o.ringSize,
    // A new pool per renegotiation while frames of the old one are still held, plus copies.
    maxSlots: o.ringSize * 2 + 2,
    drop: o.drop === 'auto' ? -1 : o.drop ? 1 : 0,
    maxQueued: o.maxQueued,
  };
}
