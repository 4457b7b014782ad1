// The WebCodecs path: the browser converts and draws. Needs a secure context (https, localhost,
// 127.0.0.1, or an Electron app). Chromium honours the colour space for BT.601; for BT.709 its
// own conversion is a few levels off on saturated colours, where WebGLFrameRenderer is exact.
import { parseColorimetry } from './colorimetry';
import { asBytes, planesOf, type FrameData, type FrameInit } from './frame-init';

/** Whether WebCodecs' VideoFrame exists here. */
export function hasVideoFrame(): boolean {
  return typeof VideoFrame === 'function';
}

/** A VideoFrame over the frame's bytes (copied by the browser); close() it when done. */
export function toVideoFrame(data: FrameData, init: FrameInit): VideoFrame {
  const bytes = asBytes(data);
  const layout = planesOf(init, bytes.byteLength).map((p) => ({ offset: p.offset, stride: p.stride }));
  const bufferInit: VideoFrameBufferInit = {
    format: init.format as VideoPixelFormat,
    codedWidth: init.codedWidth,
    codedHeight: init.codedHeight,
    timestamp: init.timestamp ?? 0,
    layout,
  };
  if (init.duration !== undefined) bufferInit.duration = init.duration;
  if (init.colorSpace) bufferInit.colorSpace = init.colorSpace;
  // BT.2020's matrix, which TypeScript's DOM library cannot name but Chromium takes; its primaries are
  // left out (Chromium would map them to sRGB's, which GStreamer's conversion does not).
  if (!init.colorSpace?.matrix && parseColorimetry(init.colorimetry ?? '')?.matrix === 6) {
    bufferInit.colorSpace = { ...init.colorSpace, matrix: 'bt2020-ncl' as VideoMatrixCoefficients };
  }
  if (init.displayWidth !== undefined) bufferInit.displayWidth = init.displayWidth;
  if (init.displayHeight !== undefined) bufferInit.displayHeight = init.displayHeight;
  return new VideoFrame(bytes, bufferInit);
}

/** Draws a frame on a 2D canvas through VideoFrame, resizing the canvas to the frame's display size. */
export function drawVideoFrame(ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D, data: FrameData, init: FrameInit): void {
  const frame = toVideoFrame(data, init);
  try {
    const { canvas } = ctx;
    if (canvas.width !== frame.displayWidth) canvas.width = frame.displayWidth;
    if (canvas.height !== frame.displayHeight) canvas.height = frame.displayHeight;
    ctx.drawImage(frame, 0, 0);
  } finally {
    frame.close();
  }
}
