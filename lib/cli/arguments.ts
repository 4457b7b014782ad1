// The command line: flags and positionals in, a checked CliOptions out, or a UsageError that says
// what to type instead. Nothing here starts a pipeline; FrameSource validates the source options.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const HELP = `Usage: frame-source [PIPELINE... | FILE | URI] [options]

Opens a video source, pulls frames through frame-source (zero-copy into SharedArrayBuffer
slots) and reports what arrived: a live progress line on a terminal, a plain line every second
otherwise, and a summary at the end.

Source (at most one; default: the built-in 1280x720 RGBA test pattern):
  PIPELINE...            a gst-launch description, as gst-launch-1.0 takes it:
                         frame-source videotestsrc ! video/x-raw,format=I420 ! videoconvert
  FILE or URI            one argument naming a file, or a URI with a scheme: frame-source clip.mp4
                         (one word with a '.' or '/' and no '!' or '=' is a file, even a missing one)
  --pipeline DESC        the same description as one argument (quote it)
  --uri URI              a file or network URI (file:///..., rtsp://..., https://...) or a file path
                         (relative paths are from the current directory)
  --camera [DEVICE]      the default camera, or the one named (e.g. /dev/video0)
  --test [PATTERN]       GStreamer's test source (RGBA unless --format), optionally with a pattern
                         (smpte, ball, snow, red, ...)
  --live                 with --test: produce frames at the frame rate, like a camera

Output (any source; a converter, scaler or rate adapter is added only when asked for):
  --format FMT           pixel format, e.g. RGBA, BGRA, I420, NV12
  --width N, --height N  frame size in pixels
  --framerate N          frames per second

Run:
  --frames N             stop after N frames (default: run to the end of the stream, or Ctrl-C)
  --duration SECONDS     stop after this long
  --start SECONDS        files: start playing here, from 0 (decimals allowed: 0.0, 2.5)
  --end SECONDS          files: stop playing here (end of stream), later than --start
  --ring-size N          frame slots in the ring (FrameSource's ringSize)
  --loop                 start again at the end of a file (timestamps go on growing)
  --json                 print one JSON object on stdout: the summary, or {"error": {...}} on failure
                         (progress, and --serve's address, still go to stderr)
  --quiet                no progress display
  --snapshot FILE.png    write the first frame as a PNG image (its folder must exist)
  --snapshot-every N     with --snapshot: write every Nth frame instead, as FILE-0000.png,
                         FILE-0001.png, ... (the number counts snapshots, from 0)
  --serve [PORT]         show the source live in a browser: serves a page on http://HOST:PORT/
                         (default port 8080; 0 picks a free one) until Ctrl-C, the end of the
                         source, --frames or --duration; --snapshot works here too
  --host ADDR            with --serve: the address to listen on (default 127.0.0.1, this machine only)
  -h, --help             this text
  -v, --version          versions of frame-source, GStreamer and Node.js

Colour: snapshots and the --serve page convert I420 and NV12 with the frame's own colorimetry
(BT.601 or BT.709 matrix, BT.2020 for snapshots; limited or full range), as WebCodecs and the
browser module do. RGBA, RGBX, BGRA, BGRX and GRAY8 are written as they are. Other formats: end
the pipeline with '! videoconvert ! video/x-raw,format=RGBA'. Encoding a snapshot runs on the JS
thread and shows up in the CPU figures.

Figures:
  fps          frames delivered to JS per second of wall time
  zero-copy    frames GStreamer wrote straight into a slot, as a share of frames reaching the sink
  cpu/frame    process CPU time (user + system, GStreamer's threads included) per delivered frame
  lag          live sources only: how much later than the best frame so far a frame reached JS,
               judged by its timestamp: (arrival - timestamp) - min over frames of (arrival -
               timestamp), p50 and p99. It measures delivery delay added on top of the fastest
               frame, not the absolute capture-to-JS latency (JS cannot see the sink's clock).
               The progress line and the summary compute it the same way.
  dropped      frames dropped because the consumer was slower than a live source

Exit status: 0 on success, 1 when the pipeline fails, 2 for bad flags or options.
`;

/** A mistake on the command line: exit status 2. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}

export interface ServeOptions {
  port: number;
  host: string;
}

export interface CliOptions {
  sourceOptions: Record<string, unknown>;
  frames: number;
  durationMs: number;
  json: boolean;
  quiet: boolean;
  snapshot: string | null;
  snapshotEvery: number;
  serve: ServeOptions | null;
}

const FLAGS = {
  pipeline: { type: 'string' },
  uri: { type: 'string' },
  camera: { type: 'string' },
  test: { type: 'string' },
  live: { type: 'boolean' },
  format: { type: 'string' },
  width: { type: 'string' },
  height: { type: 'string' },
  framerate: { type: 'string' },
  frames: { type: 'string' },
  duration: { type: 'string' },
  start: { type: 'string' },
  end: { type: 'string' },
  'ring-size': { type: 'string' },
  loop: { type: 'boolean' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  snapshot: { type: 'string' },
  'snapshot-every': { type: 'string' },
  serve: { type: 'string' },
  host: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

const OPTIONAL_VALUE = new Set(['--camera', '--test', '--serve']);
const DEFAULT_PORT = 8080;

// parseArgs has no optional values: `--camera`, `--test` and `--serve` alone become `--flag=`.
// A following argument that is a flag, or (for --serve) not a number, is not their value.
function withOptionalValues(argv: string[]): string[] {
  return argv.map((arg, i) => {
    if (!OPTIONAL_VALUE.has(arg)) return arg;
    const next = argv[i + 1];
    const isValue = next !== undefined && !next.startsWith('-') && (arg !== '--serve' || /^\d+$/.test(next));
    return isValue ? arg : `${arg}=`;
  });
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The known flag closest to a mistyped one, or null when none is close. */
export function suggestFlag(given: string): string | null {
  const name = given.replace(/^-+/, '').split('=')[0]!;
  let best: string | null = null;
  let bestScore = Infinity;
  for (const flag of Object.keys(FLAGS)) {
    const score = flag.startsWith(name) && name.length >= 3 ? 0.5 : editDistance(name, flag);
    if (score < bestScore || (score === bestScore && best !== null && flag.length < best.length)) {
      best = flag;
      bestScore = score;
    }
  }
  return best !== null && bestScore <= Math.max(1, Math.floor(name.length / 4) + 1) ? `--${best}` : null;
}

function positiveInteger(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${flag} needs a positive integer; got '${value}'`);
  return Number(value);
}

function positiveNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} needs a positive number; got '${value}'`);
  return n;
}

// The most seconds --start and --end take: FrameSource's start and end are whole µs up to 2^53-1.
const MAX_PLAYBACK_SECONDS = Math.floor(Number.MAX_SAFE_INTEGER / 1e6);

// A position in the media: 0 and decimals such as 0.0 or 2.5 are all fine.
function playbackSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > MAX_PLAYBACK_SECONDS)
    throw new UsageError(`--${flag} needs a number of seconds from 0 to ${MAX_PLAYBACK_SECONDS}; got '${value}'`);
  return n;
}

/**
 * FrameSource's complaint about the start or end option, told as the --start or --end flag in
 * seconds; any other error as it is.
 */
export function inFlagTerms(err: unknown): unknown {
  const e = err as { code?: string; option?: unknown; expected?: unknown; received?: unknown };
  if (e.code !== 'ERR_INVALID_OPTION' || (e.option !== 'start' && e.option !== 'end') || typeof e.received !== 'number') return err;
  return new UsageError(`--${e.option} must be ${String(e.expected)}; got ${e.received / 1e6} s`);
}

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const WINDOWS_PATH = /^[a-z]:[\\/]/i;

/** A URI as given, or a file path (relative to the current directory) as a file:// URI. */
export function toUri(value: string, cwd = process.cwd()): string {
  if (SCHEME.test(value) && !WINDOWS_PATH.test(value)) return value;
  return pathToFileURL(path.resolve(cwd, value)).href;
}

// One positional that names a file or carries a scheme is a URI; anything else is a pipeline. So is
// one that looks like a path, a '.' or a '/' and no '!', '=' or space, even when it names nothing:
// no element name has those, and a mistyped clip.mp4 gets "no such file", not a parse error.
function positionalSource(positionals: string[]): { pipeline: string } | { uri: string } {
  if (positionals.length === 1) {
    const only = positionals[0]!;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(only)) return { uri: only };
    if (!/[!=]/.test(only) && existsSync(only) && statSync(only).isFile()) return { uri: toUri(only) };
    if (!/[!=\s]/.test(only) && /[./\\]/.test(only)) return { uri: toUri(only) };
  }
  return { pipeline: positionals.join(' ') };
}

// Fail before the pipeline starts, not after the first frame.
function checkWritable(file: string): void {
  const dir = path.dirname(path.resolve(file));
  let why: string | null = null;
  try {
    if (!statSync(dir).isDirectory()) why = 'it is not a folder';
    else accessSync(dir, constants.W_OK);
  } catch (err) {
    why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (err as Error).message;
  }
  if (why !== null) throw new UsageError(`--snapshot cannot write into ${dir}: ${why}`);
}

export function parseCli(argv: string[]): CliOptions | 'help' | 'version' {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: withOptionalValues(argv), options: FLAGS, strict: true, allowPositionals: true }));
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const flag = /'(-[^']*)'/.exec(e.message)?.[1] ?? '';
      const suggestion = suggestFlag(flag);
      throw new UsageError(`Unknown option '${flag}'${suggestion ? `; did you mean ${suggestion}?` : ''}`);
    }
    throw new UsageError(e.message);
  }
  if (values.help) return 'help';
  if (values.version) return 'version';

  const o: Record<string, unknown> = {};
  if (positionals.length > 0) Object.assign(o, positionalSource(positionals));
  const flagged = (['pipeline', 'uri', 'camera', 'test'] as const).filter((k) => values[k] !== undefined);
  const sources = [...(positionals.length > 0 ? [`'${positionals.join(' ')}'`] : []), ...flagged.map((s) => `--${s}`)];
  if (sources.length > 1) throw new UsageError(`give one source, not ${sources.join(' and ')}`);
  if (values.live && values.test === undefined) throw new UsageError('--live goes with --test');

  if (values.pipeline !== undefined) o.pipeline = values.pipeline;
  if (values.uri !== undefined) o.uri = toUri(values.uri);
  if (values.camera !== undefined) o.camera = values.camera === '' ? true : values.camera;
  if (values.test !== undefined) {
    const test: Record<string, unknown> = {};
    if (values.test !== '') test.pattern = values.test;
    if (values.live) test.live = true;
    o.test = test;
  }
  if (values.format !== undefined) o.format = values.format;
  const width = positiveInteger('width', values.width);
  const height = positiveInteger('height', values.height);
  const framerate = positiveNumber('framerate', values.framerate);
  if (width !== undefined) o.width = width;
  if (height !== undefined) o.height = height;
  if (framerate !== undefined) o.framerate = framerate;
  // Seconds on the command line, µs in FrameSource's options. The range is checked here, so that a
  // mistake is told in the seconds the user typed; FrameSource's own message would give µs.
  const start = playbackSeconds('start', values.start);
  const end = playbackSeconds('end', values.end);
  if (start !== undefined) o.start = Math.round(start * 1e6);
  if (end !== undefined) {
    if (Math.round(end * 1e6) <= Math.round((start ?? 0) * 1e6))
      throw new UsageError(`--end must be later than --start (${values.start ?? 0} s), by 0.000001 s at least; got '${values.end}'`);
    o.end = Math.round(end * 1e6);
  }
  const ringSize = positiveInteger('ring-size', values['ring-size']);
  if (ringSize !== undefined) o.ringSize = ringSize;
  if (values.loop) o.loop = true;

  const every = positiveInteger('snapshot-every', values['snapshot-every']);
  if (every !== undefined && values.snapshot === undefined) throw new UsageError('--snapshot-every needs --snapshot FILE.png');
  if (values.snapshot !== undefined) {
    if (!/\.png$/i.test(values.snapshot))
      throw new UsageError(`--snapshot writes PNG: give a file name ending in .png; got '${values.snapshot}'`);
    checkWritable(values.snapshot);
  }

  let serve: ServeOptions | null = null;
  if (values.serve !== undefined) {
    const port = values.serve === '' ? DEFAULT_PORT : Number(values.serve);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--serve needs a port from 0 to 65535; got '${values.serve}'`);
    serve = { port, host: values.host ?? '127.0.0.1' };
  } else if (values.host !== undefined) {
    throw new UsageError('--host goes with --serve');
  }

  const duration = positiveNumber('duration', values.duration);
  return {
    sourceOptions: o,
    frames: positiveInteger('frames', values.frames) ?? Infinity,
    durationMs: duration === undefined ? Infinity : duration * 1000,
    json: values.json ?? false,
    quiet: values.quiet ?? false,
    snapshot: values.snapshot ?? null,
    snapshotEvery: every ?? 0,
    serve,
  };
}

/** Whether the raw arguments ask for JSON output (for errors before or during parsing). */
export function wantsJson(argv: string[]): boolean {
  return argv.includes('--json');
}
