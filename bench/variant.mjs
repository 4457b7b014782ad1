// One benchmark run in a fresh process: `node bench/variant.mjs '<json spec>'`. Prints one JSON
// line. CPU and wall time are taken from the arrival of frame WARMUP to the last frame's (frames -
// WARMUP frames): process start, GStreamer init, negotiation and the one-time first touch of every
// ring slot are left out, as run.mjs leaves them out of the floor by subtracting a WARMUP-frame
// gst-launch run. What remains is the steady per-frame cost.
//
// The spec ({ suite, variant, ... }):
//   synthetic: variant zero-copy | copy-fallback | appsink-copy; description; frames
//   decode:    variant frame-source | node-av; file (an encoded file); frames (in the file)
//   streams:   variant frame-source; description; frames (per stream); streams
//   latency:   variant frame-source | appsink-copy | wake-floor; description (a live source); frames;
//              rate (wake-floor: wakes per second); busyMs
//   gpu:       variant frame-source; file; output (cuda: CUDA frames, cpu: NV12 in system memory); frames
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const native = require(path.join(here, 'appsink-copy', 'build', 'Release', 'appsink_copy.node'));
const { FrameSource } = require(path.join(here, '..', 'dist', 'index.cjs'));

const spec = JSON.parse(process.argv[2]);
const { suite, variant } = spec;
const WARMUP = 20; // > the most slots a ring of 8 can grow to (2 x 8 + 2)

// The same tiny consumer in every variant: read one byte of every 4 KiB page of the frame. Its
// own time is kept apart (consumerMs): at 2160p RGBA that is 8,100 pages, each a TLB and cache
// miss, a cost any reader of the frame pays and the floor (no reader) does not.
let checksum = 0;
let consumerMs = 0;
function consume(bytes) {
  const t = performance.now();
  let s = 0;
  for (let i = 0; i < bytes.length; i += 4096) s += bytes[i];
  checksum = (checksum + s) >>> 0;
  if (frames > WARMUP) consumerMs += performance.now() - t;
}

// The latency suite's "busy" JS thread: synchronous work after each frame, as an app that runs a
// model or draws would do. It is not the consumer (not counted in consumerMs).
function busy(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

const latencies = [];
let frames = 0;
let cpu0 = null;
let t0 = 0;
let cpuMs = 0;
let wallMs = 0;
let measuredFrames = 0;

function startWindow() {
  cpu0 = process.cpuUsage();
  t0 = performance.now();
}
// Reading the CPU clock is a system call: a run that must deliver every frame reads it at its last
// frame only, so that the figure does not include one per frame. A live source may drop frames
// (the latency suite): there it is read at each, and frames are 33 ms apart.
function isLast(n, total) {
  return suite === 'latency' || n === total;
}
function extendWindow(n) {
  const c = process.cpuUsage(cpu0);
  cpuMs = (c.user + c.system) / 1000;
  wallMs = performance.now() - t0;
  measuredFrames = n;
}

// Called as each frame reaches JS: latency from its sink stamp (steady state only), and the window.
function arrived(ptsUs) {
  const now = native.now();
  frames++;
  if (frames > WARMUP) {
    const atSink = ptsUs === null ? -1 : native.sinkTime(ptsUs);
    if (atSink >= 0) latencies.push(now - atSink);
  }
  if (frames === WARMUP) startWindow();
  else if (frames > WARMUP && isLast(frames, spec.frames)) extendWindow(frames - WARMUP);
}

async function frameSource(options, each) {
  const source = new FrameSource(options);
  let decoder = null;
  source.on('format', (f) => {
    decoder = f.decoder;
  });
  for await (const frame of source) {
    arrived(frame.timestamp);
    // A CUDA frame has no bytes in system memory (frame.data throws): nothing for the consumer to read.
    if (frame.backend === 'cpu') consume(frame.data);
    if (each) each(frame);
  }
  const s = source.stats;
  return {
    zeroCopyPercent: s.frames > 0 ? (100 * s.zeroCopyFrames) / s.frames : 0,
    copiedFrames: s.copiedFrames,
    droppedFrames: s.droppedFrames,
    decoder,
    decoderFrames: s.decoderFrames,
  };
}

function appsinkCopy(description, each) {
  return new Promise((resolve, reject) => {
    const pull = new native.AppsinkCopy(
      description,
      (buffer, ptsUs) => {
        arrived(ptsUs);
        consume(buffer);
        if (each) each();
      },
      (error) => {
        pull._close();
        if (error) reject(new Error(error));
        else resolve({ zeroCopyPercent: 0, copiedFrames: frames, droppedFrames: 0 });
      },
    );
    pull._start();
  });
}

// node-av (FFmpeg's libavcodec in a prebuilt addon) decoding the same file to JS: each frame's
// planes as Node Buffers, read the same way. Loaded only here: it is an optional dev dependency.
async function nodeAv(file) {
  // node-av 6 uses Promise.withResolvers, which Node 20 lacks.
  Promise.withResolvers ??= () => {
    let resolve;
    let reject;
    const promise = new Promise((a, b) => {
      resolve = a;
      reject = b;
    });
    return { promise, resolve, reject };
  };
  const { Demuxer, Decoder } = await import('node-av/api');
  const input = await Demuxer.open(file);
  const stream = input.video();
  const decoder = await Decoder.create(stream);
  for await (const frame of decoder.frames(input.packets(stream.index))) {
    if (!frame) continue;
    arrived(null);
    const t = performance.now();
    let s = 0;
    for (const plane of frame.data) for (let i = 0; plane && i < plane.length; i += 4096) s += plane[i];
    checksum = (checksum + s) >>> 0;
    if (frames > WARMUP) consumerMs += performance.now() - t;
    frame.free();
  }
  decoder.close();
  await input.close();
  return { zeroCopyPercent: null, copiedFrames: null, droppedFrames: 0, decoder: 'libavcodec (node-av)' };
}

// Several sources at once in this one process; the window opens when every source has delivered
// WARMUP frames and covers every frame delivered after that, from all of them.
async function streams(description, count) {
  const perSource = new Array(count).fill(0);
  let warm = 0;
  let atOpen = 0;
  let copied = 0;
  let zeroCopy = 0;
  let total = 0;
  await Promise.all(
    perSource.map(async (_, i) => {
      const source = new FrameSource({ pipeline: description });
      for await (const frame of source) {
        frames++;
        consume(frame.data);
        if (++perSource[i] === WARMUP && ++warm === count) {
          atOpen = frames;
          startWindow();
        } else if (warm === count && isLast(frames, spec.frames * count)) {
          extendWindow(frames - atOpen);
        }
      }
      const s = source.stats;
      copied += s.copiedFrames;
      zeroCopy += s.zeroCopyFrames;
      total += s.frames;
    }),
  );
  // consume() counts consumer time only past WARMUP frames in all: close enough, and only shown.
  return { zeroCopyPercent: total > 0 ? (100 * zeroCopy) / total : 0, copiedFrames: copied, droppedFrames: 0 };
}

// The machine's own floor for the latency suite: a native thread waking this one at the source's
// rate through a libuv async handle, no GStreamer and no frame (bench/appsink-copy's WakeFloor).
function wakeFloor(count, rate) {
  return new Promise((resolve) => {
    const floor = new native.WakeFloor(count, 1000 / rate, (stamp) => {
      if (stamp < 0) {
        floor._close();
        resolve({ zeroCopyPercent: null, copiedFrames: null, droppedFrames: 0 });
        return;
      }
      const now = native.now();
      frames++;
      if (frames > WARMUP) latencies.push(now - stamp);
      if (frames === WARMUP) startWindow();
      else if (frames > WARMUP) extendWindow(frames - WARMUP);
    });
  });
}

native.installSinkStamps();
let extra;
let expected = spec.frames;
if (suite === 'synthetic') {
  if (variant === 'zero-copy') extra = await frameSource({ pipeline: spec.description });
  else if (variant === 'copy-fallback') extra = await frameSource({ pipeline: `${spec.description} ! identity drop-allocation=true` });
  else if (variant === 'appsink-copy') extra = await appsinkCopy(spec.description);
} else if (suite === 'decode') {
  if (variant === 'frame-source') extra = await frameSource({ uri: pathToFileURL(spec.file).href, format: 'I420' });
  else if (variant === 'node-av') extra = await nodeAv(spec.file);
} else if (suite === 'gpu') {
  const backend = spec.output === 'cuda' ? { backend: 'cuda' } : { backend: 'cpu', format: 'NV12' };
  if (variant === 'frame-source') extra = await frameSource({ uri: pathToFileURL(spec.file).href, decoder: 'hardware', ...backend });
} else if (suite === 'streams') {
  if (variant === 'frame-source') extra = await streams(spec.description, spec.streams);
  expected = spec.frames * spec.streams;
} else if (suite === 'latency') {
  const each = spec.busyMs > 0 ? () => busy(spec.busyMs) : null;
  if (variant === 'frame-source') extra = await frameSource({ pipeline: spec.description }, each);
  else if (variant === 'appsink-copy') extra = await appsinkCopy(spec.description, each);
  else if (variant === 'wake-floor') extra = await wakeFloor(spec.frames, spec.rate);
}
if (!extra) throw new Error(`unknown variant ${suite}/${variant}`);
// A live source whose frames JS was too slow for drops them (by design); any other run must
// deliver every frame, or its per-frame figures would mean nothing.
if (frames + (suite === 'latency' ? extra.droppedFrames : 0) !== expected) {
  throw new Error(`${suite}/${variant}: got ${frames} frames, expected ${expected}`);
}
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : null);
process.stdout.write(
  `${JSON.stringify({
    suite,
    variant,
    frames,
    measuredFrames,
    cpuMs,
    consumerMs,
    wallMs,
    latencyP50Ms: pct(50),
    latencyP99Ms: pct(99),
    latencyMaxMs: latencies.length ? latencies[latencies.length - 1] : null,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    checksum,
    ...extra,
  })}\n`,
);
