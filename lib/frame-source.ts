// FrameSource: the public class. Owns the state machine (open, closing, closed) and the JS side of
// the ring (slot memory, frames handed out); the native handle is a flat set of operations.
// Everything here runs on the JS thread; the native side wakes it through a thread-safe function.
import { EventEmitter } from 'node:events';
import { loadBinding } from './binding';
import { FrameSourceError, MissingElementError, PipelineError } from './errors';
import { Frame } from './frame';
import { layoutFromPairs, toVideoFormat, type VideoFormat } from './formats';
import { normalizeOptions, toNativeOptions, type FrameSourceOptions, type NormalizedOptions } from './options';
import type { FrameSourceHandle, NativeFrameItem, NativeMessageItem, NativeStats } from '../types/binding';

const asyncDisposeSymbol: typeof Symbol.asyncDispose = (Symbol.asyncDispose ??
  Symbol.for('nodejs.asyncDispose')) as typeof Symbol.asyncDispose;

export type FrameSourceState = 'open' | 'closing' | 'closed';

export interface FrameSourceStats extends NativeStats {
  /** Frames handed to JS (by the iterator or read()). */
  deliveredFrames: number;
  /** Kept frames that were garbage-collected unreleased, and so returned to the ring. */
  gcReleasedFrames: number;
  /** 'shared': frames are SharedArrayBuffer views (postable to workers); 'arraybuffer': the fallback. */
  memory: 'shared' | 'arraybuffer';
  /** Whether GStreamer reported the pipeline as live. */
  live: boolean;
}

export interface FrameSourceEvents {
  /** Caps were negotiated, or changed mid-stream. Frames after it carry the new geometry. */
  format: [format: VideoFormat];
  /** The pipeline reached its end; the iterator ends after the frames before it. */
  eos: [];
  /** A pipeline error. Only emitted when listened to; the iterator rejects with it either way. */
  error: [error: Error];
  /** A GStreamer warning; the pipeline goes on. */
  warning: [warning: PipelineError];
  /** Every `statsInterval` ms. */
  stats: [stats: FrameSourceStats];
}

interface Reader {
  resolve(frame: Frame | null): void;
  reject(err: Error): void;
  kept: boolean;
}

const ITEM_FRAME = 0;
const ITEM_FORMAT = 1;
const ITEM_EOS = 2;
const ITEM_ERROR = 3;
const ITEM_WARNING = 4;
const ITEM_LIVE = 5;
const GST_CORE_ERROR_NEGOTIATION = 7;

function toPipelineError(item: NativeMessageItem): PipelineError {
  const negotiation =
    (item.domain === 'gst-core-error-quark' && item.code === GST_CORE_ERROR_NEGOTIATION) ||
    /not-negotiated/.test(item.debug);
  const where = item.source ? ` (from ${item.source})` : '';
  return new PipelineError(
    negotiation ? 'ERR_NOT_NEGOTIATED' : 'ERR_PIPELINE',
    `${item.message}${where}`,
    item.debug,
    item.source,
    item.domain,
    item.code,
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

export class FrameSource extends EventEmitter implements AsyncIterable<Frame> {
  /** The options in force, defaults filled in. */
  readonly options: Readonly<NormalizedOptions>;

  #handle: FrameSourceHandle;
  #state: FrameSourceState = 'open';
  #slots = new Map<number, { buffer: ArrayBufferLike; offset: number }>();
  #format: VideoFormat | null = null;
  #readers: Reader[] = [];
  #ended = false;
  #error: Error | null = null;
  #closing: Promise<void> | null = null;
  #registry: FinalizationRegistry<number>;
  #delivered = 0;
  #held = 0;
  #gcReleased = 0;
  #live = false;
  #statsTimer: ReturnType<typeof setInterval> | null = null;
  #releaseFrame = (frame: Frame): void => {
    this.#registry.unregister(frame);
    if (this.#handle._release(frame.id)) this.#held--;
  };

  constructor(options?: FrameSourceOptions) {
    super();
    this.options = Object.freeze(normalizeOptions(options));
    const binding = loadBinding();
    try {
      this.#handle = new binding.FrameSourceHandle(toNativeOptions(this.options), () => this.#onWake());
    } catch (err) {
      throw toConstructError(err);
    }
    // Registered on each frame's data view: while you hold frame.data, the slot stays yours.
    this.#registry = new FinalizationRegistry((id: number) => {
      if (this.#handle._release(id)) {
        this.#held--;
        this.#gcReleased++;
      }
    });
    if (this.options.statsInterval > 0) {
      this.#statsTimer = setInterval(() => {
        if (this.#state === 'open') this.emit('stats', this.stats);
      }, this.options.statsInterval);
      this.#statsTimer.unref();
    }
    this.#handle._start();
  }

  get state(): FrameSourceState {
    return this.#state;
  }

  /** The format negotiated most recently, or null before the first one. */
  get format(): VideoFormat | null {
    return this.#format;
  }

  get stats(): FrameSourceStats {
    return {
      ...this.#handle._stats(),
      deliveredFrames: this.#delivered,
      gcReleasedFrames: this.#gcReleased,
      memory: this.options.sharedMemory ? 'shared' : 'arraybuffer',
      live: this.#live,
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
    const held = this.#held;
    if (held >= this.options.ringSize) {
      return Promise.reject(
        new FrameSourceError(
          'ERR_RING_EXHAUSTED',
          `you hold all ${held} frames of the ring (ringSize ${this.options.ringSize}), so no new frame can arrive: ` +
            `release() some, or raise the ringSize option`,
        ),
      );
    }
    return new Promise<Frame | null>((resolve, reject) => {
      this.#readers.push({ resolve, reject, kept });
      this.#onWake();
    });
  }

  /**
   * Iterates over frames. Each frame is released when the loop asks for the next one unless you
   * call frame.keep(). Leaving the loop (break, return, throw) closes the source.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Frame> {
    let current: Frame | null = null;
    const dropCurrent = (): void => {
      if (current && !current.kept) current.release();
      current = null;
    };
    const iterator: AsyncIterableIterator<Frame> = {
      next: async () => {
        dropCurrent();
        const frame = await this.#read(false);
        if (!frame) return { done: true, value: undefined };
        current = frame;
        return { done: false, value: frame };
      },
      return: async () => {
        dropCurrent();
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
      for (const r of this.#readers.splice(0)) r.resolve(null);
      this.#closing = this.#handle._close().then(() => {
        this.#state = 'closed';
        this.#slots.clear();
      });
    }
    return this.#closing;
  }

  async [asyncDisposeSymbol](): Promise<void> {
    await this.close();
  }

  // Called on the JS thread by the native side when items are waiting, and by readers.
  #onWake(): void {
    if (this.#state !== 'open') return;
    try {
      this.#serviceSlots();
      this.#pump();
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #allocate(bytes: number): Uint8Array {
    return this.options.sharedMemory ? new Uint8Array(new SharedArrayBuffer(bytes)) : new Uint8Array(new ArrayBuffer(bytes));
  }

  // The streaming thread is waiting for these: answer before anything else.
  #serviceSlots(): void {
    const h = this.#handle;
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
        this.#slots.set(placed[i]!, { buffer: arrays[i / 2]!.buffer, offset: placed[i + 1]! });
      }
    }
    for (const id of h._retired()) this.#slots.delete(id);
  }

  #pump(): void {
    const h = this.#handle;
    while (this.#state === 'open') {
      const item = h._next(this.#readers.length > 0);
      if (!item) return;
      switch (item.type) {
        case ITEM_FRAME:
          this.#deliver(item);
          break;
        case ITEM_FORMAT:
          this.#format = toVideoFormat(item);
          this.emit('format', this.#format);
          break;
        case ITEM_EOS:
          this.#ended = true;
          for (const r of this.#readers.splice(0)) r.resolve(null);
          this.emit('eos');
          void this.close();
          return;
        case ITEM_ERROR:
          this.#fail(toPipelineError(item));
          return;
        case ITEM_WARNING:
          this.emit('warning', toPipelineError(item));
          break;
        case ITEM_LIVE:
          this.#live = item.live;
          break;
      }
    }
  }

  #deliver(item: NativeFrameItem): void {
    const reader = this.#readers.shift()!;
    const slot = this.#slots.get(item.slot);
    const format = this.#format;
    if (!slot || !format) {
      this.#handle._release(item.id);
      throw new Error(`frame-source internal error: frame in unknown slot ${item.slot}`);
    }
    const data = new Uint8Array(slot.buffer, slot.offset + item.offset, item.size);
    const frame = new Frame(
      this.#releaseFrame,
      item.id,
      data,
      format,
      item.layout ? layoutFromPairs(item.layout) : format.layout,
      item.pts >= 0 ? item.pts : null,
      item.duration >= 0 ? item.duration : null,
      item.sequence,
      item.copied,
      reader.kept,
    );
    this.#registry.register(data, item.id, frame);
    this.#delivered++;
    this.#held++;
    reader.resolve(frame);
  }

  #fail(err: Error): void {
    if (this.#error || this.#state !== 'open') return;
    this.#error = err;
    for (const r of this.#readers.splice(0)) r.reject(err);
    // An 'error' event without a listener would throw from here and take the process down.
    if (this.listenerCount('error') > 0) this.emit('error', err);
    void this.close();
  }
}

// Typed events for TypeScript users.
export interface FrameSource {
  on<E extends keyof FrameSourceEvents>(event: E, listener: (...args: FrameSourceEvents[E]) => void): this;
  once<E extends keyof FrameSourceEvents>(event: E, listener: (...args: FrameSourceEvents[E]) => void): this;
  off<E extends keyof FrameSourceEvents>(event: E, listener: (...args: FrameSourceEvents[E]) => void): this;
  emit<E extends keyof FrameSourceEvents>(event: E, ...args: FrameSourceEvents[E]): boolean;
}
