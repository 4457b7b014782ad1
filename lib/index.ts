export { FrameSource } from './frame-source';
export type { CameraDevice, FrameSourceEvents, FrameSourceState, FrameSourceStats, SeekOptions } from './frame-source';
export { OUTPUT_FORMATS, TEST_PATTERNS } from './sources';
export type { Decoder, OutputFormat, OutputSpec, ReconnectOptions, SourceSpec, TestPattern, TestSourceOptions } from './sources';
export { Frame } from './frame';
export type { ColorPrimaries, MatrixCoefficients, TransferCharacteristics } from './formats';
export type {
  WebFrameInit,
  PixelFormat,
  PlaneLayout,
  VideoColorSpaceInit,
  VideoFormat,
  VideoFrameBufferInit,
  WebCodecsPixelFormat,
} from './formats';
export { isWebCodecsFormat } from './formats';
export { DEFAULT_PIPELINE, DEFAULTS, LIMITS } from './options';
export type { FrameSourceOptions, NormalizedOptions } from './options';
export { BACKEND_NAMES, CUDA_FORMATS, DMABUF_ALLOCATORS, DMABUF_FORMATS } from './backends';
export type {
  Backend,
  BackendInfo,
  BackendName,
  CudaDescriptor,
  CudaDevice,
  CudaPlane,
  DmabufAllocator,
  DmabufDescriptor,
  DmabufPlane,
} from './backends';
export type { SharedTextureColorSpace, SharedTextureInfo } from './shared-texture';
export {
  FrameSourceError,
  MissingElementError,
  OptionRangeError,
  OptionTypeError,
  PipelineError,
  PositionRangeError,
  debianPackageFor,
  isFrameSourceError,
} from './errors';
export type { AnyFrameSourceError, ErrorCode, PipelineErrorCode } from './errors';
export { gstreamerVersion } from './versions';
