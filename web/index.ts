// frame-source/web: draw frame-source frames in a browser (a page, an Electron renderer, a worker
// with an OffscreenCanvas). Dependency-free and imports nothing from Node.
export { WebGLFrameRenderer, type WebGLRendererOptions } from './webgl';
export { drawVideoFrame, hasVideoFrame, toVideoFrame } from './video-frame';
export { planesOf, type FrameData, type FrameInit, type Plane, type PlaneLayout } from './frame-init';
export {
  colorSpaceFromColorimetry,
  parseColorimetry,
  yuvToRgb,
  yuvToRgbFor,
  yuvToRgbForColorimetry,
  type ColorPrimaries,
  type Colorimetry,
  type MatrixCoefficients,
  type TransferCharacteristics,
  type VideoColorSpaceInit,
  type YuvMatrix,
  type YuvToRgb,
} from './colorimetry';
