// A DMA-BUF frame described as Electron's sharedTexture.importSharedTexture() takes it
// (ImportSharedTextureInfo / SharedTextureImportTextureInfo). Pure functions; no Electron import:
// test/types/electron-shared-texture.ts checks assignability against the electron package's types.
import type { DmabufDescriptor } from './backends';
import { FrameSourceError } from './errors';

/** Electron's ColorSpace, restricted to what GStreamer's colorimetry names map to. */
export interface SharedTextureColorSpace {
  /** The YUV to RGB matrix ('rgb' for RGB formats). */
  matrix: 'rgb' | 'bt709' | 'smpte170m' | 'bt2020-ncl';
  /** The colour primaries. */
  primaries: 'bt709' | 'smpte170m' | 'bt2020';
  /** The transfer function. */
  transfer: 'bt709' | 'smpte170m' | 'srgb' | 'bt2020-10' | 'bt2020-12' | 'pq' | 'hlg';
  /** 'limited' (16–235) or 'full' (0–255). */
  range: 'limited' | 'full';
}

/** Exactly the shape of Electron's `ImportSharedTextureInfo` for a Linux native pixmap. */
export interface SharedTextureInfo {
  /** The frame's pixel format, in Electron's names. */
  pixelFormat: 'nv12' | 'rgba' | 'bgra';
  /** The frame's full size. */
  codedSize: {
    /** Pixels. */
    width: number;
    /** Pixels. */
    height: number;
  };
  /** The part of the frame to show: all of it. */
  visibleRect: {
    /** Pixels from the left. */
    x: number;
    /** Pixels from the top. */
    y: number;
    /** Pixels. */
    width: number;
    /** Pixels. */
    height: number;
  };
  /** From the caps' colorimetry, when Electron has names for it. */
  colorSpace?: SharedTextureColorSpace;
  /** µs */
  timestamp?: number;
  /** The DMA-BUF, as Electron imports it on Linux. */
  handle: {
    /** The planes and their layout. */
    nativePixmap: {
      /** One per plane: the fd (Electron dup()s it), its stride, offset and size in bytes. */
      planes: Array<{
        /** The dma-buf fd, valid while the frame is held. */
        fd: number;
        /** Bytes from one row to the next. */
        stride: number;
        /** Bytes from the start of the fd's memory to the plane. */
        offset: number;
        /** Bytes of the plane. */
        size: number;
      }>;
      /** The DRM format modifier, a decimal string ('0': linear). */
      modifier: string;
      /** false: frame-source cannot promise WebGPU's zero-copy import constraints. */
      supportsZeroCopyWebGpuImport: boolean;
    };
  };
}

const PIXEL_FORMATS: Record<string, SharedTextureInfo['pixelFormat']> = { NV12: 'nv12', RGBA: 'rgba', BGRA: 'bgra' };

/** GStreamer colorimetry ("bt601", "bt709", "sRGB", "bt2020", "bt2100-pq", "2:4:5:2", ...) as an Electron ColorSpace. */
export function colorSpaceOf(colorimetry: string, rgb: boolean): SharedTextureColorSpace | undefined {
  if (rgb) return { matrix: 'rgb', primaries: 'bt709', transfer: 'srgb', range: 'full' };
  // GStreamer's "range:matrix:transfer:primaries" numbers, or a name for one of those sets.
  const named: Record<string, string> = {
    bt601: '2:4:16:4',
    bt709: '2:3:5:1',
    // GStreamer's 'bt2020' has the 12-bit transfer (GST_VIDEO_TRANSFER_BT2020_12), 'bt2020-10' the 10-bit one.
    bt2020: '2:6:11:7',
    'bt2020-10': '2:6:13:7',
    'bt2100-pq': '2:6:14:7',
    'bt2100-hlg': '2:6:15:7',
  };
  const parts = (named[colorimetry] ?? colorimetry).split(':');
  if (parts.length !== 4) return undefined;
  const [range, matrix, transfer, primaries] = parts.map(Number);
  const m = ({ 3: 'bt709', 4: 'smpte170m', 6: 'bt2020-ncl' } as const)[matrix as 3 | 4 | 6];
  const t = ({ 5: 'bt709', 11: 'bt2020-12', 13: 'bt2020-10', 14: 'pq', 15: 'hlg', 16: 'smpte170m' } as const)[
    transfer as 5 | 11 | 13 | 14 | 15 | 16
  ];
  const p = ({ 1: 'bt709', 4: 'smpte170m', 7: 'bt2020' } as const)[primaries as 1 | 4 | 7];
  if (!m || !t || !p) return undefined;
  return {
    matrix: m,
    primaries: p,
    transfer: m === 'smpte170m' && t === 'bt709' ? 'smpte170m' : t,
    range: range === 1 ? 'full' : 'limited',
  };
}

export function sharedTextureInfo(
  d: DmabufDescriptor | null,
  format: { format: string; width: number; height: number; colorimetry: string },
  timestamp: number | null,
): SharedTextureInfo {
  if (!d) {
    throw new FrameSourceError(
      'ERR_NOT_IMPORTABLE',
      "toSharedTextureInfo() needs a frame of the dmabuf backend (new FrameSource({ ..., backend: 'dmabuf' }))",
    );
  }
  if (!d.importable) {
    throw new FrameSourceError(
      'ERR_NOT_IMPORTABLE',
      "this frame is plain shared memory (dmabufAllocator: 'memfd'), which no GPU imports: " +
        "use dmabufAllocator 'auto', 'dma-heap' or 'udmabuf' on a machine that has /dev/dma_heap/system or /dev/udmabuf",
    );
  }
  const pixelFormat = PIXEL_FORMATS[format.format];
  if (!pixelFormat) {
    throw new FrameSourceError('ERR_UNSUPPORTED_FORMAT', `Electron imports NV12, RGBA and BGRA shared textures, not ${format.format}`);
  }
  const info: SharedTextureInfo = {
    pixelFormat,
    codedSize: { width: format.width, height: format.height },
    visibleRect: { x: 0, y: 0, width: format.width, height: format.height },
    handle: {
      nativePixmap: {
        planes: d.planes.map((p) => ({ fd: p.fd, stride: p.stride, offset: p.offset, size: p.size })),
        modifier: d.modifier,
        supportsZeroCopyWebGpuImport: false,
      },
    },
  };
  const colorSpace = colorSpaceOf(format.colorimetry, pixelFormat !== 'nv12');
  if (colorSpace) info.colorSpace = colorSpace;
  if (timestamp !== null) info.timestamp = timestamp;
  return info;
}
