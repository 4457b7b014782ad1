// Structured sources (uri, camera, test) and output shaping (format, size, rate), turned into a
// pipeline description. Only validated tokens (enum names, integers) are written into the text;
// strings from the user (a URI, a device path) are handed to the native side as properties of the
// element named "fs-src", set after parsing: no value can break out into pipeline syntax.
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FrameSourceError, OptionRangeError, OptionTypeError } from './errors';

/** The `test.pattern` values: videotestsrc's patterns, by the names gst-launch-1.0 uses. */
// prettier-ignore
export const TEST_PATTERNS = [
  'smpte', 'snow', 'black', 'white', 'red', 'green', 'blue', 'checkers-1', 'checkers-2', 'checkers-4',
  'checkers-8', 'circular', 'blink', 'smpte75', 'zone-plate', 'gamut', 'chroma-zone-plate', 'solid-color',
  'ball', 'smpte100', 'bar', 'pinwheel', 'spokes', 'gradient', 'colors', 'smpte-rp-219',
] as const;
/** One of {@link TEST_PATTERNS}. */
export type TestPattern = (typeof TEST_PATTERNS)[number];

/** Output pixel formats frame-source can be asked for. */
export const OUTPUT_FORMATS = ['RGBA', 'BGRA', 'RGBX', 'BGRX', 'I420', 'NV12', 'GRAY8'] as const;
/** One of {@link OUTPUT_FORMATS}: the `format` option. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
// prettier-ignore
const GST_FORMAT_NAME: Record<OutputFormat, string> = {
  RGBA: 'RGBA', BGRA: 'BGRA', RGBX: 'RGBx', BGRX: 'BGRx', I420: 'I420', NV12: 'NV12', GRAY8: 'GRAY8',
};

/** The `test` option: a videotestsrc pattern of a given size and rate. */
export interface TestSourceOptions {
  /** videotestsrc pattern. Default 'smpte'. */
  pattern?: TestPattern;
  /** Default 1280. */
  width?: number;
  /** Default 720. */
  height?: number;
  /** Frames per second. Default 30. */
  framerate?: number;
  /** Produce frames in real time, like a camera. Default false. */
  live?: boolean;
}

/** The `reconnect` option's object form. */
export interface ReconnectOptions {
  /** Attempts after each failure before giving up. Default 10. */
  attempts?: number;
  /** Milliseconds between attempts. Default 1000. */
  delay?: number;
}

/**
 * Which decoders a `uri` or `camera` source may use: 'auto' lets GStreamer choose by rank, 'hardware'
 * allows only hardware decoders (and fails with ERR_NO_HARDWARE_DECODER when there is none),
 * 'software' allows only software ones.
 */
export type Decoder = 'auto' | 'hardware' | 'software';

/**
 * The source a FrameSource reads, as its options were normalised ({@link NormalizedOptions.source}):
 * a gst-launch description, a URI (with its lower-case scheme), a camera (null: the default one) or a
 * test pattern with every default filled in.
 */
export type SourceSpec =
  | {
      /** The `pipeline` option, or no source option (then {@link DEFAULT_PIPELINE}). */
      kind: 'pipeline';
      /** The description, trimmed. */
      description: string;
    }
  | {
      /** The `uri` option. */
      kind: 'uri';
      /** The URI as the URL parser wrote it back. */
      uri: string;
      /** Its scheme, lower case, without the colon. */
      scheme: string;
      /** The path, when the URI names a named pipe (read through fdsrc). */
      fifo?: string;
    }
  | {
      /** The `camera` option. */
      kind: 'camera';
      /** The device path or id, or null for the default camera. */
      device: string | null;
    }
  | {
      /** The `test` option, every default filled in (see {@link TestSourceOptions}). */
      kind: 'test';
      /** The videotestsrc pattern. */
      pattern: TestPattern;
      /** Width in pixels. */
      width: number;
      /** Height in pixels. */
      height: number;
      /** Frames per second. */
      framerate: number;
      /** Whether frames come in real time. */
      live: boolean;
    };

/** The output shape asked for ({@link NormalizedOptions.output}); null where the source's own is kept. */
export interface OutputSpec {
  /** The `format` option. */
  format: OutputFormat | null;
  /** The `width` option. */
  width: number | null;
  /** The `height` option. */
  height: number | null;
  /** The `framerate` option. */
  framerate: number | null;
  /**
   * An element that moves frames into a GPU backend's memory, last before the sink (the cuda
   * backend: `cudaupload cuda-device-id=N`, which passes frames already in CUDA memory through).
   */
  upload?: string;
}

/** What the native side needs to build the pipeline. */
export interface BuiltSource {
  description: string;
  sourceProps: string[];
  sourceSetupProps: string[];
  /** A named pipe to read through fdsrc (opened natively without blocking). */
  fifoPath?: string;
}

const NETWORK_SCHEMES = new Set(['http', 'https', 'rtsp', 'rtsps', 'rtspt', 'rtspu', 'rtmp', 'srt', 'udp', 'rtp']);

export function isNetworkScheme(scheme: string): boolean {
  return NETWORK_SCHEMES.has(scheme);
}

const SCHEME_PACKAGES: Record<string, string> = {
  http: 'gstreamer1.0-plugins-good',
  https: 'gstreamer1.0-plugins-good',
  rtsp: 'gstreamer1.0-plugins-good',
  rtsps: 'gstreamer1.0-plugins-good',
  rtspt: 'gstreamer1.0-plugins-good',
  srt: 'gstreamer1.0-plugins-bad',
  rtmp: 'gstreamer1.0-plugins-bad',
};

function positiveInt(name: string, value: unknown, fallback: number | null, max = 16384): number | null {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new OptionTypeError(name, 'an integer', value);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new OptionRangeError(name, `an integer from 1 to ${max}`, value);
  return value;
}

/** The slowest frame rate frame-source takes: one frame every 1000 s (0 would mean "variable"). */
export const MIN_FRAMERATE = 0.001;

function rate(name: string, value: unknown, fallback: number | null): number | null {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new OptionTypeError(name, 'a number of frames per second', value);
  if (!(value >= MIN_FRAMERATE && value <= 1000)) {
    throw new OptionRangeError(name, `frames per second from ${MIN_FRAMERATE} to 1000`, value);
  }
  return value;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** A frame rate as a GStreamer fraction: 30 -> 30/1, 29.97 -> 30000/1001, 0.5 -> 1/2. Never 0/n. */
export function fraction(fps: number): string {
  if (Number.isInteger(fps)) return `${fps}/1`;
  const ntsc = Math.round(fps * 1.001);
  if (ntsc >= 1 && Math.abs(ntsc / 1.001 - fps) < 0.005) return `${ntsc * 1000}/1001`;
  const n = Math.max(1, Math.round(fps * 1000));
  const d = gcd(n, 1000);
  return `${n / d}/${1000 / d}`;
}

export function normalizeTest(value: unknown): SourceSpec {
  const o = value === true ? {} : value;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new OptionTypeError('test', 'true or an object', value);
  const t = o as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    if (!['pattern', 'width', 'height', 'framerate', 'live'].includes(key)) {
      throw new OptionTypeError(`test.${key}`, 'one of pattern, width, height, framerate, live', t[key]);
    }
  }
  if (t.pattern !== undefined && !TEST_PATTERNS.includes(t.pattern as TestPattern)) {
    throw new OptionRangeError('test.pattern', `one of ${TEST_PATTERNS.join(', ')}`, t.pattern);
  }
  if (t.live !== undefined && typeof t.live !== 'boolean') throw new OptionTypeError('test.live', 'a boolean', t.live);
  return {
    kind: 'test',
    pattern: (t.pattern as TestPattern | undefined) ?? 'smpte',
    width: positiveInt('test.width', t.width, 1280)!,
    height: positiveInt('test.height', t.height, 720)!,
    framerate: rate('test.framerate', t.framerate, 30)!,
    live: t.live ?? false,
  };
}

export function normalizeUri(value: unknown, schemeSupported: (scheme: string) => boolean): SourceSpec {
  if (typeof value !== 'string') throw new OptionTypeError('uri', 'a URI string', value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OptionRangeError('uri', "an absolute URI such as 'file:///videos/a.mp4' or 'rtsp://host/stream'", value);
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  if (!schemeSupported(scheme)) {
    const pkg = SCHEME_PACKAGES[scheme];
    throw new FrameSourceError(
      'ERR_UNSUPPORTED_URI',
      `no installed GStreamer element reads '${scheme}://' URIs` +
        (pkg ? `; on Debian/Ubuntu: apt-get install ${pkg}` : '; check the scheme (file, http, https, rtsp, ...)'),
    );
  }
  if (scheme === 'file') {
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch (err) {
      // A host other than localhost, or a malformed %-escape (e.g. a printf-style '%d').
      const why = (err as { code?: string }).code === 'ERR_INVALID_FILE_URL_HOST' ? 'with no host' : 'with valid %-escapes';
      throw new OptionRangeError('uri', `a file URI of this machine, ${why} (file:///path; write '%' as '%25')`, value);
    }
    let stat;
    try {
      stat = statSync(path);
    } catch {
      throw new FrameSourceError('ERR_FILE_NOT_FOUND', `no such file: ${path}`);
    }
    // A named pipe is read through fdsrc, which polls: filesrc would block in a read that close()
    // cannot interrupt while nobody writes to the pipe.
    if (stat.isFIFO()) return { kind: 'uri', uri: url.href, scheme, fifo: path };
  }
  return { kind: 'uri', uri: url.href, scheme };
}

export function normalizeCamera(value: unknown, platform: NodeJS.Platform = process.platform): SourceSpec {
  if (value === true) {
    if (platform === 'linux' && !existsSync('/dev/video0')) {
      throw new FrameSourceError(
        'ERR_CAMERA_NOT_FOUND',
        'no camera found: /dev/video0 does not exist (FrameSource.devices() lists the cameras GStreamer sees)',
      );
    }
    return { kind: 'camera', device: null };
  }
  if (typeof value !== 'string' || value === '') throw new OptionTypeError('camera', 'true or a device path / id', value);
  if (platform === 'linux' && !existsSync(value)) {
    throw new FrameSourceError('ERR_CAMERA_NOT_FOUND', `no camera at ${value} (FrameSource.devices() lists the cameras GStreamer sees)`);
  }
  return { kind: 'camera', device: value };
}

export function normalizeOutput(o: Record<string, unknown>): OutputSpec {
  if (o.format !== undefined && !OUTPUT_FORMATS.includes(o.format as OutputFormat)) {
    throw new OptionRangeError('format', `one of ${OUTPUT_FORMATS.join(', ')}`, o.format);
  }
  return {
    format: (o.format as OutputFormat | undefined) ?? null,
    width: positiveInt('width', o.width, null),
    height: positiveInt('height', o.height, null),
    framerate: rate('framerate', o.framerate, null),
  };
}

function cameraElement(platform: NodeJS.Platform): { element: string; deviceProp: string } {
  switch (platform) {
    case 'darwin':
      return { element: 'avfvideosrc', deviceProp: 'device-index' };
    case 'win32':
      return { element: 'mfvideosrc', deviceProp: 'device-path' };
    default:
      return { element: 'v4l2src', deviceProp: 'device' };
  }
}

/** The description and out-of-band properties for a source and output shape. */
export function buildSource(source: SourceSpec, output: OutputSpec, latency: number | null, platform = process.platform): BuiltSource {
  const sourceProps: string[] = [];
  const sourceSetupProps: string[] = [];
  let fifoPath: string | undefined;
  let head: string;
  switch (source.kind) {
    case 'pipeline':
      head = source.description;
      break;
    case 'uri':
      if (source.fifo !== undefined) {
        head = 'fdsrc name=fs-fd ! decodebin name=fs-src';
        fifoPath = source.fifo;
        break;
      }
      head = 'uridecodebin name=fs-src';
      sourceProps.push('uri', source.uri);
      if (latency !== null) sourceSetupProps.push('latency', String(latency));
      break;
    case 'camera': {
      const { element, deviceProp } = cameraElement(platform);
      // Cameras give raw video or MJPEG: decodebin passes the first through and decodes the second.
      head = `${element} name=fs-src ! decodebin`;
      if (source.device !== null) sourceProps.push(deviceProp, source.device);
      break;
    }
    case 'test':
      // Without a format videotestsrc would pick its first, 16-bit ABGR64: default to RGBA, as the
      // default source does.
      head =
        `videotestsrc name=fs-src pattern=${source.pattern} is-live=${source.live}` +
        ` ! video/x-raw,${output.format === null ? 'format=RGBA,' : ''}width=${source.width},height=${source.height},framerate=${fraction(source.framerate)}`;
      break;
  }
  // Conversion, scaling and rate elements only when the output asks for them.
  const elements: string[] = [];
  const caps: string[] = [];
  if (output.format !== null || source.kind === 'camera') elements.push('videoconvert');
  if (output.width !== null || output.height !== null) elements.push('videoscale');
  if (output.framerate !== null) elements.push('videorate');
  if (output.format !== null) caps.push(`format=${GST_FORMAT_NAME[output.format]}`);
  if (output.width !== null) caps.push(`width=${output.width}`);
  if (output.height !== null) caps.push(`height=${output.height}`);
  // With one side given, square pixels make videoscale derive the other from the display aspect
  // ratio (otherwise it keeps the other side and stretches the pixels instead).
  if ((output.width === null) !== (output.height === null)) caps.push('pixel-aspect-ratio=1/1');
  if (output.framerate !== null) caps.push(`framerate=${fraction(output.framerate)}`);
  let description = head;
  for (const e of elements) description += ` ! ${e}`;
  if (caps.length > 0) description += ` ! video/x-raw,${caps.join(',')}`;
  if (output.upload) description += ` ! ${output.upload}`;
  return fifoPath === undefined ? { description, sourceProps, sourceSetupProps } : { description, sourceProps, sourceSetupProps, fifoPath };
}
