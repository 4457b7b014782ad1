// The TS side of the backend seam (csrc/backends/): which backends exist, what the machine can do
// (the native probes), the choice among the ones asked for, and each backend's frame descriptor.
import { FrameSourceError, OptionRangeError, OptionTypeError } from './errors';
import type { NativeBinding } from '../types/binding';

/** Where frames are handed over: CPU memory (SharedArrayBuffer slots) or a GPU-importable handle. */
export const BACKEND_NAMES = ['cpu', 'dmabuf', 'cuda', 'iosurface'] as const;
/** One of {@link BACKEND_NAMES}. */
export type BackendName = (typeof BACKEND_NAMES)[number];
/** A backend, or 'auto': the best this machine can deliver, 'cpu' last. */
export type Backend = 'auto' | BackendName;

/** How the dmabuf backend allocates frames that upstream makes in system memory. */
export const DMABUF_ALLOCATORS = ['auto', 'dma-heap', 'udmabuf', 'memfd'] as const;
/** One of {@link DMABUF_ALLOCATORS}. */
export type DmabufAllocator = (typeof DMABUF_ALLOCATORS)[number];

/** Pixel formats the dmabuf backend delivers (what Electron's sharedTexture imports). */
export const DMABUF_FORMATS = ['NV12', 'RGBA', 'BGRA'] as const;

/** A GPU the cuda backend found (also when the backend is unavailable for another reason). */
export interface CudaDevice {
  /** The CUDA device ordinal (the `cudaDevice` option). */
  index: number;
  /** The device's name, as the driver gives it. */
  name: string;
  /** Compute capability, e.g. '8.6'. */
  computeCapability: string;
  /** Bytes of device memory (0 when unknown). */
  memory: number;
}

/** Output formats the cuda backend takes (cudaupload's, within frame-source's formats). */
export const CUDA_FORMATS = ['NV12', 'I420', 'RGBA', 'BGRA'] as const;

/** What FrameSource.backends() says of one backend. */
export interface BackendInfo {
  /** The backend, as the `backend` option names it. */
  name: BackendName;
  /** Whether frames can be had through it on this machine. */
  available: boolean;
  /** Why it is not available (absent when it is). */
  reason?: string;
  /** What was found: allocator, devices. */
  detail?: string;
  /** cuda: the devices libcuda.so.1 lists. */
  devices?: CudaDevice[];
  /**
   * Present (false) when the backend is available only for frames that upstream already puts in its
   * memory: dmabuf with no allocator device, fed by elements that output DMA-BUF (VA-API, v4l2
   * decoders). Frames made in system memory (software decoders, `test`, cameras) cannot be had
   * through it, so it is not chosen for such a source.
   */
  systemMemory?: false;
}

/** One plane of a DMA-BUF frame: import `fd` at `offset` with `stride`; `size` is the plane's bytes (stride × rows). */
export interface DmabufPlane {
  /** The dma-buf file descriptor (owned by the frame: valid until release; dup() it to keep it). */
  fd: number;
  /** Bytes from the start of the fd's memory to the plane's first row. */
  offset: number;
  /** Bytes from one row to the next. */
  stride: number;
  /** Bytes of the plane (stride × rows). */
  size: number;
}

/** A frame of the dmabuf backend, as EGL/Vulkan/VA-API and Electron import it. Valid until release. */
export interface DmabufDescriptor {
  /** DRM fourcc code (e.g. 0x3231564e for NV12). */
  fourcc: number;
  /** The fourcc as text ('NV12', 'AB24' for RGBA, 'AR24' for BGRA). */
  fourccName: string;
  /** DRM format modifier as a decimal string; '0' is linear (the only layout GStreamer 1.22 describes). */
  modifier: string;
  /** False for the 'memfd' allocator: plain shared memory, mappable but not importable by a GPU. */
  importable: boolean;
  /** One entry per plane (NV12: Y, then interleaved UV). */
  planes: readonly DmabufPlane[];
}

/** One plane of a CUDA frame: at `pointer + offset`, rows `stride` bytes apart (the pitch). */
export interface CudaPlane {
  /** Bytes from `pointer` to the plane's first row. */
  offset: number;
  /** Bytes from one row to the next (the pitch). */
  stride: number;
}

/**
 * A frame of the cuda backend: device memory that stays valid (and is not reused by GStreamer's pool)
 * until the frame is released.
 */
export interface CudaDescriptor {
  /** CUDA device ordinal the memory lives on. */
  device: number;
  /** CUdeviceptr of the allocation's base (one allocation holds every plane). */
  pointer: bigint;
  /** One entry per plane. */
  planes: readonly CudaPlane[];
  /**
   * cuIpcGetMemHandle of the allocation (64 bytes): another process opens it with cuIpcOpenMemHandle
   * while the frame is held. null when the driver refused to make one.
   */
  ipcHandle: Buffer | null;
}

export interface BackendChoice {
  backend: BackendName;
  /** The backends preferred over the chosen one, and why each was not used. */
  skipped: Array<{ name: BackendName; reason: string }>;
}

const ALLOCATOR_CODES: Record<DmabufAllocator, number> = { auto: 0, 'dma-heap': 1, udmabuf: 2, memfd: 3 };

export function allocatorCode(a: DmabufAllocator): number {
  return ALLOCATOR_CODES[a];
}

/** Every known backend, probed: those not built into this binary are reported with the platform they need. */
export function probeBackends(binding: Pick<NativeBinding, 'probeBackends'>, allocator: DmabufAllocator = 'auto'): BackendInfo[] {
  const native = new Map(binding.probeBackends(allocatorCode(allocator)).map((p) => [p.name, p]));
  return BACKEND_NAMES.map((name): BackendInfo => {
    const p = native.get(name);
    if (!p) {
      const needs = name === 'iosurface' ? 'macOS only' : name === 'dmabuf' ? 'Linux only' : 'not built for this platform';
      return { name, available: false, reason: needs };
    }
    const info: BackendInfo = { name, available: p.available };
    if (p.reason) info.reason = p.reason;
    if (p.detail) info.detail = p.detail;
    if (p.available && p.systemMemory === false) info.systemMemory = false;
    if (p.devices) info.devices = p.devices.map((d) => ({ ...d }));
    return info;
  });
}

/** Checks the `backend` option: a name, 'auto', or a list of names in order of preference. */
export function normalizeBackend(value: unknown): Backend | BackendName[] {
  const names = `'auto', ${BACKEND_NAMES.map((b) => `'${b}'`).join(', ')}`;
  if (typeof value === 'string') {
    if (value === 'auto' || (BACKEND_NAMES as readonly string[]).includes(value)) return value as Backend;
    throw new OptionTypeError('backend', `one of ${names}, or a list of backends`, value);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) throw new OptionRangeError('backend', 'a non-empty list of backends', value);
    for (const v of value) {
      if (typeof v !== 'string' || !(BACKEND_NAMES as readonly string[]).includes(v)) {
        throw new OptionRangeError('backend', `a list of ${BACKEND_NAMES.map((b) => `'${b}'`).join(', ')}`, v);
      }
    }
    return [...new Set(value as BackendName[])];
  }
  throw new OptionTypeError('backend', `one of ${names}, or a list of backends`, value);
}

export function normalizeAllocator(value: unknown): DmabufAllocator {
  if (value === undefined) return 'auto';
  if (typeof value === 'string' && (DMABUF_ALLOCATORS as readonly string[]).includes(value)) return value as DmabufAllocator;
  throw new OptionRangeError('dmabufAllocator', DMABUF_ALLOCATORS.map((a) => `'${a}'`).join(', '), value);
}

/** What the choice knows of the source. */
export interface ChoiceContext {
  /** The source is decoded by decodebin and may get NVIDIA's decoders (a uri; decoder not 'software'). */
  nvidiaDecodable: boolean;
  /** The `format` option (null: the source's own). */
  format?: string | null;
  /** The source may output frames in GPU memory itself (a uri a hardware decoder may decode, a pipeline). */
  gpuMemorySource?: boolean;
}

// The output formats a GPU backend delivers ('cpu' and 'iosurface': any).
const BACKEND_FORMATS: Partial<Record<BackendName, readonly string[]>> = { dmabuf: DMABUF_FORMATS, cuda: CUDA_FORMATS };

// 'auto': GPU memory where this machine has a way to produce it, CPU slots otherwise.
const AUTO_ORDER: readonly BackendName[] = ['cuda', 'dmabuf', 'cpu'];

// The backends a preference tries, in order.
function orderOf(preference: Backend | readonly BackendName[]): readonly BackendName[] {
  return preference === 'auto' ? AUTO_ORDER : typeof preference === 'string' ? [preference] : preference;
}

/** The backends a preference would try after `chosen` (none for a single backend named alone). */
export function laterBackends(preference: Backend | readonly BackendName[], chosen: BackendName): BackendName[] {
  const order = orderOf(preference);
  const i = order.indexOf(chosen);
  return i < 0 ? [] : order.slice(i + 1);
}

/** The first available backend of the preference; throws ERR_BACKEND_UNAVAILABLE with every reason. */
export function chooseBackend(
  preference: Backend | BackendName[],
  probes: readonly BackendInfo[],
  context: ChoiceContext = { nvidiaDecodable: true },
): BackendChoice {
  const order = orderOf(preference);
  const skipped: BackendChoice['skipped'] = [];
  for (const name of order) {
    const p = probes.find((b) => b.name === name)!;
    // 'auto' takes cuda only where frames come out of NVIDIA's decoders: for frames made in system
    // memory, cudaupload would copy each one to the GPU, which nobody asked for.
    if (p.available && preference === 'auto' && name === 'cuda' && !context.nvidiaDecodable) {
      skipped.push({
        name,
        reason:
          "'auto' uses cuda only for a uri that NVIDIA's decoders decode (decoder 'auto' or 'hardware'); ask for backend: 'cuda' to upload this source's frames",
      });
      continue;
    }
    // A list or 'auto' goes on to the next backend for a format this one does not deliver; a single
    // backend asked for by name refuses the format itself (ERR_INVALID_OPTION, in options.ts).
    const formats = BACKEND_FORMATS[name];
    const byName = typeof preference === 'string' && preference !== 'auto';
    if (p.available && !byName && formats && context.format && !formats.includes(context.format)) {
      skipped.push({ name, reason: `it delivers ${formats.join(', ')}, not the format ${context.format} asked for` });
      continue;
    }
    // dmabuf with no allocator takes only frames upstream made in dma-bufs: a source whose frames are
    // made in system memory would fail at its first frame.
    if (p.available && p.systemMemory === false && context.gpuMemorySource === false) {
      skipped.push({
        name,
        reason:
          (p.detail ?? 'no allocator for frames made in system memory') +
          ": this source's frames are made in system memory (a uri with decoder 'auto' or 'hardware', or a pipeline, may get DMA-BUF frames)",
      });
      continue;
    }
    if (p.available) return { backend: name, skipped };
    skipped.push({ name, reason: p.reason ?? 'not available' });
  }
  throw new FrameSourceError(
    'ERR_BACKEND_UNAVAILABLE',
    `no backend of ${order.map((b) => `'${b}'`).join(', ')} is available here: ` +
      skipped.map((s) => `${s.name}: ${s.reason}`).join('; ') +
      ". Add 'cpu' to the list (or use backend: 'auto') to fall back to CPU memory",
  );
}

function fourccName(code: number): string {
  return String.fromCharCode(code & 0xff, (code >> 8) & 0xff, (code >> 16) & 0xff, (code >>> 24) & 0xff);
}

/** @internal the descriptor from the native frame item's handles. */
export function dmabufDescriptor(handles: { fourcc: number; importable: boolean; planes: number[] }): DmabufDescriptor {
  const planes: DmabufPlane[] = [];
  for (let i = 0; i + 3 < handles.planes.length; i += 4) {
    planes.push(
      Object.freeze({
        fd: handles.planes[i]!,
        offset: handles.planes[i + 1]!,
        stride: handles.planes[i + 2]!,
        size: handles.planes[i + 3]!,
      }),
    );
  }
  return Object.freeze({
    fourcc: handles.fourcc,
    fourccName: fourccName(handles.fourcc),
    modifier: '0',
    importable: handles.importable,
    planes: Object.freeze(planes),
  });
}

/** @internal the descriptor of a cuda frame from the native frame item's handles. */
export function cudaDescriptor(handles: {
  planes: number[];
  cuda?: { device: number; pointer: bigint; ipcHandle?: Buffer };
}): CudaDescriptor {
  const c = handles.cuda;
  if (!c) throw new Error('frame-source internal error: a cuda frame without its device memory');
  const planes: CudaPlane[] = [];
  for (let i = 0; i + 3 < handles.planes.length; i += 4) {
    planes.push(Object.freeze({ offset: handles.planes[i + 1]!, stride: handles.planes[i + 2]! }));
  }
  return Object.freeze({ device: c.device, pointer: c.pointer, planes: Object.freeze(planes), ipcHandle: c.ipcHandle ?? null });
}
