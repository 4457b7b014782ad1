// What the browser module draws: a frame's bytes and the plain description that goes with them.
// frame-source's frame.toFrameInit() gives exactly this, and it survives postMessage, IPC and
// JSON, so the bytes can come from a worker, Electron's main process or a WebSocket.
import type { VideoColorSpaceInit } from './colorimetry';

export interface PlaneLayout {
  /** Byte offset of the plane's first row in the data. */
  offset: number;
  /** Bytes from one row to the next (padding included). */
  stride: number;
}

export interface FrameInit {
  /** 'RGBA', 'RGBX', 'BGRA', 'BGRX', 'I420', 'NV12' (and 'GRAY8' for the WebGL renderer). */
  format: string;
  codedWidth: number;
  codedHeight: number;
  /** One entry per plane; tightly packed planes when left out. */
  layout?: readonly PlaneLayout[];
  colorSpace?: VideoColorSpaceInit;
  /**
   * GStreamer's colorimetry ('bt709', '2:6:11:7', ...): when given, the WebGL renderer converts YUV
   * by it rather than by colorSpace, which cannot name BT.2020.
   */
  colorimetry?: string;
  displayWidth?: number;
  displayHeight?: number;
  /** µs */
  timestamp?: number;
  /** µs */
  duration?: number;
}

/** Frame bytes: a typed array or DataView (over an ArrayBuffer or a SharedArrayBuffer), or a buffer. */
export type FrameData = ArrayBufferView | ArrayBuffer | SharedArrayBuffer;

export function asBytes(data: FrameData): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

interface PlaneShape {
  /** Bytes of one texel in this plane. */
  bytesPerTexel: number;
  /** Horizontal and vertical subsampling. */
  sub: number;
}

const PLANES: Record<string, PlaneShape[]> = {
  RGBA: [{ bytesPerTexel: 4, sub: 1 }],
  RGBX: [{ bytesPerTexel: 4, sub: 1 }],
  BGRA: [{ bytesPerTexel: 4, sub: 1 }],
  BGRX: [{ bytesPerTexel: 4, sub: 1 }],
  GRAY8: [{ bytesPerTexel: 1, sub: 1 }],
  I420: [
    { bytesPerTexel: 1, sub: 1 },
    { bytesPerTexel: 1, sub: 2 },
    { bytesPerTexel: 1, sub: 2 },
  ],
  NV12: [
    { bytesPerTexel: 1, sub: 1 },
    { bytesPerTexel: 2, sub: 2 },
  ],
};

export interface Plane {
  offset: number;
  stride: number;
  /** Texels per row and rows. */
  width: number;
  height: number;
  bytesPerTexel: number;
}

/** The error for a format this module does not draw, naming those it does. */
export function cannotDraw(format: string): Error {
  return new Error(`frame-source/web cannot draw ${format} frames; ask for one of ${Object.keys(PLANES).join(', ')}`);
}

/** Each plane's place and size, from the layout (or the tight default). Throws on what cannot be drawn. */
export function planesOf(init: FrameInit, byteLength: number): Plane[] {
  // Own properties only: 'toString' is no format.
  const shapes = Object.prototype.hasOwnProperty.call(PLANES, init.format) ? PLANES[init.format] : undefined;
  if (!shapes) throw cannotDraw(init.format);
  const w = init.codedWidth;
  const h = init.codedHeight;
  // WebGL turns a negative or NaN size or offset into a GL error and draws nothing (the canvas keeps
  // the last frame), without an exception: refuse them here, as VideoFrame does.
  const count = (name: string, value: unknown, min: number): void => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new RangeError(`${name} of a ${init.format} frame must be an integer of at least ${min}; got ${String(value)}`);
    }
  };
  count('codedWidth', w, 1);
  count('codedHeight', h, 1);
  if (init.displayWidth !== undefined) count('displayWidth', init.displayWidth, 1);
  if (init.displayHeight !== undefined) count('displayHeight', init.displayHeight, 1);
  let next = 0;
  const planes = shapes.map((shape, i): Plane => {
    const width = Math.ceil(w / shape.sub);
    const height = Math.ceil(h / shape.sub);
    const given = init.layout?.[i];
    const stride = given?.stride ?? width * shape.bytesPerTexel;
    const offset = given?.offset ?? next;
    count(`plane ${i}'s stride`, stride, 0);
    count(`plane ${i}'s offset`, offset, 0);
    next = offset + stride * height;
    return { offset, stride, width, height, bytesPerTexel: shape.bytesPerTexel };
  });
  for (const [i, p] of planes.entries()) {
    const end = p.offset + p.stride * (p.height - 1) + p.width * p.bytesPerTexel;
    if (p.stride < p.width * p.bytesPerTexel || end > byteLength) {
      throw new RangeError(
        `plane ${i} of a ${w}x${h} ${init.format} frame (offset ${p.offset}, stride ${p.stride}) does not fit in ${byteLength} bytes`,
      );
    }
  }
  return planes;
}
