// One video frame: a view on the slot GStreamer wrote it into. The slot is not reused until the
// frame is released (explicitly, by the iterator moving on, or by garbage collection).
import type { BackendName, CudaDescriptor, DmabufDescriptor } from './backends';
import { FrameSourceError } from './errors';
import { sharedTextureInfo, type SharedTextureInfo } from './shared-texture';
import {
  frameInit,
  videoFrameInit,
  type WebFrameInit,
  type PixelFormat,
  type PlaneLayout,
  type VideoFormat,
  type VideoFrameBufferInit,
} from './formats';

// Node defines Symbol.dispose as Symbol.for('nodejs.dispose') where the engine lacks it; other realms
// (vm contexts, some Electron versions) may not have it at all.
const disposeSymbol: typeof Symbol.dispose = Symbol.dispose ?? Symbol.for('nodejs.dispose');

/** @internal how a frame gives its slot back. */
export type ReleaseFn = (frame: Frame) => void;

/** @internal what FrameSource makes a frame of (Frame.create). */
export interface FrameInit {
  release: ReleaseFn;
  id: number;
  /** null for a GPU backend's frame (it has handles instead). */
  data: Uint8Array | null;
  videoFormat: VideoFormat;
  layout: readonly PlaneLayout[];
  timestamp: number | null;
  duration: number | null;
  sequence: number;
  copied: boolean;
  kept: boolean;
  backend?: BackendName;
  dmabuf?: DmabufDescriptor | null;
  cuda?: CudaDescriptor | null;
  /** How a GPU frame's bytes are copied to CPU memory; a CPU frame's are its data. */
  download?: (() => Promise<Uint8Array>) | null;
  discontinuity?: boolean;
}

/**
 * One video frame, as a view on the slot GStreamer wrote it into: nothing was copied to make it.
 * The slot is not reused until the frame is released: by {@link Frame.release}, by `using`, by the
 * `for await` loop moving on (unless {@link Frame.keep} was called), or when it is garbage-collected.
 */
export class Frame {
  /** What was negotiated for this frame. */
  readonly videoFormat: VideoFormat;
  /** The pixel format (`videoFormat.format`). */
  readonly format: PixelFormat;
  /** Width in pixels (`videoFormat.width`). */
  readonly width: number;
  /** Height in pixels (`videoFormat.height`). */
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
  /**
   * True on the first frame after a jump in the stream (a seek, a loop back to the start): reset
   * whatever state you keep between consecutive frames. `sequence` goes on counting.
   */
  readonly discontinuity: boolean;
  /** @internal */
  readonly id: number;
  /** Where this frame lives: 'cpu' (data), 'dmabuf' (dmabuf), ... */
  readonly backend: BackendName;

  #data: Uint8Array | null;
  #dmabuf: DmabufDescriptor | null;
  #cuda: CudaDescriptor | null;
  #download: (() => Promise<Uint8Array>) | null;
  #release: ReleaseFn;
  #kept: boolean;
  #released = false;

  /** @internal frames are made by FrameSource only (Frame.create). */
  static create(init: FrameInit): Frame {
    return new Frame(init);
  }

  private constructor(init: FrameInit) {
    this.#release = init.release;
    this.id = init.id;
    this.#data = init.data;
    this.videoFormat = init.videoFormat;
    this.format = init.videoFormat.format;
    this.width = init.videoFormat.width;
    this.height = init.videoFormat.height;
    this.layout = init.layout;
    this.timestamp = init.timestamp;
    this.duration = init.duration;
    this.sequence = init.sequence;
    this.copied = init.copied;
    this.discontinuity = init.discontinuity ?? false;
    this.#kept = init.kept;
    this.backend = init.backend ?? 'cpu';
    this.#dmabuf = init.dmabuf ?? null;
    this.#cuda = init.cuda ?? null;
    this.#download = init.download ?? null;
  }

  #checkHeld(): void {
    if (this.#released) {
      throw new FrameSourceError('ERR_FRAME_RELEASED', `frame ${this.sequence} was released: its memory may hold another frame now`);
    }
  }

  /**
   * The dma-buf file descriptors of a frame of the dmabuf backend (null for other backends), valid
   * until release. Throws after release().
   */
  get dmabuf(): DmabufDescriptor | null {
    this.#checkHeld();
    return this.#dmabuf;
  }

  /**
   * The device memory of a frame of the cuda backend (null for other backends): the allocation's
   * base pointer, each plane's offset and pitch, the device, and an IPC handle another process can
   * open. Valid until release: GStreamer's pool does not reuse the memory before. Throws after release().
   */
  get cuda(): CudaDescriptor | null {
    this.#checkHeld();
    return this.#cuda;
  }

  /**
   * The frame's bytes in CPU memory: `data` itself for a CPU frame; for a GPU backend's frame, one
   * copy into a new SharedArrayBuffer (ArrayBuffer with sharedMemory: false), made off the JS
   * thread and counted in stats.downloadedFrames. Laid out as `layout` says. Rejects with
   * ERR_FRAME_RELEASED after release(), with ERR_OUT_OF_MEMORY when the copy's memory cannot be
   * allocated (the frame stays held and can be downloaded again), and with ERR_NO_CPU_MEMORY when
   * the CPU cannot map the frame's memory (e.g. a tiled or protected hardware dma-buf; the frame
   * stays held, its handles valid).
   */
  download(): Promise<Uint8Array> {
    try {
      this.#checkHeld();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    // A CPU frame's bytes are its data: no copy.
    return this.#download ? this.#download() : Promise.resolve(this.data);
  }

  /**
   * The frame as Electron's `sharedTexture.importSharedTexture({ textureInfo })` takes it (Linux,
   * dmabuf backend, NV12/RGBA/BGRA). Keep the frame until the import's `allReferencesReleased`
   * fires, then release() it. Throws ERR_NOT_IMPORTABLE for other backends and memfd frames.
   */
  toSharedTextureInfo(): SharedTextureInfo {
    this.#checkHeld();
    return sharedTextureInfo(this.#dmabuf, this.videoFormat, this.timestamp);
  }

  /**
   * The frame's bytes: a Uint8Array over a SharedArrayBuffer (or an ArrayBuffer where
   * SharedArrayBuffer does not exist) that GStreamer wrote into. Throws after release().
   */
  get data(): Uint8Array {
    this.#checkHeld();
    if (!this.#data) {
      throw new FrameSourceError(
        'ERR_NO_CPU_MEMORY',
        `this frame is in ${this.backend} memory, not in CPU memory: read frame.${this.backend} for its handles, ` +
          `or await frame.download() for its bytes`,
      );
    }
    return this.#data;
  }

  /** Whether release() was called (or the frame was disposed); `data` throws then. */
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
    // Keeping a frame already given back would promise memory GStreamer may be writing again.
    if (this.#released)
      throw new FrameSourceError('ERR_FRAME_RELEASED', 'keep() on a frame already released: its slot may hold another frame by now');
    this.#kept = true;
    return this;
  }

  /** Gives the slot back to GStreamer. Idempotent. Do not touch `data` afterwards. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#release(this);
  }

  /** For `using frame = await source.read()`: releases the frame. */
  [disposeSymbol](): void {
    this.release();
  }

  /**
   * A WebCodecs VideoFrameBufferInit: `new VideoFrame(frame.data, frame.toVideoFrameInit())`.
   * Throws ERR_UNSUPPORTED_FORMAT for a format WebCodecs lacks (GRAY8: see toFrameInit()).
   */
  toVideoFrameInit(): VideoFrameBufferInit {
    return videoFrameInit(this.videoFormat, this.layout, this.timestamp, this.duration);
  }

  /**
   * What `frame-source/web` draws, sent along with the bytes: `renderer.draw(bytes, init)`. The same
   * as toVideoFrameInit() for the formats WebCodecs has, and also GRAY8 (the WebGL renderer's).
   * Throws ERR_UNSUPPORTED_FORMAT for a format the renderer does not draw.
   */
  toFrameInit(): WebFrameInit {
    return frameInit(this.videoFormat, this.layout, this.timestamp, this.duration);
  }
}
