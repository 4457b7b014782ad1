// One benchmark run in a fresh process: `node bench/variant.mjs <variant> <description> <frames>`.
// Prints one JSON line. CPU and wall time are taken from the arrival of frame WARMUP to the last
// frame's (frames - WARMUP frames): process start, GStreamer init, negotiation and the one-time
// first touch of every ring slot are left out, as run.mjs leaves them out of the floor by
// subtracting a WARMUP-frame gst-launch run. What remains is the steady per-frame cost.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const native = require(path.join(here, 'appsink-copy', 'build', 'Release', 'appsink_copy.node'));
const { FrameSource } = require(path.join(here, '..', 'dist', 'index.cjs'));

const [variant, description, framesArg] = process.argv.slice(2);
const expected = Number(framesArg);
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

const latencies = [];
let frames = 0;
let cpu0 = null;
let t0 = 0;
let cpuMs = 0;
let wallMs = 0;

// Called as each frame reaches JS: latency from its sink stamp, and the measured window.
function arrived(ptsUs) {
  const now = native.now();
  const atSink = native.sinkTime(ptsUs);
  if (atSink >= 0) latencies.push(now - atSink);
  frames++;
  if (frames === WARMUP) {
    cpu0 = process.cpuUsage();
    t0 = performance.now();
  } else if (frames > WARMUP) {
    const c = process.cpuUsage(cpu0);
    cpuMs = (c.user + c.system) / 1000;
    wallMs = performance.now() - t0;
  }
}

native.installSinkStamps();
let extra = {};
if (variant === 'zero-copy' || variant === 'copy-fallback') {
  const pipeline = variant === 'copy-fallback' ? `${description} ! identity drop-allocation=true` : description;
  const source = new FrameSource({ pipeline });
  for await (const frame of source) {
    arrived(frame.timestamp);
    consume(frame.data);
  }
  const s = source.stats;
  extra = {
    zeroCopyPercent: s.frames > 0 ? (100 * s.zeroCopyFrames) / s.frames : 0,
    copiedFrames: s.copiedFrames,
    droppedFrames: s.droppedFrames,
  };
} else if (variant === 'appsink-copy') {
  await new Promise((resolve, reject) => {
    const pull = new native.AppsinkCopy(
      description,
      (buffer, ptsUs) => {
        arrived(ptsUs);
        consume(buffer);
      },
      (error) => {
        pull._close();
        if (error) reject(new Error(error));
        else resolve();
      },
    );
    pull._start();
  });
  extra = { zeroCopyPercent: 0, copiedFrames: frames, droppedFrames: 0 };
} else {
  throw new Error(`unknown variant ${variant}`);
}
if (frames !== expected) throw new Error(`${variant}: got ${frames} frames, expected ${expected}`);
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : null);
process.stdout.write(
  `${JSON.stringify({
    variant,
    frames,
    measuredFrames: frames - WARMUP,
    cpuMs,
    consumerMs,
    wallMs,
    latencyP50Ms: pct(50),
    latencyP99Ms: pct(99),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    checksum,
    ...extra,
  })}\n`,
);
