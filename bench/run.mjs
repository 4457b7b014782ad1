// `npm run bench`: frame-source against GStreamer alone and against other ways into Node, on the
// same work, in one run. Every run is a fresh process; variants are interleaved (shuffled within
// each round) and repeated, and medians are reported, because the machines we run on are shared
// and noisy. Writes bench/results/latest.json and latest.svg.
//
// Suites (all by default; --suites picks some):
//   synthetic  videotestsrc frames at 720p/1080p/2160p, RGBA and I420: floor, queue-floor,
//              reader-floor, zero-copy, copy-fallback, appsink-copy (--sizes, --formats, --variants
//              apply here)
//   decode     H.264 and VP9 files at 720p/1080p/2160p (made with ffmpeg at run time; --sizes
//              applies) through `uri`, against the gst-launch decode pipeline with the same decoder
//              (and with a queue before its fakesink, and that queue's thread reading each frame),
//              and against node-av
//   streams    8 sources x 720p I420 at once in one process, against 8 gst-launch run together
//   latency    a live 30 fps 1080p source: sink-to-JS latency with an idle JS thread and a busy one,
//              and the machine's wake floor (a native thread waking JS at 30 Hz, no GStreamer)
//   gpu        H.264 and H.265 1080p files decoded by NVIDIA's decoders (nvh264dec, nvh265dec) through
//              `uri`, frames as CUDA memory (backend 'cuda') and in system memory (backend 'cpu'),
//              each against gst-launch with the same decoder and output; skipped, saying why, where
//              the cuda backend is unavailable
//
//   node bench/run.mjs [--quick] [--rounds N] [--suites synthetic,decode,streams,latency,gpu]
//                      [--frames N] [--sizes 720p,1080p,2160p] [--formats RGBA,I420]
//                      [--variants floor,queue-floor,reader-floor,zero-copy,copy-fallback,appsink-copy]
//                      [--out DIR] [--media DIR] [--prepare]
//   --media keeps the encoded files in DIR (made there when missing); --prepare only makes them.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { renderChart } from './chart.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');

const SUITES = ['synthetic', 'decode', 'streams', 'latency', 'gpu'];
const SIZES = { '720p': [1280, 720], '1080p': [1920, 1080], '2160p': [3840, 2160] };
// Frames per run: enough for about a second of GStreamer's own CPU, so per-frame figures are not
// dominated by timer resolution or by one slow frame.
const DEFAULT_FRAMES = { '720p': 1000, '1080p': 500, '2160p': 130 };
const VARIANTS = ['floor', 'queue-floor', 'reader-floor', 'zero-copy', 'copy-fallback', 'appsink-copy'];
const LABELS = {
  floor: 'GStreamer alone (gst-launch … ! fakesink)',
  'queue-floor': 'GStreamer alone, each frame handed to a second thread (gst-launch … ! queue ! fakesink)',
  'reader-floor': 'GStreamer alone, a second thread reading each frame as JS does (… ! queue ! fakesink + a probe)',
  'zero-copy': 'frame-source zero-copy',
  'copy-fallback': 'frame-source copy fallback (identity drop-allocation=true)',
  'appsink-copy': 'appsink pull + copy into a new Buffer',
  'frame-source': 'frame-source',
  'frame-source-busy': 'frame-source, JS busy 10 ms per frame',
  'node-av': 'node-av (libavcodec in a prebuilt addon) decoding to JS',
  'wake-floor': "the machine's floor: a native thread waking the JS thread at 30 Hz (no GStreamer, no frame)",
};
// The decode suite's files (one per size; `encode` gives ffmpeg's options for a size) and the
// gst-launch pipeline each is decoded by alone.
const VP9_RATE = { '720p': '2M', '1080p': '4M', '2160p': '16M' };
const CODECS = {
  h264: {
    file: 'h264.mp4',
    decoder: 'avdec_h264',
    encode: () => ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p'],
    floor: (f) => `filesrc location=${f} ! qtdemux ! h264parse ! avdec_h264 ! video/x-raw,format=I420`,
  },
  vp9: {
    file: 'vp9.webm',
    decoder: 'vp9dec',
    encode: (size) => ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', VP9_RATE[size], '-pix_fmt', 'yuv420p'],
    floor: (f) => `filesrc location=${f} ! matroskademux ! vp9dec ! video/x-raw,format=I420`,
  },
};
// Frames per decode run: about a second of the decoder's CPU or more (4K H.264: ~20 ms a frame here).
const DECODE_FRAMES = { '720p': 300, '1080p': 300, '2160p': 120 };
// The gpu suite's files; each is decoded to CUDA memory and to system memory (NV12).
const GPU_CODECS = {
  h264: {
    file: 'h264-crf36.mp4',
    decoder: 'nvh264dec',
    // A high CRF keeps 2,000 1080p frames small; the decoder works on the GPU either way.
    encode: (size) => [...CODECS.h264.encode(size), '-crf', '36'],
    floor: (f, caps) => `filesrc location=${f} ! qtdemux ! h264parse ! nvh264dec ! ${caps}`,
  },
  h265: {
    file: 'h265-crf36.mp4',
    decoder: 'nvh265dec',
    encode: () => [
      '-c:v',
      'libx265',
      '-preset',
      'veryfast',
      '-crf',
      '36',
      '-x265-params',
      'log-level=error',
      '-tag:v',
      'hvc1',
      '-pix_fmt',
      'yuv420p',
    ],
    floor: (f, caps) => `filesrc location=${f} ! qtdemux ! h265parse ! nvh265dec ! ${caps}`,
  },
};
const GPU_OUTPUTS = { cuda: 'video/x-raw(memory:CUDAMemory)', cpu: 'video/x-raw,format=NV12' };
const STREAMS = 8;

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      rounds: { type: 'string' },
      suites: { type: 'string' },
      frames: { type: 'string' },
      sizes: { type: 'string' },
      formats: { type: 'string' },
      variants: { type: 'string' },
      out: { type: 'string' },
      media: { type: 'string' },
      prepare: { type: 'boolean' },
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
    'node bench/run.mjs [--quick] [--rounds N] [--suites synthetic,decode,streams,latency,gpu] [--frames N] [--sizes 720p,1080p,2160p] [--formats RGBA,I420] [--variants floor,queue-floor,reader-floor,zero-copy,copy-fallback,appsink-copy] [--out DIR] [--media DIR] [--prepare]',
  );
  process.exit(0);
}
const list = (v, all, what) => {
  const items = v ? v.split(',').map((s) => s.trim()) : all;
  for (const i of items) if (!all.includes(i)) throw new Error(`bench: unknown ${what} '${i}' (known: ${all.join(', ')})`);
  return items;
};
const suites = list(args.suites, SUITES, 'suite');
const sizes = list(args.sizes, Object.keys(SIZES), 'size');
const formats = list(args.formats, ['RGBA', 'I420'], 'format');
const variants = list(args.variants, VARIANTS, 'variant');
const rounds = Number(args.rounds ?? (args.quick ? 2 : 5));
const outDir = args.out ? path.resolve(args.out) : path.join(here, 'results');
const framesFor = (size) => Number(args.frames ?? (args.quick ? Math.max(60, Math.ceil(DEFAULT_FRAMES[size] / 4)) : DEFAULT_FRAMES[size]));
// Frames of the other suites (--frames is for the synthetic one). Live: 30 a second.
const decodeFramesFor = (size) => (args.quick ? Math.max(50, Math.round(DECODE_FRAMES[size] / 4)) : DECODE_FRAMES[size]);
const streamFrames = args.quick ? 60 : 300;
const liveFrames = args.quick ? 90 : 450;
// NVDEC decodes 1080p many times faster than the CPU, and each run's CUDA start-up varies by tens of
// ms: enough frames that the window's CPU outweighs that (the floor subtracts two whole runs).
const gpuFrames = args.quick ? 120 : 2000;

// --- prerequisites -----------------------------------------------------------------------------

const addon = path.join(here, 'appsink-copy', 'build', 'Release', 'appsink_copy.node');
const readerFloor = path.join(here, 'appsink-copy', 'build', 'Release', 'reader_floor');
const built = [
  [addon, 'appsink_copy.cc'],
  [readerFloor, 'reader_floor.c'],
];
const stale = ([out, source]) => !existsSync(out) || statSync(path.join(here, 'appsink-copy', source)).mtimeMs > statSync(out).mtimeMs;
if (built.some(stale)) {
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

// Must match bench/variant.mjs: runs are measured after this many frames.
const WARMUP = 20;

const skipped = [];
// The encoded files the suites need, named with their size and length (h264-1080p-300f.mp4), so
// that a --media folder serves --quick and full runs. Each comes twice: N frames, and WARMUP frames
// for the floor's start-up subtraction (same source and settings: the short one is the long one's start).
const files = new Map(); // file name -> { encode, frames, size }
const fileName = (name, size, frames) => name.replace(/(\.\w+)$/, `-${size}-${frames}f$1`);
const needFile = (name, encode, size, frames) => {
  for (const n of [frames, WARMUP]) files.set(fileName(name, size, n), { encode: encode(size), frames: n, size });
};
if (suites.includes('decode')) {
  for (const size of sizes) for (const c of Object.values(CODECS)) needFile(c.file, c.encode, size, decodeFramesFor(size));
}
// The gpu suite runs only where the cuda backend can (the prepare step makes its files anyway).
if (suites.includes('gpu') && !args.prepare) {
  const { FrameSource } = createRequire(import.meta.url)(path.join(root, 'dist', 'index.cjs'));
  const cuda = (await FrameSource.backends()).find((b) => b.name === 'cuda');
  if (!cuda.available) {
    skipped.push(`gpu: the cuda backend is unavailable here (${cuda.reason})`);
    console.error(`bench: SKIPPING the gpu suite: ${skipped.at(-1)}`);
    suites.splice(suites.indexOf('gpu'), 1);
  }
}
if (suites.includes('gpu')) for (const c of Object.values(GPU_CODECS)) needFile(c.file, c.encode, '1080p', gpuFrames);
let media = null;
if (files.size > 0) {
  if (args.media) {
    media = path.resolve(args.media);
    mkdirSync(media, { recursive: true });
  } else {
    media = mkdtempSync(path.join(os.tmpdir(), 'frame-source-bench-'));
    process.on('exit', () => rmSync(media, { recursive: true, force: true }));
  }
  const missing = [...files].filter(([name]) => !existsSync(path.join(media, name)));
  if (missing.length > 0 && spawnSync('ffmpeg', ['-version']).status !== 0) {
    console.error(
      `bench: the ${suites.filter((x) => x === 'decode' || x === 'gpu').join(' and ')} suites need ffmpeg (Debian: apt-get install ffmpeg)`,
    );
    process.exit(1);
  }
  if (missing.length > 0) process.stderr.write(`bench: encoding ${missing.length} test files ...\n`);
  for (const [name, { encode, frames, size }] of missing) {
    execFileSync('nice', [
      'ffmpeg',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${SIZES[size].join('x')}:rate=30`,
      '-frames:v',
      String(frames),
      ...encode,
      path.join(media, name),
    ]);
  }
}
if (args.prepare) {
  console.log(`bench: test files in ${media ?? '(none needed)'}`);
  process.exit(0);
}
// node-av is a dev dependency whose install may have been skipped or failed: say so loudly, and
// run the rest.
let nodeAv = false;
if (suites.includes('decode')) {
  const probe = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('node-av/api')"], { cwd: root, encoding: 'utf8' });
  nodeAv = probe.status === 0;
  if (!nodeAv) {
    const why = (probe.stderr.split('\n').find((l) => /Error/.test(l)) ?? probe.stderr).trim();
    skipped.push(`node-av: not loadable (${why}); install with SKIP_FFMPEG=true npm install`);
    console.error(`bench: SKIPPING the node-av variant: ${skipped.at(-1)}`);
  }
}

// --- one run of one variant ----------------------------------------------------------------------

const synthDescription = (size, format, frames, live = false) => {
  const [w, h] = SIZES[size];
  return `videotestsrc${live ? ' is-live=true' : ''} num-buffers=${frames} ! video/x-raw,format=${format},width=${w},height=${h},framerate=30/1`;
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

const gstArgv = (desc) => ['gst-launch-1.0', '-q', ...desc.split(/\s+/), '!', 'fakesink'];
const parseWait4 = (out, argv) => {
  const r = JSON.parse(out);
  if (r.status !== 0) throw new Error(`${path.basename(argv[0])} failed (${r.status}): ${argv.join(' ')}`);
  return r;
};
function gstLaunch(desc) {
  return wait4(gstArgv(desc));
}
function wait4(argv) {
  return parseWait4(execFileSync('python3', ['-c', WAIT4, ...argv], { encoding: 'utf8' }), argv);
}
// `count` gst-launch at once; CPU and peak RSS summed, wall time of the slowest.
async function gstLaunchTogether(desc, count) {
  const argv = gstArgv(desc);
  const t = performance.now();
  const outs = await Promise.all(
    Array.from({ length: count }, () => promisify(execFile)('python3', ['-c', WAIT4, ...argv], { encoding: 'utf8' })),
  );
  const rs = outs.map((o) => parseWait4(o.stdout, argv));
  return { cpu: rs.reduce((a, r) => a + r.cpu, 0), wall: (performance.now() - t) / 1000, maxrss: rs.reduce((a, r) => a + r.maxrss, 0) };
}

// gst-launch's own start-up, negotiation, first touch of its buffers and teardown cancel out:
// N frames minus WARMUP frames, as the Node variants measure from frame WARMUP on.
function floorResult(full, one, measuredFrames, variant = 'floor') {
  return {
    variant,
    measuredFrames,
    cpuMs: (full.cpu - one.cpu) * 1000,
    consumerMs: 0,
    wallMs: (full.wall - one.wall) * 1000,
    latencyP50Ms: null,
    latencyP99Ms: null,
    latencyMaxMs: null,
    peakRssBytes: full.maxrss * 1024,
    zeroCopyPercent: null,
    copiedFrames: null,
  };
}

// The floor (`full ! fakesink`), the queue floor (`full ! queue ! fakesink`: GStreamer's own cost
// of handing each frame to another thread, as frame-source hands it to the JS thread; a source then
// writes into buffers in turn instead of one it gets back at once) or the reader floor (the queue
// floor whose second thread reads each frame as the JS consumer does), less the `start` run.
const FLOORS = ['floor', 'queue-floor', 'reader-floor'];
function gstFloor(variant, full, start, measuredFrames) {
  const launch = (desc) => {
    if (variant === 'reader-floor') return wait4([readerFloor, desc]);
    return gstLaunch(variant === 'queue-floor' ? `${desc} ! queue` : desc);
  };
  return floorResult(launch(full), launch(start), measuredFrames, variant);
}

function runNode(spec) {
  const r = spawnSync(process.execPath, [path.join(here, 'variant.mjs'), JSON.stringify(spec)], { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) throw new Error(`${spec.suite} ${spec.variant} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

// --- the work: one entry per row group, each with its variants -------------------------------------

const work = [];
if (suites.includes('synthetic')) {
  for (const size of sizes) {
    for (const format of formats) {
      const frames = framesFor(size);
      if (!(frames > WARMUP + 1)) {
        console.error(`bench: --frames must be more than ${WARMUP + 1} (the first ${WARMUP} are warm-up)`);
        process.exit(2);
      }
      const description = synthDescription(size, format, frames);
      work.push({
        suite: 'synthetic',
        key: `${size} ${format}`,
        fields: { size, format, width: SIZES[size][0], height: SIZES[size][1], frames },
        variants,
        run: (variant) => {
          if (FLOORS.includes(variant)) {
            return gstFloor(variant, description, synthDescription(size, format, WARMUP), frames - WARMUP);
          }
          return runNode({ suite: 'synthetic', variant, description, frames });
        },
      });
    }
  }
}
if (suites.includes('decode')) {
  for (const size of sizes) {
    for (const [codec, c] of Object.entries(CODECS)) {
      const frames = decodeFramesFor(size);
      const file = path.join(media, fileName(c.file, size, frames));
      const start = path.join(media, fileName(c.file, size, WARMUP));
      work.push({
        suite: 'decode',
        key: `${codec} ${size}`,
        fields: { codec, size, width: SIZES[size][0], height: SIZES[size][1], format: 'I420', frames },
        variants: [...FLOORS, 'frame-source', ...(nodeAv ? ['node-av'] : [])],
        run: (variant) => {
          if (!FLOORS.includes(variant)) return runNode({ suite: 'decode', variant, file, frames });
          return { ...gstFloor(variant, c.floor(file), c.floor(start), frames - WARMUP), decoder: c.decoder };
        },
      });
    }
  }
}
if (suites.includes('streams')) {
  const description = synthDescription('720p', 'I420', streamFrames);
  work.push({
    suite: 'streams',
    key: `${STREAMS}x 720p I420`,
    fields: { streams: STREAMS, size: '720p', width: 1280, height: 720, format: 'I420', frames: streamFrames },
    variants: ['floor', 'frame-source'],
    run: async (variant) =>
      variant === 'floor'
        ? floorResult(
            await gstLaunchTogether(description, STREAMS),
            await gstLaunchTogether(synthDescription('720p', 'I420', WARMUP), STREAMS),
            STREAMS * (streamFrames - WARMUP),
          )
        : runNode({ suite: 'streams', variant, description, frames: streamFrames, streams: STREAMS }),
  });
}
if (suites.includes('gpu')) {
  for (const [codec, c] of Object.entries(GPU_CODECS)) {
    const file = path.join(media, fileName(c.file, '1080p', gpuFrames));
    const start = path.join(media, fileName(c.file, '1080p', WARMUP));
    for (const [output, caps] of Object.entries(GPU_OUTPUTS)) {
      work.push({
        suite: 'gpu',
        key: `${codec} 1080p ${output}`,
        fields: { codec, size: '1080p', width: 1920, height: 1080, output, format: 'NV12', frames: gpuFrames },
        variants: ['floor', 'frame-source'],
        run: (variant) =>
          variant === 'floor'
            ? { ...gstFloor(variant, c.floor(file, caps), c.floor(start, caps), gpuFrames - WARMUP), decoder: c.decoder }
            : runNode({ suite: 'gpu', variant, file, output, frames: gpuFrames }),
      });
    }
  }
}
if (suites.includes('latency')) {
  const description = synthDescription('1080p', 'I420', liveFrames, true);
  work.push({
    suite: 'latency',
    key: '1080p I420 live 30 fps',
    fields: { size: '1080p', width: 1920, height: 1080, format: 'I420', frames: liveFrames, rate: 30 },
    variants: ['wake-floor', 'frame-source', 'frame-source-busy', 'appsink-copy'],
    run: (variant) =>
      runNode({
        suite: 'latency',
        variant: variant.replace(/-busy$/, ''),
        description,
        frames: liveFrames,
        rate: 30,
        busyMs: variant.endsWith('-busy') ? 10 : 0,
      }),
  });
}

// --- other processes ---------------------------------------------------------------------------
// The figures are this process tree's CPU, but a process of someone else's busy on these 2 cores
// slows ours all the same (caches, the other core, the hypervisor): a forgotten run in the
// background once made every figure of a session ~10% worse and changed which variant looked
// best. So the CPU of every other process (all of /proc but this one; the children of a run have
// exited by the time it is read) is read around each run, and the bench says when it was busy.

const TICK_MS = 1000 / 100; // USER_HZ, 100 on Linux
function otherProcesses() {
  const cpu = new Map(); // pid -> [name, ticks]
  let names;
  try {
    names = readdirSync('/proc');
  } catch {
    return null; // not Linux: no figure
  }
  for (const pid of names) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      cpu.set(pid, [stat.slice(stat.indexOf('(') + 1, close), Number(fields[11]) + Number(fields[12])]);
    } catch {
      // exited meanwhile
    }
  }
  return cpu;
}
// CPU ms of other processes between two snapshots, with the busiest names.
function othersBetween(before, after) {
  if (!before || !after) return null;
  const busy = [];
  for (const [pid, [name, ticks]] of after) {
    const d = ticks - (before.get(pid)?.[1] ?? 0);
    if (d > 0) busy.push([name, d * TICK_MS]);
  }
  busy.sort((a, b) => b[1] - a[1]);
  return { ms: busy.reduce((a, [, ms]) => a + ms, 0), top: busy.slice(0, 3) };
}
const OTHERS_WARN = 0.1; // of one core
const disturbed = []; // runs during which other processes were busy
{
  const before = otherProcesses();
  await new Promise((r) => setTimeout(r, 1000));
  const idle = othersBetween(before, otherProcesses());
  if (idle && idle.ms / 1000 > OTHERS_WARN) {
    const top = idle.top.map(([n, ms]) => `${n} ${((ms / 1000) * 100).toFixed(0)}%`).join(', ');
    console.error(
      `bench: WARNING: other processes use ${((idle.ms / 1000) * 100).toFixed(0)}% of a core before the run (${top}): the figures will be off`,
    );
  }
}

// --- rounds --------------------------------------------------------------------------------------

function shuffle(a) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
const median = (xs) => {
  const v = xs.filter((x) => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

const samples = new Map(); // "suite key variant" -> [run]
const sampleKey = (w, variant) => `${w.suite} ${w.key} ${variant}`;
const started = Date.now();
for (let round = 1; round <= rounds; round++) {
  for (const w of work) {
    for (const variant of shuffle([...w.variants])) {
      const before = otherProcesses();
      const t = performance.now();
      const r = await w.run(variant);
      const others = othersBetween(before, otherProcesses());
      // As a share of one core over the run (gst-launch floors: both of their runs).
      r.otherCpuPercent = others ? (others.ms / (performance.now() - t)) * 100 : null;
      const key = sampleKey(w, variant);
      if (others && r.otherCpuPercent > OTHERS_WARN * 100) disturbed.push({ key, round, percent: r.otherCpuPercent, top: others.top });
      if (!samples.has(key)) samples.set(key, []);
      samples.get(key).push(r);
      process.stderr.write(`\rround ${round}/${rounds}  ${key.padEnd(48)} ${(r.cpuMs / r.measuredFrames).toFixed(3)} ms/frame   `);
    }
  }
}
process.stderr.write('\n');

// --- figures -------------------------------------------------------------------------------------

const rows = [];
for (const w of work) {
  const floorRuns = samples.get(sampleKey(w, 'floor'));
  const floorCpu = floorRuns ? median(floorRuns.map((r) => r.cpuMs / r.measuredFrames)) : null;
  const queueRuns = samples.get(sampleKey(w, 'queue-floor'));
  const queueCpu = queueRuns ? median(queueRuns.map((r) => r.cpuMs / r.measuredFrames)) : null;
  const readerRuns = samples.get(sampleKey(w, 'reader-floor'));
  const readerCpu = readerRuns ? median(readerRuns.map((r) => r.cpuMs / r.measuredFrames)) : null;
  for (const variant of w.variants) {
    const runs = samples.get(sampleKey(w, variant));
    const cpu = median(runs.map((r) => r.cpuMs / r.measuredFrames));
    const perFrame = runs.map((r) => r.cpuMs / r.measuredFrames);
    rows.push({
      suite: w.suite,
      ...w.fields,
      variant,
      rounds: runs.length,
      cpuMsPerFrame: cpu,
      cpuMsPerFrameMin: Math.min(...perFrame),
      cpuMsPerFrameMax: Math.max(...perFrame),
      wallMs: median(runs.map((r) => r.wallMs)),
      fps: median(runs.map((r) => (r.measuredFrames * 1000) / r.wallMs)),
      consumerMsPerFrame: median(runs.map((r) => r.consumerMs / r.measuredFrames)),
      ratioToFloor: floorCpu ? cpu / floorCpu : null,
      ratioToQueueFloor: queueCpu ? cpu / queueCpu : null,
      ratioToReaderFloor: readerCpu ? cpu / readerCpu : null,
      ratioToFloorWithoutConsumer: floorCpu ? median(runs.map((r) => (r.cpuMs - r.consumerMs) / r.measuredFrames)) / floorCpu : null,
      overheadMsPerFrame: floorCpu !== null ? cpu - floorCpu : null,
      latencyP50Ms: median(runs.map((r) => r.latencyP50Ms)),
      latencyP99Ms: median(runs.map((r) => r.latencyP99Ms)),
      latencyMaxMs: median(runs.map((r) => r.latencyMaxMs)),
      peakRssBytes: median(runs.map((r) => r.peakRssBytes)),
      zeroCopyPercent: median(runs.map((r) => r.zeroCopyPercent)),
      copiedFrames: median(runs.map((r) => r.copiedFrames)),
      droppedFrames: median(runs.map((r) => r.droppedFrames)),
      decoder: runs.find((r) => r.decoder)?.decoder ?? null,
      decoderFrames: median(runs.map((r) => r.decoderFrames)),
      otherCpuPercentMax: runs.some((r) => r.otherCpuPercent === null) ? null : Math.max(...runs.map((r) => r.otherCpuPercent)),
    });
  }
}

function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /Model name:\s*(.+)/.exec(execFileSync('lscpu', { encoding: 'utf8' }));
    if (m) cpu = m[1].trim();
  } catch {
    // no lscpu: the CPU stays unnamed in the report
  }
  const gst = /version (\S+)/.exec(execFileSync('gst-launch-1.0', ['--version'], { encoding: 'utf8' }))?.[1];
  return {
    cpu,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    gstreamer: gst,
    node: process.versions.node,
    loadAverage: os.loadavg().map((l) => +l.toFixed(2)),
  };
}

const fmt = (v, d) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
const mib = (b) => fmt(b / 2 ** 20, 0);
// The first `text` columns are left-aligned, the figures after them right-aligned.
// A markdown table of `rows`: each column a [header, cell(row)] pair; the first `text` columns are
// left-aligned, the rest (numbers) right-aligned.
function markdown(rows, columns, text) {
  return [
    `| ${columns.map(([h]) => h).join(' | ')} |`,
    `|${columns.map((c, i) => (i < text ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${columns.map(([, cell]) => cell(r)).join(' | ')} |`),
  ].join('\n');
}
// Columns more than one table shows.
const COL = {
  variant: ['variant', (r) => r.variant],
  cpu: ['CPU ms/frame', (r) => fmt(r.cpuMsPerFrame, 3)],
  ratio: ['× floor', (r) => fmt(r.ratioToFloor, 2)],
  overhead: ['+ms/frame', (r) => fmt(r.overheadMsPerFrame, 3)],
  consumer: ['consumer ms', (r) => fmt(r.consumerMsPerFrame, 3)],
  wall: ['wall ms', (r) => fmt(r.wallMs, 0)],
  fps: ['fps', (r) => fmt(r.fps, 0)],
  p50: ['lat p50 ms', (r) => fmt(r.latencyP50Ms, 2)],
  p99: ['lat p99 ms', (r) => fmt(r.latencyP99Ms, 2)],
  rss: ['peak RSS MiB', (r) => mib(r.peakRssBytes)],
  zeroCopy: ['zero-copy %', (r) => fmt(r.zeroCopyPercent, 0)],
};
const TABLES = {
  synthetic: (rs) =>
    markdown(
      rs,
      [
        ['size', (r) => r.size],
        ['format', (r) => r.format],
        COL.variant,
        COL.cpu,
        COL.ratio,
        COL.overhead,
        COL.consumer,
        ['× floor w/o consumer', (r) => fmt(r.ratioToFloorWithoutConsumer, 2)],
        ['× queue floor', (r) => fmt(r.ratioToQueueFloor, 2)],
        ['× reader floor', (r) => fmt(r.ratioToReaderFloor, 2)],
        COL.wall,
        COL.fps,
        COL.p50,
        COL.p99,
        COL.rss,
        COL.zeroCopy,
      ],
      3,
    ),
  decode: (rs) =>
    markdown(
      rs,
      [
        ['file', (r) => `${r.codec} ${r.size}`],
        COL.variant,
        ['decoder', (r) => r.decoder ?? '-'],
        COL.cpu,
        COL.ratio,
        ['× queue floor', (r) => fmt(r.ratioToQueueFloor, 2)],
        ['× reader floor', (r) => fmt(r.ratioToReaderFloor, 2)],
        COL.overhead,
        COL.consumer,
        COL.fps,
        ['copied by us', (r) => (r.copiedFrames === null ? '-' : `${fmt(r.copiedFrames, 0)}/${r.frames}`)],
        COL.zeroCopy,
        COL.rss,
      ],
      3,
    ),
  streams: (rs) =>
    markdown(
      rs,
      [
        ['streams', (r) => `${r.streams}× ${r.size} ${r.format}`],
        COL.variant,
        ['CPU ms/frame (all streams)', (r) => fmt(r.cpuMsPerFrame, 3)],
        COL.ratio,
        COL.overhead,
        COL.wall,
        ['frames/s (all)', (r) => fmt(r.fps, 0)],
        ['peak RSS MiB (floor: sum)', (r) => mib(r.peakRssBytes)],
        COL.zeroCopy,
      ],
      2,
    ),
  gpu: (rs) =>
    markdown(
      rs,
      [
        ['file', (r) => `${r.codec} ${r.size}`],
        ['frames in', (r) => (r.output === 'cuda' ? 'CUDA memory' : 'system memory (NV12)')],
        COL.variant,
        ['decoder', (r) => r.decoder ?? '-'],
        COL.cpu,
        COL.ratio,
        COL.overhead,
        COL.fps,
        ['copied by us', (r) => (r.copiedFrames === null ? '-' : `${fmt(r.copiedFrames, 0)}/${r.frames}`)],
        COL.rss,
      ],
      3,
    ),
  latency: (rs) =>
    markdown(
      rs,
      [
        ['source', (r) => `${r.size} ${r.format} live ${r.rate} fps`],
        COL.variant,
        COL.p50,
        COL.p99,
        ['lat max ms', (r) => fmt(r.latencyMaxMs, 2)],
        COL.cpu,
        ['dropped', (r) => fmt(r.droppedFrames, 0)],
        COL.zeroCopy,
      ],
      2,
    ),
};

const result = {
  date: new Date().toISOString(),
  machine: machine(),
  settings: {
    rounds,
    suites,
    sizes,
    formats,
    variants,
    frames: {
      ...Object.fromEntries(sizes.map((s) => [s, framesFor(s)])),
      ...(suites.includes('decode') ? { decode: Object.fromEntries(sizes.map((s) => [s, decodeFramesFor(s)])) } : {}),
      streams: streamFrames,
      live: liveFrames,
      gpu: gpuFrames,
    },
    quick: !!args.quick,
    seconds: Math.round((Date.now() - started) / 1000),
  },
  skipped,
  disturbed,
  definitions: {
    cpuMsPerFrame:
      'process CPU (user + system, all threads) per frame, median over rounds; Node variants: from the arrival of frame 20 in JS to the last (steady state: start-up and the first touch of ring slots excluded); floor: gst-launch with N frames minus gst-launch with 20 frames (wait4 rusage); streams: all sources together, from the moment each has delivered 20 frames, over every frame delivered after it; floor: 8 gst-launch at once, summed',
    ratioToFloor: 'cpuMsPerFrame / the floor cpuMsPerFrame of the same work',
    ratioToQueueFloor:
      'synthetic and decode: cpuMsPerFrame / the queue-floor cpuMsPerFrame (gst-launch … ! queue ! fakesink: GStreamer handing each frame to a second thread)',
    ratioToReaderFloor:
      'synthetic and decode: cpuMsPerFrame / the reader-floor cpuMsPerFrame (the queue floor with its second thread reading one byte of every 4 KiB page of each frame, as the JS consumer does; bench/appsink-copy/reader_floor.c, measured as gst-launch is)',
    overheadMsPerFrame: 'cpuMsPerFrame minus the floor cpuMsPerFrame',
    consumerMsPerFrame:
      'time the JS consumer itself took per frame (performance.now around it, on the JS thread); the floor has no consumer',
    ratioToFloorWithoutConsumer: '(CPU minus consumer time) per frame / the floor cpuMsPerFrame: what frame-source itself adds',
    latency:
      "buffer pushed into the sink element (a GstTracer pad-push-pre hook in bench/appsink-copy, CLOCK_MONOTONIC) -> the frame's JS code runs; p50/p99/max over the run's frames after the 20th, median over rounds. Non-live sources run flat out, so waiting in the sink's queue is included",
    consumer: 'every variant that reaches JS reads one byte of every 4 KiB page of each frame (node-av: of each plane)',
    busy: 'latency suite, frame-source-busy: 10 ms of synchronous JS work after each frame',
    copiedFrames: 'decode suite: frames frame-source itself copied into a slot (stats.copiedFrames), median over rounds',
    decoderFrames: 'frames a software decoder copied into its slot itself (stats.decoderFrames): its own one copy, as into any sink',
    otherCpuPercentMax:
      "CPU that every other process on the machine used during the row's runs (/proc, 10 ms ticks), in % of one core over each run; the highest of the rounds. `disturbed` lists the runs above 10%",
  },
  labels: LABELS,
  rows,
  runs: Object.fromEntries(samples),
};
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(path.join(outDir, 'latest.svg'), renderChart(result));
const m = result.machine;
console.log(
  `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.os}; GStreamer ${m.gstreamer}; Node.js ${m.node}; load average at the end ${m.loadAverage.join(' ')}`,
);
console.log(
  `${rounds} rounds, medians; frames per run: ${Object.entries(result.settings.frames)
    .map(([k, v]) =>
      typeof v === 'object'
        ? `${k} ${Object.entries(v)
            .map(([s, n]) => `${s} ${n}`)
            .join('/')}`
        : `${k} ${v}`,
    )
    .join(', ')}`,
);
for (const s of skipped) console.log(`SKIPPED: ${s}`);
for (const suite of suites) {
  const rs = rows.filter((r) => r.suite === suite);
  if (rs.length) console.log(`\n${suite}\n\n${TABLES[suite](rs)}`);
}
if (disturbed.length > 0) {
  const worst = [...disturbed].sort((a, b) => b.percent - a.percent).slice(0, 5);
  console.log(
    `\nWARNING: other processes were busy during ${disturbed.length} of ${[...samples.values()].flat().length} runs, ` +
      `up to ${worst[0].percent.toFixed(0)}% of a core; those rows may be off (run again on an idle machine):`,
  );
  for (const d of worst)
    console.log(`  round ${d.round} ${d.key}: ${d.percent.toFixed(0)}% (${d.top.map(([n, ms]) => `${n} ${ms.toFixed(0)} ms`).join(', ')})`);
}
console.log(`\nJSON: ${JSON.stringify({ machine: m, rows })}`);
console.log(`\nwrote ${path.relative(process.cwd(), path.join(outDir, 'latest.json'))} and latest.svg`);
