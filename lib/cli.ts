#!/usr/bin/env node
// The `frame-source` command: the main job (open a source, pull frames, report) with a live
// progress line, PNG snapshots and a JSON summary. Runs on the JS thread only; every option that
// reaches FrameSource is validated there, not here (the CLI only parses and converts flags).
import { writeFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { PNG } from 'pngjs';
import { FrameSource } from './frame-source';
import type { Frame } from './frame';
import type { VideoFormat } from './formats';
import { gstreamerVersion } from './versions';

const HELP = `Usage: frame-source [source] [options]

Opens a video source, pulls frames through frame-source (zero-copy into SharedArrayBuffer
slots) and reports what arrived: a live progress line on a terminal, a plain line every second
otherwise, and a summary at the end.

Source (at most one; default: the built-in 1280x720 RGBA test pattern):
  --pipeline DESC        gst-launch description of everything upstream of frame-source's sink,
                         e.g. 'videotestsrc ! video/x-raw,format=RGBA,width=1920,height=1080'
  --uri URI              a file or network URI (file:///..., rtsp://..., https://...)
  --camera [DEVICE]      the default camera, or the one named (e.g. /dev/video0)
  --test [PATTERN]       GStreamer's test source, optionally with a pattern (smpte, ball, snow, red, ...)
  --live                 with --test: produce frames at the frame rate, like a camera

Output (any source; a converter, scaler or rate adapter is added only when asked for):
  --format FMT           pixel format, e.g. RGBA, BGRA, I420, NV12
  --width N, --height N  frame size in pixels
  --framerate N          frames per second

Run:
  --frames N             stop after N frames (default: run to the end of the stream, or Ctrl-C)
  --duration SECONDS     stop after this long
  --start SECONDS        files: start playing here (decimals allowed)
  --end SECONDS          files: stop playing here (end of stream)
  --ring-size N          frame slots in the ring (FrameSource's ringSize)
  --json                 print one JSON summary object on stdout (progress still goes to stderr)
  --quiet                no progress display
  --snapshot FILE.png    write the first frame as a PNG image
  --snapshot-every N     with --snapshot: write every Nth frame instead, as FILE-0000.png,
                         FILE-0001.png, ... (the number counts snapshots, from 0)
  -h, --help             this text
  -v, --version          versions of frame-source, GStreamer and Node.js

Snapshots: RGBA, RGBX, BGRA, BGRX and GRAY8 frames are written as they are; I420 and NV12 are
converted with the BT.601 limited-range formula (R = 1.164(Y-16) + 1.596(V-128),
G = 1.164(Y-16) - 0.392(U-128) - 0.813(V-128), B = 1.164(Y-16) + 2.017(U-128)). Other formats:
end the pipeline with '! videoconvert ! video/x-raw,format=RGBA'. Encoding a snapshot runs on the
JS thread and shows up in the CPU figures.

Figures:
  fps          frames delivered to JS per second of wall time
  zero-copy    frames GStreamer wrote straight into a slot, as a share of frames reaching the sink
  cpu/frame    process CPU time (user + system, GStreamer's threads included) per delivered frame
  lag          live sources only: how much later than the best frame so far a frame reached JS,
               judged by its timestamp: (arrival - timestamp) - min over frames of (arrival -
               timestamp), p50 and p99. It measures delivery delay added on top of the fastest
               frame, not the absolute capture-to-JS latency (JS cannot see the sink's clock).
  dropped      frames dropped because the consumer was slower than a live source

Exit status: 0 on success, 1 when the pipeline fails, 2 for bad flags or options.
`;

class UsageError extends Error {}

interface CliOptions {
  sourceOptions: Record<string, unknown>;
  frames: number;
  durationMs: number;
  json: boolean;
  quiet: boolean;
  snapshot: string | null;
  snapshotEvery: number;
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
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  snapshot: { type: 'string' },
  'snapshot-every': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

// parseArgs has no optional values: `--camera` and `--test` alone become `--camera=`.
function withOptionalValues(argv: string[]): string[] {
  return argv.map((arg, i) => {
    if (arg !== '--camera' && arg !== '--test') return arg;
    const next = argv[i + 1];
    return next === undefined || next.startsWith('-') ? `${arg}=` : arg;
  });
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

export function parseCli(argv: string[]): CliOptions | 'help' | 'version' {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: withOptionalValues(argv), options: FLAGS, strict: true, allowPositionals: true }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  if (values.version) return 'version';
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (a pipeline goes after --pipeline, in quotes)`);

  const sources = (['pipeline', 'uri', 'camera', 'test'] as const).filter((k) => values[k] !== undefined);
  if (sources.length > 1) throw new UsageError(`give one source, not ${sources.map((s) => `--${s}`).join(' and ')}`);
  if (values.live && values.test === undefined) throw new UsageError('--live goes with --test');

  const o: Record<string, unknown> = {};
  if (values.pipeline !== undefined) o.pipeline = values.pipeline;
  if (values.uri !== undefined) o.uri = values.uri;
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
  // Seconds on the command line, µs in FrameSource's options (which check the range).
  const start = values.start === '0' ? 0 : positiveNumber('start', values.start);
  const end = positiveNumber('end', values.end);
  if (start !== undefined) o.start = Math.round(start * 1e6);
  if (end !== undefined) o.end = Math.round(end * 1e6);
  const ringSize = positiveInteger('ring-size', values['ring-size']);
  if (ringSize !== undefined) o.ringSize = ringSize;

  const every = positiveInteger('snapshot-every', values['snapshot-every']);
  if (every !== undefined && values.snapshot === undefined) throw new UsageError('--snapshot-every needs --snapshot FILE.png');
  if (values.snapshot !== undefined && !/\.png$/i.test(values.snapshot)) {
    throw new UsageError(`--snapshot writes PNG: give a file name ending in .png; got '${values.snapshot}'`);
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
  };
}

// --- snapshots -------------------------------------------------------------------------------

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** The frame's visible pixels as tightly packed RGBA, or an error naming what to do instead. */
export function toRgba(frame: Frame): Buffer {
  const { width: w, height: h, format } = frame;
  const d = frame.data;
  const out = Buffer.alloc(w * h * 4);
  const plane = (i: number) => frame.layout[i]!;
  switch (format) {
    case 'RGBA':
    case 'RGBX':
    case 'BGRA':
    case 'BGRX': {
      const { offset, stride } = plane(0);
      const bgr = format[0] === 'B';
      const alpha = format[3] === 'A';
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const s = offset + y * stride + x * 4;
          const t = (y * w + x) * 4;
          out[t] = d[bgr ? s + 2 : s]!;
          out[t + 1] = d[s + 1]!;
          out[t + 2] = d[bgr ? s : s + 2]!;
          out[t + 3] = alpha ? d[s + 3]! : 255;
        }
      }
      return out;
    }
    case 'GRAY8': {
      const { offset, stride } = plane(0);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const g = d[offset + y * stride + x]!;
          out.fill(g, (y * w + x) * 4, (y * w + x) * 4 + 3);
          out[(y * w + x) * 4 + 3] = 255;
        }
      }
      return out;
    }
    case 'I420':
    case 'NV12': {
      const Y = plane(0);
      const nv12 = format === 'NV12';
      const U = plane(1);
      const V = nv12 ? plane(1) : plane(2);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const cy = y >> 1;
          const cx = x >> 1;
          const yy = 1.164 * (d[Y.offset + y * Y.stride + x]! - 16);
          const u = d[nv12 ? U.offset + cy * U.stride + cx * 2 : U.offset + cy * U.stride + cx]! - 128;
          const v = d[nv12 ? V.offset + cy * V.stride + cx * 2 + 1 : V.offset + cy * V.stride + cx]! - 128;
          const t = (y * w + x) * 4;
          out[t] = clamp(yy + 1.596 * v);
          out[t + 1] = clamp(yy - 0.392 * u - 0.813 * v);
          out[t + 2] = clamp(yy + 2.017 * u);
          out[t + 3] = 255;
        }
      }
      return out;
    }
    default:
      throw new UsageError(
        `--snapshot cannot convert ${frame.videoFormat.gstFormat} frames; ask for RGBA (e.g. end the pipeline with '! videoconvert ! video/x-raw,format=RGBA')`,
      );
  }
}

function writePng(file: string, frame: Frame): void {
  const png = new PNG({ width: frame.width, height: frame.height });
  png.data = toRgba(frame);
  writeFileSync(file, PNG.sync.write(png));
}

function snapshotName(base: string, index: number): string {
  const ext = path.extname(base);
  return `${base.slice(0, base.length - ext.length)}-${String(index).padStart(4, '0')}${ext}`;
}

// --- figures ---------------------------------------------------------------------------------

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function fmt(n: number | null, digits: number, unit = ''): string {
  return n === null || !Number.isFinite(n) ? '-' : `${n.toFixed(digits)}${unit}`;
}

function peakRssBytes(): number {
  // maxRSS is in KiB.
  return process.resourceUsage().maxRSS * 1024;
}

function packageVersion(): string {
  try {
    return JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

function describeSource(o: Record<string, unknown>): string {
  if (typeof o.pipeline === 'string') return o.pipeline;
  if (typeof o.uri === 'string') return o.uri;
  if (o.camera !== undefined) return o.camera === true ? 'camera' : `camera ${o.camera}`;
  if (o.test !== undefined) return `test ${(o.test as { pattern?: string }).pattern ?? ''}`.trim();
  return 'default test source';
}

// --- the job ---------------------------------------------------------------------------------

async function run(opts: CliOptions): Promise<number> {
  const err = process.stderr;
  const tty = err.isTTY === true && !opts.quiet;
  const source = new FrameSource(opts.sourceOptions);
  let format: VideoFormat | null = null;
  source.on('format', (f) => {
    format = f;
    if (!opts.json && !opts.quiet) {
      if (tty) err.write('\r\x1b[K');
      err.write(`format: ${f.format} ${f.width}x${f.height} @ ${fmt(f.framerate, 2)} fps\n`);
    }
  });
  source.on('warning', (w) => {
    if (!opts.quiet) err.write(`${tty ? '\r\x1b[K' : ''}warning: ${w.message}\n`);
  });

  let stopReason: 'eos' | 'frames' | 'duration' | 'signal' | 'error' = 'eos';
  const stop = (why: typeof stopReason) => {
    stopReason = why;
    void source.close();
  };
  const onSignal = () => stop('signal');
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const durationTimer = Number.isFinite(opts.durationMs) ? setTimeout(() => stop('duration'), opts.durationMs) : null;

  const started = performance.now();
  const cpu0 = process.cpuUsage();
  let n = 0;
  let checksum = 0;
  const lags: number[] = [];
  let minOffset = Infinity;
  const snapshots: string[] = [];

  // Progress: one rewritten line on a terminal, a plain line per second otherwise.
  let last = { t: started, n: 0, cpu: 0 };
  const progress = (final: boolean): string => {
    const now = performance.now();
    const s = source.stats;
    const c = process.cpuUsage(cpu0);
    const cpuMs = (c.user + c.system) / 1000;
    const dn = n - last.n;
    const fps = final ? (n * 1000) / (now - started) : (dn * 1000) / Math.max(1, now - last.t);
    const cpuPerFrame = final ? cpuMs / Math.max(1, n) : dn > 0 ? (cpuMs - last.cpu) / dn : null;
    last = { t: now, n, cpu: cpuMs };
    const sorted = [...lags].sort((a, b) => a - b);
    const lag = s.live && sorted.length > 0 ? `${fmt(percentile(sorted, 50), 1)}/${fmt(percentile(sorted, 99), 1)} ms` : '-';
    const zc = s.frames > 0 ? (100 * s.zeroCopyFrames) / s.frames : null;
    return (
      `frames ${n}  fps ${fmt(fps, 1)}  zero-copy ${fmt(zc, 1, '%')}  cpu/frame ${fmt(cpuPerFrame, 2, ' ms')}  ` +
      `lag p50/p99 ${lag}  dropped ${s.droppedFrames}` +
      (source.duration !== null ? `  at ${fmt((source.position ?? 0) / 1e6, 2, ' s')}/${fmt(source.duration / 1e6, 2, ' s')}` : '')
    );
  };
  const timer = opts.quiet ? null : setInterval(() => err.write(tty ? `\r\x1b[K${progress(false)}` : `${progress(false)}\n`), tty ? 250 : 1000);

  let failure: unknown = null;
  try {
    for await (const frame of source) {
      const arrival = performance.now();
      if (frame.timestamp !== null) {
        // Only the spread matters: the constant between the two clocks cancels in lag.
        const offset = arrival - frame.timestamp / 1000;
        minOffset = Math.min(minOffset, offset);
        lags.push(offset);
      }
      const d = frame.data;
      for (let i = 0; i < d.length; i += 4096) checksum = (checksum + d[i]!) >>> 0; // touch every page
      if (opts.snapshot !== null) {
        if (opts.snapshotEvery > 0) {
          if (n % opts.snapshotEvery === 0) {
            const file = snapshotName(opts.snapshot, snapshots.length);
            writePng(file, frame);
            snapshots.push(file);
          }
        } else if (n === 0) {
          writePng(opts.snapshot, frame);
          snapshots.push(opts.snapshot);
        }
      }
      if (++n >= opts.frames) {
        stopReason = 'frames';
        break;
      }
    }
  } catch (e) {
    failure = e;
    stopReason = 'error';
  } finally {
    if (timer) clearInterval(timer);
    if (durationTimer) clearTimeout(durationTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await source.close();
  }
  for (let i = 0; i < lags.length; i++) lags[i]! -= minOffset;

  const wallMs = performance.now() - started;
  const c = process.cpuUsage(cpu0);
  const s = source.stats;
  const line = progress(true);
  if (tty) err.write('\r\x1b[K');
  if (failure) {
    if (n > 0 && !opts.quiet && !opts.json) err.write(`${line}\n`);
    throw failure;
  }
  const sorted = [...lags].sort((a, b) => a - b);
  const f = format as VideoFormat | null;
  const summary = {
    source: describeSource(opts.sourceOptions),
    format: f ? { format: f.format, width: f.width, height: f.height, framerate: f.framerate } : null,
    stoppedBy: stopReason,
    frames: n,
    framesAtSink: s.frames,
    zeroCopyFrames: s.zeroCopyFrames,
    copiedFrames: s.copiedFrames,
    bytesCopied: s.bytesCopied,
    droppedFrames: s.droppedFrames,
    zeroCopyPercent: s.frames > 0 ? (100 * s.zeroCopyFrames) / s.frames : null,
    wallMs,
    fps: n > 0 ? (n * 1000) / wallMs : 0,
    cpuMs: (c.user + c.system) / 1000,
    cpuMsPerFrame: n > 0 ? (c.user + c.system) / 1000 / n : null,
    live: s.live,
    lagMs: s.live && sorted.length > 0 ? { p50: percentile(sorted, 50), p99: percentile(sorted, 99) } : null,
    peakRssBytes: peakRssBytes(),
    memory: s.memory,
    snapshots,
    checksum,
    versions: { frameSource: packageVersion(), gstreamer: gstreamerVersion(), node: process.versions.node },
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    if (!opts.quiet) err.write(`${line}\n`);
    const out = process.stdout;
    out.write(
      `${n} frames from ${summary.source} in ${fmt(wallMs / 1000, 2)} s (${fmt(summary.fps, 1)} fps), stopped by ${stopReason}\n` +
        `zero-copy ${s.zeroCopyFrames}/${s.frames}, copied ${s.copiedFrames} (${s.bytesCopied} bytes), dropped ${s.droppedFrames}\n` +
        `CPU ${fmt(summary.cpuMsPerFrame, 2)} ms per frame; peak RSS ${(summary.peakRssBytes / 2 ** 20).toFixed(0)} MiB; memory: ${s.memory}\n`,
    );
    for (const file of snapshots) out.write(`snapshot: ${file}\n`);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`frame-source: ${err.message}\nRun 'frame-source --help' for the flags.\n`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (opts === 'version') {
    process.stdout.write(`frame-source ${packageVersion()}, GStreamer ${gstreamerVersion()}, Node.js ${process.versions.node}\n`);
    return 0;
  }
  try {
    return await run(opts);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}frame-source: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}\n`);
    return err instanceof UsageError || e.code === 'ERR_INVALID_OPTION' ? 2 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`frame-source: internal error: ${(err as Error).stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
}
