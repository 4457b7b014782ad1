#!/usr/bin/env node
// The `frame-source` command's entry: parse, then either serve a live page (./serve) or run the
// main job (open a source, pull frames, report) with progress, snapshots and a summary. Runs on
// the JS thread only; every option that reaches FrameSource is validated there, not here.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { FrameSource } from '../frame-source';
import type { VideoFormat } from '../formats';
import { gstreamerVersion } from '../versions';
import { HELP, UsageError, inFlagTerms, parseCli, wantsJson, type CliOptions } from './arguments';
import { LagTracker, Progress, fmt, peakRssBytes } from './progress';
import { serve } from './serve';
import { Snapshots } from './snapshot';
import { Stopper } from './stop';

export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function describeSource(o: Record<string, unknown>): string {
  if (typeof o.pipeline === 'string') return o.pipeline;
  if (typeof o.uri === 'string') return o.uri;
  if (o.camera !== undefined) return o.camera === true ? 'camera' : `camera ${typeof o.camera === 'string' ? o.camera : ''}`.trim();
  if (o.test !== undefined) return `test ${(o.test as { pattern?: string }).pattern ?? ''}`.trim();
  return 'default test source';
}

function describeFormat(f: VideoFormat): string {
  return (
    `${f.format} ${f.width}x${f.height} @ ${fmt(f.framerate, 2)} fps, ${f.colorimetry || 'no colorimetry'}` +
    (f.decoder ? `, decoder ${f.decoder}` : '')
  );
}

async function run(opts: CliOptions): Promise<number> {
  const err = process.stderr;
  const tty = err.isTTY === true && !opts.quiet;
  const chatty = !opts.json && !opts.quiet;
  const source = new FrameSource(opts.sourceOptions);
  if (chatty) err.write(`pipeline: ${source.options.pipeline}\n`);
  let format: VideoFormat | null = null;
  source.on('format', (f) => {
    format = f;
    if (chatty) err.write(`${tty ? '\r\x1b[K' : ''}format: ${describeFormat(f)}\n`);
  });
  source.on('warning', (w) => {
    if (!opts.quiet) err.write(`${tty ? '\r\x1b[K' : ''}warning: ${w.message}\n`);
  });

  const stopper = new Stopper(source, opts.durationMs);

  const lag = new LagTracker();
  const progress = new Progress(source, lag);
  let n = 0;
  let checksum = 0;
  const snapshots = new Snapshots(opts.snapshot, opts.snapshotEvery);
  // One rewritten line on a terminal, a plain line per second otherwise.
  const timer = opts.quiet
    ? null
    : setInterval(() => err.write(tty ? `\r\x1b[K${progress.line(n, false)}` : `${progress.line(n, false)}\n`), tty ? 250 : 1000);

  let failure: Error | null = null;
  try {
    for await (const frame of source) {
      if (frame.timestamp !== null) lag.add(performance.now(), frame.timestamp);
      const d = frame.data;
      for (let i = 0; i < d.length; i += 4096) checksum = (checksum + d[i]!) >>> 0; // touch every page
      snapshots.take(frame, n);
      if (++n >= opts.frames) {
        stopper.reason = 'frames';
        break;
      }
    }
  } catch (e) {
    failure = e instanceof Error ? e : new Error(String(e));
    stopper.reason = 'error';
  } finally {
    if (timer) clearInterval(timer);
    stopper.dispose();
    await source.close();
  }
  const stopReason = stopper.reason;

  const wallMs = performance.now() - progress.started;
  const cpuMs = progress.cpuMs();
  const s = source.stats;
  const line = progress.line(n, true);
  if (tty) err.write('\r\x1b[K');
  if (failure) {
    if (n > 0 && chatty) err.write(`${line}\n`);
    throw failure;
  }
  const f = format as VideoFormat | null;
  const summary = {
    source: describeSource(opts.sourceOptions),
    pipeline: source.options.pipeline,
    elements: f ? f.elements : [],
    decoder: f ? f.decoder : null,
    format: f ? { format: f.format, width: f.width, height: f.height, framerate: f.framerate, colorimetry: f.colorimetry } : null,
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
    cpuMs,
    cpuMsPerFrame: n > 0 ? cpuMs / n : null,
    live: s.live,
    lagMs: s.live ? lag.percentiles() : null,
    peakRssBytes: peakRssBytes(),
    memory: s.memory,
    snapshots: snapshots.files,
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
        `pipeline: ${summary.pipeline}\n` +
        (f ? `elements: ${f.elements.join(', ')}; decoder: ${f.decoder ?? 'none'}\n` : '') +
        `zero-copy ${s.zeroCopyFrames}/${s.frames}, copied ${s.copiedFrames} (${s.bytesCopied} bytes), dropped ${s.droppedFrames}\n` +
        `CPU ${fmt(summary.cpuMsPerFrame, 2)} ms per frame; peak RSS ${(summary.peakRssBytes / 2 ** 20).toFixed(0)} MiB; memory: ${s.memory}\n`,
    );
    for (const file of snapshots.files) out.write(`snapshot: ${file}\n`);
  }
  return 0;
}

// Exit status 2 for what the user can fix on the command line or in the options, 1 for the rest.
function fail(thrown: unknown, json: boolean): number {
  const err = inFlagTerms(thrown);
  const e = err as { code?: string; message?: string; name?: string };
  const usage = err instanceof UsageError || e.code === 'ERR_INVALID_OPTION';
  const exitCode = usage ? 2 : 1;
  const message = e.message ?? String(err);
  const tty = process.stderr.isTTY ? '\r\x1b[K' : '';
  process.stderr.write(`${tty}frame-source: ${message}${e.code && !(err instanceof UsageError) ? ` (${e.code})` : ''}\n`);
  if (err instanceof UsageError) process.stderr.write("Run 'frame-source --help' for the flags.\n");
  if (json) {
    const error = { code: e.code ?? 'ERR_INTERNAL', message, ...(e.name && e.name !== 'Error' ? { name: e.name } : {}) };
    process.stdout.write(`${JSON.stringify({ error, exitCode })}\n`);
  }
  return exitCode;
}

export async function main(argv: string[]): Promise<number> {
  const json = wantsJson(argv);
  let opts;
  try {
    opts = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return fail(err, json);
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
    return await (opts.serve ? serve(opts, opts.serve) : run(opts));
  } catch (err) {
    return fail(err, opts.json);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`frame-source: internal error: ${(err as Error).stack ?? err}\n`);
      if (wantsJson(process.argv))
        process.stdout.write(
          `${JSON.stringify({ error: { code: 'ERR_INTERNAL', message: String((err as Error).message ?? err) }, exitCode: 1 })}\n`,
        );
      process.exitCode = 1;
    },
  );
}
