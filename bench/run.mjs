// `npm run bench`: frame-source against GStreamer alone and against the common appsink-copy
// approach, on the same work, in one run. Every run is a fresh process; variants are interleaved
// (shuffled within each round) and repeated, and medians are reported, because the machines we
// run on are shared and noisy. Writes bench/results/latest.json and latest.svg.
//
//   node bench/run.mjs [--quick] [--rounds N] [--frames N] [--sizes 720p,1080p,2160p]
//                      [--formats RGBA,I420] [--variants floor,zero-copy,copy-fallback,appsink-copy]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderChart } from './chart.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');

const SIZES = { '720p': [1280, 720], '1080p': [1920, 1080], '2160p': [3840, 2160] };
// Frames per run: enough for about a second of GStreamer's own CPU, so per-frame figures are not
// dominated by timer resolution or by one slow frame.
const DEFAULT_FRAMES = { '720p': 1000, '1080p': 500, '2160p': 130 };
const VARIANTS = ['floor', 'zero-copy', 'copy-fallback', 'appsink-copy'];
const LABELS = {
  floor: 'GStreamer alone (gst-launch … ! fakesink)',
  'zero-copy': 'frame-source zero-copy',
  'copy-fallback': 'frame-source copy fallback (identity drop-allocation=true)',
  'appsink-copy': 'appsink pull + copy into a new Buffer',
};

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      rounds: { type: 'string' },
      frames: { type: 'string' },
      sizes: { type: 'string' },
      formats: { type: 'string' },
      variants: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
} catch (err) {
  console.error(`bench: ${err.message}`);
  process.exit(2);
}
if (args.help) {
  console.log(
    'node bench/run.mjs [--quick] [--rounds N] [--frames N] [--sizes 720p,1080p,2160p] [--formats RGBA,I420] [--variants floor,zero-copy,copy-fallback,appsink-copy] [--out DIR]',
  );
  process.exit(0);
}
const list = (v, all, what) => {
  const items = v ? v.split(',').map((s) => s.trim()) : all;
  for (const i of items) if (!all.includes(i)) throw new Error(`bench: unknown ${what} '${i}' (known: ${all.join(', ')})`);
  return items;
};
const sizes = list(args.sizes, Object.keys(SIZES), 'size');
const formats = list(args.formats, ['RGBA', 'I420'], 'format');
const variants = list(args.variants, VARIANTS, 'variant');
const rounds = Number(args.rounds ?? (args.quick ? 2 : 5));
const outDir = args.out ? path.resolve(args.out) : path.join(here, 'results');
const framesFor = (size) => Number(args.frames ?? (args.quick ? Math.max(60, Math.ceil(DEFAULT_FRAMES[size] / 4)) : DEFAULT_FRAMES[size]));

// --- prerequisites -----------------------------------------------------------------------------

const addon = path.join(here, 'appsink-copy', 'build', 'Release', 'appsink_copy.node');
if (!existsSync(addon)) {
  console.error('bench: building bench/appsink-copy (first run) ...');
  // Through npm so its configuration (e.g. nodedir for offline header lookup) reaches node-gyp.
  execFileSync('npm', ['exec', '--no', '--', 'node-gyp', 'rebuild'], {
    cwd: path.join(here, 'appsink-copy'),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
if (!existsSync(path.join(root, 'dist', 'index.cjs'))) {
  console.error('bench: dist/ is missing: run npm run build first');
  process.exit(1);
}

// --- one run of one variant ----------------------------------------------------------------------

const description = (size, format, frames) => {
  const [w, h] = SIZES[size];
  return `videotestsrc num-buffers=${frames} ! video/x-raw,format=${format},width=${w},height=${h},framerate=30/1`;
};

// The floor's CPU comes from wait4(2)'s rusage of the gst-launch child (microseconds; GNU time
// prints only hundredths), through python3, which node-gyp needs anyway.
const WAIT4 = `
import os, sys, time, json
t = time.monotonic()
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY); os.dup2(fd, 1)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
print(json.dumps({"status": status, "wall": time.monotonic() - t, "cpu": ru.ru_utime + ru.ru_stime, "maxrss": ru.ru_maxrss}))
`;

function gstLaunch(desc) {
  const argv = ['gst-launch-1.0', '-q', ...desc.split(/\s+/), '!', 'fakesink'];
  const out = execFileSync('python3', ['-c', WAIT4, ...argv], { encoding: 'utf8' });
  const r = JSON.parse(out);
  if (r.status !== 0) throw new Error(`gst-launch failed (${r.status}): ${argv.join(' ')}`);
  return r;
}

// Must match bench/variant.mjs: runs are measured after this many frames.
const WARMUP = 20;

function runFloor(size, format, frames) {
  // gst-launch's own start-up, negotiation, first touch of its buffers and teardown cancel out:
  // N frames minus WARMUP frames, as the Node variants measure from frame WARMUP on.
  const full = gstLaunch(description(size, format, frames));
  const one = gstLaunch(description(size, format, WARMUP));
  return {
    variant: 'floor',
    frames,
    measuredFrames: frames - WARMUP,
    cpuMs: (full.cpu - one.cpu) * 1000,
    consumerMs: 0,
    wallMs: (full.wall - one.wall) * 1000,
    latencyP50Ms: null,
    latencyP99Ms: null,
    peakRssBytes: full.maxrss * 1024,
    zeroCopyPercent: null,
  };
}

function runNode(variant, size, format, frames) {
  const r = spawnSync(process.execPath, [path.join(here, 'variant.mjs'), variant, description(size, format, frames), String(frames)], {
    encoding: 'utf8',
    timeout: 300000,
  });
  if (r.status !== 0) throw new Error(`${variant} ${size} ${format} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const runOne = (variant, size, format, frames) =>
  variant === 'floor' ? runFloor(size, format, frames) : runNode(variant, size, format, frames);

// --- rounds --------------------------------------------------------------------------------------

function shuffle(a) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
const median = (xs) => {
  const v = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

for (const s of sizes) {
  if (!(framesFor(s) > WARMUP + 1)) {
    console.error(`bench: --frames must be more than ${WARMUP + 1} (the first ${WARMUP} are warm-up)`);
    process.exit(2);
  }
}
const work = [];
for (const size of sizes) for (const format of formats) work.push({ size, format, frames: framesFor(size) });
const samples = new Map(); // "size format variant" -> [run]
const started = Date.now();
for (let round = 1; round <= rounds; round++) {
  for (const w of work) {
    for (const variant of shuffle([...variants])) {
      const r = runOne(variant, w.size, w.format, w.frames);
      const key = `${w.size} ${w.format} ${variant}`;
      if (!samples.has(key)) samples.set(key, []);
      samples.get(key).push(r);
      process.stderr.write(`\rround ${round}/${rounds}  ${key.padEnd(26)} ${(r.cpuMs / r.measuredFrames).toFixed(3)} ms/frame   `);
    }
  }
}
process.stderr.write('\n');

// --- figures -------------------------------------------------------------------------------------

const rows = [];
for (const w of work) {
  const floorKey = `${w.size} ${w.format} floor`;
  const floorCpu = samples.has(floorKey) ? median(samples.get(floorKey).map((r) => r.cpuMs / r.measuredFrames)) : null;
  for (const variant of variants) {
    const runs = samples.get(`${w.size} ${w.format} ${variant}`);
    const cpu = median(runs.map((r) => r.cpuMs / r.measuredFrames));
    const wall = median(runs.map((r) => r.wallMs));
    const perFrame = runs.map((r) => r.cpuMs / r.measuredFrames);
    const consumer = median(runs.map((r) => r.consumerMs / r.measuredFrames));
    rows.push({
      size: w.size,
      format: w.format,
      width: SIZES[w.size][0],
      height: SIZES[w.size][1],
      variant,
      frames: w.frames,
      rounds: runs.length,
      cpuMsPerFrame: cpu,
      cpuMsPerFrameMin: Math.min(...perFrame),
      cpuMsPerFrameMax: Math.max(...perFrame),
      wallMs: wall,
      fps: median(runs.map((r) => (r.measuredFrames * 1000) / r.wallMs)),
      consumerMsPerFrame: consumer,
      ratioToFloor: floorCpu ? cpu / floorCpu : null,
      ratioToFloorWithoutConsumer: floorCpu ? median(runs.map((r) => (r.cpuMs - r.consumerMs) / r.measuredFrames)) / floorCpu : null,
      overheadMsPerFrame: floorCpu !== null ? cpu - floorCpu : null,
      latencyP50Ms: median(runs.map((r) => r.latencyP50Ms)),
      latencyP99Ms: median(runs.map((r) => r.latencyP99Ms)),
      peakRssBytes: median(runs.map((r) => r.peakRssBytes)),
      zeroCopyPercent: median(runs.map((r) => r.zeroCopyPercent)),
    });
  }
}

function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /Model name:\s*(.+)/.exec(execFileSync('lscpu', { encoding: 'utf8' }));
    if (m) cpu = m[1].trim();
  } catch {
    // no lscpu (not Linux): keep os.cpus()'s name
  }
  const gst = /version (\S+)/.exec(execFileSync('gst-launch-1.0', ['--version'], { encoding: 'utf8' }))?.[1];
  return {
    cpu,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    gstreamer: gst,
    node: process.versions.node,
  };
}

const fmt = (v, d) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
const header = [
  'size',
  'format',
  'variant',
  'CPU ms/frame',
  '× floor',
  '+ms/frame',
  'consumer ms',
  '× floor w/o consumer',
  'wall ms',
  'fps',
  'lat p50 ms',
  'lat p99 ms',
  'peak RSS MiB',
  'zero-copy %',
];
const table = [
  `| ${header.join(' | ')} |`,
  `|${header.map((h, i) => (i < 3 ? '---' : '---:')).join('|')}|`,
  ...rows.map(
    (r) =>
      `| ${r.size} | ${r.format} | ${r.variant} | ${fmt(r.cpuMsPerFrame, 3)} | ${fmt(r.ratioToFloor, 2)} | ${fmt(r.overheadMsPerFrame, 3)} | ${fmt(r.consumerMsPerFrame, 3)} | ${fmt(r.ratioToFloorWithoutConsumer, 2)} | ${fmt(r.wallMs, 0)} | ${fmt(r.fps, 0)} | ${fmt(r.latencyP50Ms, 2)} | ${fmt(r.latencyP99Ms, 2)} | ${fmt(r.peakRssBytes / 2 ** 20, 0)} | ${fmt(r.zeroCopyPercent, 0)} |`,
  ),
].join('\n');

const result = {
  date: new Date().toISOString(),
  machine: machine(),
  settings: {
    rounds,
    sizes,
    formats,
    variants,
    frames: Object.fromEntries(sizes.map((s) => [s, framesFor(s)])),
    quick: !!args.quick,
    seconds: Math.round((Date.now() - started) / 1000),
  },
  definitions: {
    cpuMsPerFrame:
      'process CPU (user + system, all threads) per frame, median over rounds; frame-source variants: from the arrival of frame 20 in JS to the last (steady state: start-up and the first touch of ring slots excluded); floor: gst-launch with N frames minus gst-launch with 20 frames (wait4 rusage)',
    ratioToFloor: 'cpuMsPerFrame / the floor cpuMsPerFrame for the same size and format',
    overheadMsPerFrame: 'cpuMsPerFrame minus the floor cpuMsPerFrame',
    consumerMsPerFrame:
      'time the JS consumer itself took per frame (performance.now around it, on the JS thread); the floor has no consumer',
    ratioToFloorWithoutConsumer: '(CPU minus consumer time) per frame / the floor cpuMsPerFrame: what frame-source itself adds',
    latency:
      "buffer pushed into the sink element (a GstTracer pad-push-pre hook in bench/appsink-copy, CLOCK_MONOTONIC) -> the frame's JS code runs; p50/p99 over the run's frames, median over rounds. Non-live sources run flat out, so waiting in the sink's queue is included",
    consumer: 'every variant that reaches JS reads one byte of every 4 KiB page of each frame',
  },
  labels: LABELS,
  rows,
  runs: Object.fromEntries(samples),
};
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(path.join(outDir, 'latest.svg'), renderChart(result));
const m = result.machine;
console.log(`${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.os}; GStreamer ${m.gstreamer}; Node.js ${m.node}`);
console.log(`${rounds} rounds, medians; frames per run: ${sizes.map((s) => `${s} ${framesFor(s)}`).join(', ')}\n`);
console.log(table);
console.log(`\nJSON: ${JSON.stringify({ machine: m, rows })}`);
console.log(`\nwrote ${path.relative(process.cwd(), path.join(outDir, 'latest.json'))} and latest.svg`);
