// Declarations of the native addon (csrc/). Only lib/binding.ts loads it; everything else goes
// through the typed wrappers in lib/. Methods are private (leading underscore) and flat; options
// arrive validated and normalised by lib/options.ts.

export interface NativeOptions {
  /** gst-launch description of everything upstream of frame-source's sink. */
  pipeline: string;
  /** The pool's max buffers. */
  ringSize: number;
  /** Hard limit of slots in the ring (renegotiations and copies included). */
  maxSlots: number;
  /** -1: drop when the pipeline is live; 0: never; 1: always. */
  drop: -1 | 0 | 1;
  /** Undelivered frames kept before the oldest is dropped (when dropping). */
  maxQueued: number;
  /** [name, value, ...] set on the element named "fs-src" after parsing (never parsed). */
  sourceProps: string[];
  /** [name, value, ...] set on the source uridecodebin creates, where it has the property. */
  sourceSetupProps: string[];
  /** For a decodebin "fs-src": 0 any decoder, 1 hardware only, 2 software only. */
  decoder: 0 | 1 | 2;
  /** Seek back to the start at end of stream. */
  loop: boolean;
  /** µs where playback (and each loop) starts; 0 for the beginning. */
  start: number;
  /** µs where playback stops; -1 for the end of the media. */
  end: number;
  /** The sink waits for each frame's time on the pipeline clock (real-time playback). */
  sync: boolean;
  /** A named pipe the element "fs-fd" (fdsrc) reads: opened natively without blocking. */
  fifoPath?: string;
  /** Slots are SharedArrayBuffers (false: ArrayBuffers, which can be detached). */
  sharedMemory: boolean;
  /** The backend's name in the native table. */
  backend: string;
  /** 0 auto, 1 dma-heap, 2 udmabuf, 3 memfd. */
  dmabufAllocator: number;
}

export interface NativeSlotRequest {
  /** Bytes to allocate for each slot (alignment slack included). */
  bytes: number;
  count: number;
}

export interface NativeFrameItem {
  type: 0;
  id: number;
  slot: number;
  offset: number;
  size: number;
  /** µs, or -1 when the buffer has none. */
  pts: number;
  duration: number;
  /** µs on the media's timeline (stream time: what seeks take), or -1. */
  position: number;
  sequence: number;
  copied: boolean;
  /** Set on the first frame after a flush (seek, loop). */
  discont?: true | undefined;
  /** [offset0, stride0, offset1, stride1, ...] when it differs from the format's layout. */
  layout?: number[];
  /** Frames of a GPU backend (slot is -1): planes are [fd, offset, stride, size, ...]. */
  handles?: {
    fourcc: number;
    importable: boolean;
    planes: number[];
    /** cuda frames: the allocation's device, base pointer and IPC handle (absent when refused). */
    cuda?: { device: number; pointer: bigint; ipcHandle?: Buffer };
  };
}

export interface NativeFormatItem {
  type: 1;
  id: number;
  format: string;
  width: number;
  height: number;
  fpsN: number;
  fpsD: number;
  parN: number;
  parD: number;
  size: number;
  layout: number[];
  caps: string;
  colorimetry: string;
  interlaced: boolean;
  elements: string[];
  decoder: string;
  path: 'upstream' | 'decoder' | 'copy';
  writer: string;
}

export interface NativeEosItem {
  type: 2;
}

export interface NativeMessageItem {
  type: 3 | 4;
  message: string;
  debug: string;
  source: string;
  domain: string;
  code: number;
  /** GStreamer's description of a plugin it found missing before this error ('' if none). */
  missing: string;
  /** An error's early notice, handed out ahead of queued frames; the error itself follows them. */
  early?: boolean;
}

export interface NativeLiveItem {
  type: 5;
  live: boolean;
}

/** The result of `_seek(id, ...)`: ok, its first frame comes next; else it failed (`message` '' when the stream cannot seek). */
export interface NativeSeekItem {
  type: 6;
  id: number;
  ok: boolean;
  message: string;
  /** µs of the first frame after the seek, -1 when none came (end of stream). */
  position: number;
  /** With !ok: the media's duration (µs) when the position was at or past it, else -1. */
  duration: number;
}

export interface NativeDurationItem {
  type: 7;
  /** µs, or -1 when unknown. */
  duration: number;
  seekable: boolean;
}

export type NativeItem =
  NativeFrameItem | NativeFormatItem | NativeEosItem | NativeMessageItem | NativeLiveItem | NativeSeekItem | NativeDurationItem;

export interface NativeStats {
  /** Frames that reached frame-source's sink. */
  frames: number;
  /** Of those, frames upstream wrote straight into a slot. */
  zeroCopyFrames: number;
  /** Of those, frames upstream wrote elsewhere, copied into a slot (see `Frame.copied`). */
  copiedFrames: number;
  /** Of zeroCopyFrames: those a video decoder wrote into their slot (its own copy of the picture). */
  decoderFrames: number;
  /**
   * Times a GStreamer thread woke the JavaScript thread. A source running as fast as it can wakes
   * it once per batch of up to 4 frames (while you read faster than it decodes; frames over 4 MiB,
   * such as 1080p RGBA, one by one); others once per frame.
   */
  wakes: number;
  /** Bytes those copies moved. */
  bytesCopied: number;
  /** Frames dropped because the consumer was slower than a dropping source (see the `drop` option). */
  droppedFrames: number;
  /** Frames waiting for JS to read them now. */
  queuedFrames: number;
  /** Frames handed to JS and not yet released. */
  heldFrames: number;
  /** Slots in the ring now. */
  slots: number;
  /** Slots holding a frame now: in GStreamer's pool, upstream, queued or held by JS. */
  slotsInUse: number;
  /** Bytes of memory the slots take. */
  slotBytes: number;
}

export declare class FrameSourceHandle {
  /** onWake runs on the JS thread after GStreamer's wakes (no argument), or with true when the poll (_pollAfter) is due. */
  constructor(options: NativeOptions, onWake: (polled?: boolean) => void);
  _start(): void;
  _slotRequest(): NativeSlotRequest | undefined;
  /** Returns [id0, offset0, id1, offset1, ...]: where each slot's aligned memory starts. */
  _addSlots(slots: Uint8Array[]): number[];
  _abandonSlots(): void;
  /** Slot ids retired since the last call, or undefined when none were. */
  _retired(): number[] | undefined;
  /** The Float64Array (at least 11 elements) that _next() writes plain CPU frames into. */
  _setRecord(record: Float64Array): void;
  /**
   * undefined: nothing waiting (record[10] is then 1 while JS should poll for a batch of frames).
   * -1: serve the ring first (_slotRequest, _retired). 0: a plain CPU frame, written into the
   * record as [id, slot, offset, size, pts, duration, position, sequence, copied, discont].
   * Otherwise the item (frames with their own layout or GPU handles among them).
   */
  _next(acceptFrame: boolean): NativeItem | -1 | 0 | undefined;
  /** Runs the wake callback in ms (0 to 60000) unless a wake comes first; 0 cancels. One-shot. */
  _pollAfter(ms: number): void;
  /** 0: not held (already released); 1: released; 2: released, and its slot's ArrayBuffer was detached. */
  _release(frameId: number): 0 | 1 | 2;
  _stats(): NativeStats;
  /** Upstream threads waiting now for a buffer of the ring's pools, every one being out. */
  _writersWaiting(): number;
  _close(): Promise<void>;
  /** Positions in µs; stop -1 for the end. The result comes as a NativeSeekItem with this id. */
  _seek(id: number, position: number, stop: number, rate: number, accurate: boolean): void;
  _pause(paused: boolean): void;
  /** While paused: the sink prerolls the next frame, which arrives as a frame item. */
  _step(): void;
  /** Copies a held frame's bytes into target on a worker thread; resolves with the byte count. */
  _download(frameId: number, target: Uint8Array): Promise<number>;
  /** After _close() did not finish in time: resolves it now, leaving stuck threads behind. */
  _abandon(): boolean;
}

export interface NativeDevice {
  name: string;
  deviceClass: string;
  path: string;
  api: string;
  caps: string;
}

export interface NativeBinding {
  uriSchemeSupported(scheme: string): boolean;
  hardwareDecoders(): string[];
  listDevices(): Promise<NativeDevice[]>;
  gstreamerVersion: { major: number; minor: number; micro: number };
  slotAlignment: number;
  elementExists(name: string): boolean;
  /** Every backend built into this binary, probed; dmabufAllocator as in NativeOptions. */
  probeBackends(dmabufAllocator: number): Array<{
    name: string;
    available: boolean;
    reason: string;
    detail: string;
    /** false: only frames upstream puts in the backend's memory (dmabuf with no allocator). */
    systemMemory: boolean;
    devices?: Array<{ index: number; name: string; computeCapability: string; memory: number }>;
  }>;
  FrameSourceHandle: typeof FrameSourceHandle;
  /**
   * Test-only diagnostics: the objects GStreamer's leaks tracer counts as alive, or null when the
   * process was not started with GST_TRACERS=leaks. Not part of the public API.
   */
  _liveObjects(): Array<{ type: string; address: string }> | null;
  /** Test-only: detaches the ArrayBuffer under a Uint8Array, freeing its memory. */
  _detachForTest(view: Uint8Array): void;
}
