// Pixel formats and plane layouts: GStreamer's names mapped to WebCodecs' where one exists.
import { FrameSourceError } from './errors';
import { colorSpaceFromColorimetry, type VideoColorSpaceInit } from '../web/colorimetry';
import type { NativeFormatItem } from '../types/binding';

export type { ColorPrimaries, MatrixCoefficients, TransferCharacteristics, VideoColorSpaceInit } from '../web/colorimetry';

/** The pixel formats WebCodecs' VideoFrame takes (TypeScript's DOM `VideoPixelFormat`). */
export type WebCodecsPixelFormat = 'RGBA' | 'BGRA' | 'RGBX' | 'BGRX' | 'I420' | 'I420A' | 'I422' | 'I444' | 'NV12';

/** WebCodecs VideoPixelFormat names, or GStreamer's name for formats WebCodecs lacks (GRAY8, YUY2, ...). */
export type PixelFormat = 'RGBA' | 'BGRA' | 'RGBX' | 'BGRX' | 'I420' | 'I420A' | 'I422' | 'I444' | 'NV12' | (string & Record<never, never>);

/** Where one plane starts in `frame.data`, and the bytes from one row to the next (WebCodecs PlaneLayout). */
export interface PlaneLayout {
  /** Byte offset of the plane's first row. */
  offset: number;
  /** Bytes from the start of one row to the start of the next. */
  stride: number;
}

/** What was negotiated: emitted as the 'format' event, and carried by every frame. */
export interface VideoFormat {
  /** WebCodecs name where one exists, else GStreamer's. */
  format: PixelFormat;
  /** GStreamer's name (e.g. 'RGBx' for WebCodecs' 'RGBX'). */
  gstFormat: string;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Frames per second, or null for variable/unknown rates. */
  framerate: number | null;
  /** Width of a pixel over its height (1 for square pixels). */
  pixelAspectRatio: number;
  /** Bytes of one frame with the default layout. */
  byteLength: number;
  /** Plane offsets and strides of the default layout (a frame may carry its own: {@link Frame.layout}). */
  layout: readonly PlaneLayout[];
  /** GStreamer's name for the colorimetry (e.g. 'bt709', 'sRGB'), or '' when it has none. */
  colorimetry: string;
  /** Whether the frames are interlaced. */
  interlaced: boolean;
  /** The negotiated caps, as GStreamer prints them. */
  caps: string;
  /** Factory names of the pipeline's elements (decoders plugged at run time included), upstream first. */
  elements: readonly string[];
  /** The video decoder in use (e.g. 'avdec_h264', 'vp8dec'), or null. */
  decoder: string | null;
  /** Where frames are handed over ('cpu', 'dmabuf', ...). */
  backend: string;
  /** Backends preferred over it, and why each was not used. */
  skippedBackends: ReadonlyArray<{
    /** The backend's name. */
    name: string;
    /** Why it was not used here. */
    reason: string;
  }>;
  /**
   * How this format's first frame reached frame-source's memory (stats count every frame):
   * 'upstream': an element (`writer`) rendered it straight into a slot; 'decoder': a software
   * decoder (`writer`, e.g. avdec_h264) copied its decoded picture into a slot, the one copy it makes
   * for any sink, none by frame-source; 'copy': upstream declined frame-source's memory and
   * frame-source copied the frame into a slot.
   */
  path: 'upstream' | 'decoder' | 'copy';
  /** Factory name of the element frame-source's memory was offered to (the one writing frames), or null. */
  writer: string | null;
}

/**
 * The init dictionary for WebCodecs' `new VideoFrame(data, init)`; assignable to the DOM library's
 * VideoFrameBufferInit. Plain data: it survives JSON and structured clone.
 */
export interface VideoFrameBufferInit {
  /** The WebCodecs pixel format. */
  format: WebCodecsPixelFormat;
  /** Width in pixels. */
  codedWidth: number;
  /** Height in pixels. */
  codedHeight: number;
  /** µs */
  timestamp: number;
  /** µs */
  duration?: number;
  /** Where each plane is in the data. */
  layout: PlaneLayout[];
  /** Display width, present when the pixels are not square. */
  displayWidth?: number;
  /** Display height, present when the pixels are not square. */
  displayHeight?: number;
  /** From the caps' colorimetry: without it, browsers draw YUV as BT.709 whatever it is. */
  colorSpace?: VideoColorSpaceInit;
}

const GST_TO_WEBCODECS: Record<string, WebCodecsPixelFormat> = {
  RGBA: 'RGBA',
  BGRA: 'BGRA',
  RGBx: 'RGBX',
  BGRx: 'BGRX',
  I420: 'I420',
  A420: 'I420A',
  Y42B: 'I422',
  Y444: 'I444',
  NV12: 'NV12',
};
const WEBCODECS_FORMATS = new Set<string>(Object.values(GST_TO_WEBCODECS));

/** Whether `format` is a WebCodecs VideoPixelFormat, so that toVideoFrameInit() works for frames in it. */
export function isWebCodecsFormat(format: string): format is WebCodecsPixelFormat {
  return WEBCODECS_FORMATS.has(format);
}

export function layoutFromPairs(pairs: readonly number[]): PlaneLayout[] {
  const out: PlaneLayout[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) out.push(Object.freeze({ offset: pairs[i]!, stride: pairs[i + 1]! }));
  return out;
}

export function toVideoFormat(
  item: NativeFormatItem,
  backend = 'cpu',
  skippedBackends: ReadonlyArray<{ name: string; reason: string }> = [],
): VideoFormat {
  return Object.freeze({
    format: GST_TO_WEBCODECS[item.format] ?? item.format,
    gstFormat: item.format,
    width: item.width,
    height: item.height,
    framerate: item.fpsN > 0 && item.fpsD > 0 ? item.fpsN / item.fpsD : null,
    pixelAspectRatio: item.parN > 0 && item.parD > 0 ? item.parN / item.parD : 1,
    byteLength: item.size,
    layout: Object.freeze(layoutFromPairs(item.layout)),
    colorimetry: item.colorimetry,
    interlaced: item.interlaced,
    caps: item.caps,
    elements: Object.freeze([...item.elements]),
    decoder: item.decoder === '' ? null : item.decoder,
    backend,
    skippedBackends: Object.freeze(skippedBackends.map((s) => Object.freeze({ ...s }))),
    path: item.path,
    writer: item.writer === '' ? null : item.writer,
  });
}

/**
 * What `frame-source/web` draws: a WebCodecs VideoFrameBufferInit whose format may also be 'GRAY8'
 * (its WebGL renderer draws that too; WebCodecs has no such pixel format). Plain data: it survives
 * postMessage, IPC and JSON.
 */
export type WebFrameInit = Omit<VideoFrameBufferInit, 'format'> & {
  /** A WebCodecs pixel format, or 'GRAY8'. */
  format: WebCodecsPixelFormat | 'GRAY8';
  /**
   * GStreamer's colorimetry (`videoFormat.colorimetry`), present when the caps have one: the WebGL
   * renderer converts YUV by it, BT.2020 included, which `colorSpace` cannot name.
   */
  colorimetry?: string;
};

/** The formats frame-source/web's WebGLFrameRenderer draws (web/frame-init.ts): what toFrameInit() takes. */
export const RENDERER_FORMATS: ReadonlySet<string> = new Set(['RGBA', 'RGBX', 'BGRA', 'BGRX', 'I420', 'NV12', 'GRAY8']);

export function videoFrameInit(
  format: VideoFormat,
  layout: readonly PlaneLayout[],
  timestamp: number | null,
  duration: number | null,
): VideoFrameBufferInit {
  if (!isWebCodecsFormat(format.format)) {
    throw new FrameSourceError(
      'ERR_UNSUPPORTED_FORMAT',
      `WebCodecs has no pixel format for GStreamer's ${format.gstFormat}; ask for one of ${[...WEBCODECS_FORMATS].join(', ')} ` +
        `(e.g. end the pipeline in '! videoconvert ! video/x-raw,format=RGBA'), or draw GRAY8 with frame-source/web (toFrameInit())`,
    );
  }
  return describeFrame(format, format.format, layout, timestamp, duration) as VideoFrameBufferInit;
}

export function frameInit(
  format: VideoFormat,
  layout: readonly PlaneLayout[],
  timestamp: number | null,
  duration: number | null,
): WebFrameInit {
  if (!RENDERER_FORMATS.has(format.format)) {
    throw new FrameSourceError(
      'ERR_UNSUPPORTED_FORMAT',
      `frame-source/web does not draw GStreamer's ${format.gstFormat}; ask for one of ${[...RENDERER_FORMATS].join(', ')} ` +
        `(e.g. end the pipeline in '! videoconvert ! video/x-raw,format=RGBA')`,
    );
  }
  const init = describeFrame(format, format.format as WebFrameInit['format'], layout, timestamp, duration);
  if (format.colorimetry !== '') init.colorimetry = format.colorimetry;
  return init;
}

function describeFrame(
  format: VideoFormat,
  pixelFormat: WebFrameInit['format'],
  layout: readonly PlaneLayout[],
  timestamp: number | null,
  duration: number | null,
): WebFrameInit {
  const init: WebFrameInit = {
    format: pixelFormat,
    codedWidth: format.width,
    codedHeight: format.height,
    timestamp: timestamp ?? 0,
    layout: layout.map((p) => ({ offset: p.offset, stride: p.stride })),
  };
  if (duration !== null) init.duration = duration;
  const colorSpace = colorSpaceFromColorimetry(format.colorimetry);
  if (Object.keys(colorSpace).length > 0) init.colorSpace = colorSpace;
  if (format.pixelAspectRatio !== 1) {
    init.displayWidth = Math.round(format.width * format.pixelAspectRatio);
    init.displayHeight = format.height;
  }
  return init;
}
