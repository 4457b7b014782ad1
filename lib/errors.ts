/**
 * Every error frame-source throws or rejects with carries a stable `code`. The README's
 * troubleshooting table lists each one with its fix.
 */
export type ErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_PIPELINE_PARSE'
  | 'ERR_MISSING_ELEMENT'
  | 'ERR_NOT_NEGOTIATED'
  | 'ERR_PIPELINE'
  | 'ERR_UNSUPPORTED_URI'
  | 'ERR_FILE_NOT_FOUND'
  | 'ERR_UNSUPPORTED_MEDIA'
  | 'ERR_MISSING_PLUGIN'
  | 'ERR_CONNECTION'
  | 'ERR_CAMERA_NOT_FOUND'
  | 'ERR_CAMERA_BUSY'
  | 'ERR_NO_HARDWARE_DECODER'
  | 'ERR_RING_EXHAUSTED'
  | 'ERR_FRAME_RELEASED'
  | 'ERR_OUT_OF_MEMORY'
  | 'ERR_UNSUPPORTED_FORMAT'
  | 'ERR_BACKEND_UNAVAILABLE'
  | 'ERR_CLOSE_TIMEOUT'
  | 'ERR_SLOT_DETACHED'
  | 'ERR_NOT_IMPORTABLE'
  | 'ERR_NO_CPU_MEMORY'
  | 'ERR_BINDING_LOAD'
  | 'ERR_GSTREAMER_MISSING'
  | 'ERR_GSTREAMER_VERSION'
  | 'ERR_INTERNAL'
  | 'ERR_NOT_SEEKABLE'
  | 'ERR_SEEK_SUPERSEDED'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_NOT_PAUSED'
  | 'ERR_CLOSED';

/** The codes a running pipeline fails with (PipelineError's `code`). */
export type PipelineErrorCode =
  | 'ERR_PIPELINE'
  | 'ERR_NOT_NEGOTIATED'
  | 'ERR_MISSING_PLUGIN'
  | 'ERR_UNSUPPORTED_MEDIA'
  | 'ERR_CAMERA_BUSY'
  | 'ERR_CAMERA_NOT_FOUND'
  | 'ERR_CONNECTION'
  | 'ERR_FILE_NOT_FOUND'
  | 'ERR_OUT_OF_MEMORY'
  | 'ERR_OUT_OF_RANGE';

/**
 * The base class. `err instanceof FrameSourceError` is also true for OptionTypeError,
 * OptionRangeError and PositionRangeError (which extend TypeError and RangeError), so one check
 * catches every error frame-source makes; use isFrameSourceError() to get the union that
 * `switch (err.code)` narrows.
 */
export class FrameSourceError<C extends ErrorCode = ErrorCode> extends Error {
  /** What went wrong: one of the stable {@link ErrorCode}s (test this, not the message). */
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FrameSourceError';
    this.code = code;
  }

  /**
   * `instanceof`: subclasses as usual; FrameSourceError itself also matches OptionTypeError,
   * OptionRangeError and PositionRangeError, so one check catches every error frame-source makes.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return (
      this === FrameSourceError &&
      (value instanceof OptionTypeError || value instanceof OptionRangeError || value instanceof PositionRangeError)
    );
  }
}

/** An option had the wrong type (or an unknown key was given). */
export class OptionTypeError extends TypeError {
  /** Always 'ERR_INVALID_OPTION'. */
  readonly code = 'ERR_INVALID_OPTION' as const;
  constructor(
    /** The option's name, with its path for nested ones (e.g. 'reconnect.delay'). */
    readonly option: string,
    /** What the option accepts, in words. */
    readonly expected: string,
    /** The value that was given. */
    readonly received: unknown,
  ) {
    super(`option '${option}' must be ${expected}; received ${describe(received)}`);
    this.name = 'OptionTypeError';
  }
}

/** An option had the right type but a value outside what is allowed. */
export class OptionRangeError extends RangeError {
  /** Always 'ERR_INVALID_OPTION'. */
  readonly code = 'ERR_INVALID_OPTION' as const;
  constructor(
    /** The option's name, with its path for nested ones (e.g. 'test.width'). */
    readonly option: string,
    /** What the option accepts, in words. */
    readonly expected: string,
    /** The value that was given. */
    readonly received: unknown,
  ) {
    super(`option '${option}' must be ${expected}; received ${describe(received)}`);
    this.name = 'OptionRangeError';
  }
}

/** A position (seek target, playback rate) outside what the source allows. */
export class PositionRangeError extends RangeError {
  /** Always 'ERR_OUT_OF_RANGE'. */
  readonly code = 'ERR_OUT_OF_RANGE' as const;
  constructor(
    /** The argument or property ('position', 'rate', 'frames'). */
    readonly argument: string,
    /** What was expected, in words. */
    readonly expected: string,
    /** What was given. */
    readonly received: unknown,
  ) {
    super(`${argument} must be ${expected}; received ${describe(received)}`);
    this.name = 'PositionRangeError';
  }
}

/** The pipeline description names elements that are not installed. */
export class MissingElementError extends FrameSourceError<'ERR_MISSING_ELEMENT'> {
  /** Debian packages that usually provide the missing elements ([] when none is known). */
  readonly packages: string[];
  constructor(
    /** The element names GStreamer could not find. */
    readonly elements: string[],
  ) {
    const known = elements.map(debianPackageFor).filter((p): p is string => p !== undefined);
    const packages = [...new Set(known)];
    const fedora = [...new Set(packages.map((p) => FEDORA_PACKAGES[p] ?? p))];
    const fix =
      packages.length > 0
        ? `On Debian/Ubuntu: apt-get install ${packages.join(' ')}; Fedora: dnf install ${fedora.join(' ')}; macOS: brew install gstreamer`
        : `Check the spelling (gst-inspect-1.0 lists what is installed), or install ` +
          `gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav`;
    super('ERR_MISSING_ELEMENT', `GStreamer element${elements.length > 1 ? 's' : ''} not found: ${elements.join(', ')}. ${fix}`);
    this.packages = packages;
    this.name = 'MissingElementError';
  }
}

/** A GStreamer error message from the running pipeline (GStreamer's text and debug string). */
export class PipelineError extends FrameSourceError<PipelineErrorCode> {
  constructor(
    code: PipelineErrorCode,
    message: string,
    /** GStreamer's debug string: file, function and details. */
    readonly debug: string,
    /** Name of the element that posted the error. */
    readonly element: string,
    /** GError domain (e.g. 'gst-stream-error-quark'). */
    readonly domain: string,
    /** GError code within `domain` (e.g. GST_STREAM_ERROR_DECODE). */
    readonly gstCode: number,
  ) {
    super(code, message);
    this.name = 'PipelineError';
  }
}

/**
 * Every error frame-source throws, rejects with or emits, as one union discriminated by `code`:
 * `switch (err.code) { case 'ERR_MISSING_ELEMENT': err.elements ... }` type-checks.
 */
export type AnyFrameSourceError =
  | MissingElementError
  | PipelineError
  | OptionTypeError
  | OptionRangeError
  | PositionRangeError
  | FrameSourceError<Exclude<ErrorCode, 'ERR_MISSING_ELEMENT' | 'ERR_INVALID_OPTION'>>;

/** Narrows a caught value to AnyFrameSourceError (a `catch` clause gives you `unknown`). */
export function isFrameSourceError(value: unknown): value is AnyFrameSourceError {
  return value instanceof FrameSourceError;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'function') return 'a function';
  return `an object`;
}

// Which Debian package usually provides an element. Prefixes first, then exact names.
const PACKAGE_PREFIXES: Array<[string, string]> = [
  ['avdec_', 'gstreamer1.0-libav'],
  ['avenc_', 'gstreamer1.0-libav'],
  ['avdemux_', 'gstreamer1.0-libav'],
  ['vaapi', 'gstreamer1.0-vaapi'],
  ['nvh26', 'gstreamer1.0-plugins-bad'],
  ['gl', 'gstreamer1.0-gl'],
  ['v4l2', 'gstreamer1.0-plugins-good'],
  ['rtp', 'gstreamer1.0-plugins-good'],
  ['rtsp', 'gstreamer1.0-plugins-good'],
  ['x264', 'gstreamer1.0-plugins-ugly'],
];
const PACKAGE_BY_ELEMENT: Record<string, string> = {
  videotestsrc: 'gstreamer1.0-plugins-base',
  videoconvert: 'gstreamer1.0-plugins-base',
  videoscale: 'gstreamer1.0-plugins-base',
  videorate: 'gstreamer1.0-plugins-base',
  decodebin: 'gstreamer1.0-plugins-base',
  uridecodebin: 'gstreamer1.0-plugins-base',
  uridecodebin3: 'gstreamer1.0-plugins-base',
  playbin: 'gstreamer1.0-plugins-base',
  appsink: 'gstreamer1.0-plugins-base',
  appsrc: 'gstreamer1.0-plugins-base',
  theoradec: 'gstreamer1.0-plugins-base',
  oggdemux: 'gstreamer1.0-plugins-base',
  audiotestsrc: 'gstreamer1.0-plugins-base',
  identity: 'libgstreamer1.0-0',
  queue: 'libgstreamer1.0-0',
  queue2: 'libgstreamer1.0-0',
  capsfilter: 'libgstreamer1.0-0',
  filesrc: 'libgstreamer1.0-0',
  fakesrc: 'libgstreamer1.0-0',
  tee: 'libgstreamer1.0-0',
  qtdemux: 'gstreamer1.0-plugins-good',
  matroskademux: 'gstreamer1.0-plugins-good',
  souphttpsrc: 'gstreamer1.0-plugins-good',
  vp8dec: 'gstreamer1.0-plugins-good',
  vp9dec: 'gstreamer1.0-plugins-good',
  jpegdec: 'gstreamer1.0-plugins-good',
  pngdec: 'gstreamer1.0-plugins-good',
  udpsrc: 'gstreamer1.0-plugins-good',
  flvdemux: 'gstreamer1.0-plugins-good',
  avidemux: 'gstreamer1.0-plugins-good',
  multifilesrc: 'gstreamer1.0-plugins-good',
  h264parse: 'gstreamer1.0-plugins-bad',
  h265parse: 'gstreamer1.0-plugins-bad',
  vp9parse: 'gstreamer1.0-plugins-bad',
  av1parse: 'gstreamer1.0-plugins-bad',
  dav1ddec: 'gstreamer1.0-plugins-bad',
  mpeg2dec: 'gstreamer1.0-plugins-ugly',
};

// Debian package -> the Fedora package with the same plugins.
const FEDORA_PACKAGES: Record<string, string> = {
  'libgstreamer1.0-0': 'gstreamer1',
  'gstreamer1.0-plugins-base': 'gstreamer1-plugins-base',
  'gstreamer1.0-plugins-good': 'gstreamer1-plugins-good',
  'gstreamer1.0-plugins-bad': 'gstreamer1-plugins-bad-free',
  'gstreamer1.0-plugins-ugly': 'gstreamer1-plugins-ugly-free',
  'gstreamer1.0-libav': 'gstreamer1-libav',
  'gstreamer1.0-vaapi': 'gstreamer1-vaapi',
  'gstreamer1.0-gl': 'gstreamer1-plugins-base',
};

/** The Debian package that usually provides `element`, if frame-source knows it. */
export function debianPackageFor(element: string): string | undefined {
  const exact = PACKAGE_BY_ELEMENT[element];
  if (exact) return exact;
  for (const [prefix, pkg] of PACKAGE_PREFIXES) if (element.startsWith(prefix)) return pkg;
  return undefined;
}
