// One video frame: a view on the slot GStreamer wrote it into. The slot is not reused until the
// frame is released (explicitly, by the iterator moving on, or by garbage collection).
import { FrameSourceError } from './errors';
import { videoFrameInit, type PixelFormat, type PlaneLayout, type VideoFormat, type VideoFrameBufferInit } from './formats';

// Node defines Symbol.dispose as Symbol.for('nodejs.dispose') where the engine lacks it; other realms
// (vm contexts, some Electron versions) may not have it at all.
const disposeSymbol: typeof Symbol.dispose = (Symbol.dispose ?? Symbol.for('nodejs.dispose')) as typeof Symbol.dispose;

/** @internal how a frame gives its slot back. */
export type ReleaseFn = (frame: Frame) => void;

type FrameArgs = [
  release: ReleaseFn,
  id: number,
  data: Uint8Array,
  videoFormat: VideoFormat,
  layout: readonly PlaneLayout[],
  timestamp: number | null,
  duration: number | null,
  sequence: number,
  copied: boolean,
  kept: boolean,
];

export class Frame {
  /** What was negotiated for this frame. */
  readonly videoFormat: VideoFormat;
  readonly format: PixelFormat;
  readonly width: number;
  readonly height: number;
  /** Plane offsets and strides relative to `data` (from the buffer's GstVideoMeta when it has one). */
  readonly layout: readonly PlaneLayout[];
  /** Presentation timestamp in µs, or null when the buffer had none. With `loop`, it goes on growing across restarts. */
  readonly timestamp: number | null;
  /** Duration in µs, or null. */
  readonly duration: number | null;
  /** 0, 1, 2, ... in arrival order at the sink; a gap means frames were dropped. */
  readonly sequence: number;
  /** True when upstream ignored the pool and this frame was copied into its slot. */
  readonly copied: boolean;
  /** @internal */
  readonly id: number;

  #data: Uint8Array;
  #release: ReleaseFn;
  #kept: boolean;
  #released = false;

  /** @internal frames are made by FrameSource only (Frame.create). */
  static create(...args: FrameArgs): Frame {
    return new Frame(...args);
  }

  private constructor(...args: FrameArgs) {
    const [release, id, data, videoFormat, layout, timestamp, duration, sequence, copied, kept] = args;
    this.#release = release;
    this.id = id;
    this.#data = data;
    this.videoFormat = videoFormat;
    this.format = videoFormat.format;
    this.width = videoFormat.width;
    this.height = videoFormat.height;
    this.layout = layout;
    this.timestamp = timestamp;
    this.duration = duration;
    this.sequence = sequence;
    this.copied = copied;
    this.#kept = kept;
  }

  /**
   * The frame's bytes: a Uint8Array over a SharedArrayBuffer (or an ArrayBuffer where
   * SharedArrayBuffer does not exist) that GStreamer wrote into. Throws after release().
   */
  get data(): Uint8Array {
    if (this.#released) {
      throw new FrameSourceError('ERR_FRAME_RELEASED', `frame ${this.sequence} was released: its slot may hold another frame now`);
    }
    return this.#data;
  }

  get released(): boolean {
    return this.#released;
  }

  /** Whether the frame survives the iterator moving on (see keep()). */
  get kept(): boolean {
    return this.#kept;
  }

  /**
   * Keep this frame after the `for await` loop asks for the next one. You must then release() it
   * (or let `using` do it); one kept and forgotten is returned to the ring when garbage-collected.
   */
  keep(): this {
    this.#kept = true;
    return this;
  }

  /** Gives the slot back to GStreamer. Idempotent. Do not touch `data` afterwards. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#release(this);
  }

  [disposeSymbol](): void {
    this.release();
  }

  /** A WebCodecs VideoFrameBufferInit: `new VideoFrame(frame.data, frame.toVideoFrameInit())`. */
  toVideoFrameInit(): VideoFrameBufferInit {
    return videoFrameInit(this.videoFormat, this.layout, this.timestamp, this.duration);
  }
}
