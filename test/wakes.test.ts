// How often GStreamer wakes the JS thread. A wake of a sleeping thread costs about as much CPU as
// handing over a 720p frame, so a source that runs as fast as it can wakes JS once per batch of up
// to 4 frames, unless they are big (stats.wakes); live and clock-synchronised sources wake it for every frame,
// and a batch cut short by a source that stalls still arrives (JS polls while batches are on).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { FrameSource } from '../lib/index';
import { ROOT, tempDir, within } from './helpers';

const DIST = path.join(ROOT, 'dist', 'index.cjs');
const CHILD = path.join(__dirname, 'fixtures', 'wake-ups-child.js');

// ~0.5 ms of GStreamer's work per frame here: JS, reading each frame at once, waits for every one.
const FAST = 'videotestsrc num-buffers=300 ! video/x-raw,format=RGBA,width=1280,height=720';

let dir: string;
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a source that runs as fast as it can wakes JS once per few frames, and loses and reorders nothing', async () => {
  // 0.9 MB frames: batches of 4.
  const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=300 ! video/x-raw,format=RGBA,width=640,height=360' });
  const sequences: number[] = [];
  for await (const frame of source) sequences.push(frame.sequence);
  expect(sequences).toEqual([...Array(300).keys()]);
  const { wakes } = source.stats;
  expect(wakes).toBeGreaterThan(0);
  // One wake per frame without batching; 75 with perfect batches of 4.
  expect(wakes).toBeLessThan(0.5 * 300);
});

it('frames larger than 4 MiB wake JS one by one, even from a fast source', async () => {
  // 1080p RGBA, 8.3 MB a frame: each frame a batch holds back keeps one more slot in use, which
  // costs more than the wake it saves (see kBatchMaxFrameBytes in csrc/pipeline.cc).
  const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=60 ! video/x-raw,format=RGBA,width=1920,height=1080' });
  let n = 0;
  for await (const frame of source) {
    expect(frame.sequence).toBe(n++);
  }
  expect(n).toBe(60);
  // JS, faster than the source, waits for nearly every frame: ~60 wakes (in batches of 4: ~15-20).
  expect(source.stats.wakes).toBeGreaterThan(0.6 * 60);
});

// strace, where it can trace (an apt package; a container may forbid ptrace): the event loop's waits.
// ('?': a system call this architecture lacks, such as epoll_wait on arm64, is left out.)
const strace = (() => {
  try {
    execFileSync('strace', ['-f', '-qq', '--seccomp-bpf', '-e', 'trace=none', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * Runs the wake-ups child (FAST frames) under strace, tracing `calls` besides the marks. Returns the
 * child's wake-ups in its window and the trace lines of its main (JS) thread in that window.
 */
function traceWindow(name: string, calls: string): { wakeUps: number; lines: string[] } {
  const log = path.join(dir, `${name}.log`);
  const out = execFileSync(
    'strace',
    ['-f', '-qq', '--seccomp-bpf', '-e', `trace=${calls},?stat,?newfstatat,statx`, '-o', log, process.execPath, CHILD, DIST, FAST],
    { encoding: 'utf8' },
  );
  const { frames, wakeUps } = JSON.parse(out.trim().split('\n').pop()!) as { frames: number; wakeUps: number };
  expect(frames).toBe(300);
  expect(wakeUps).toBeGreaterThan(0);
  const all = readFileSync(log, 'utf8').split('\n');
  const main = all[0]!.split(' ')[0];
  let inWindow = false;
  const lines: string[] = [];
  for (const line of all) {
    if (line.includes('/frame-source-mark-start')) inWindow = true;
    else if (line.includes('/frame-source-mark-end')) inWindow = false;
    else if (inWindow && line.startsWith(`${main} `) && !line.includes('resumed')) lines.push(line);
  }
  return { wakeUps, lines };
}

(strace ? it : it.skip)(
  'while batching, the event loop wakes up for wakes and polls only: never at the deadline of a poll a wake cancelled',
  () => {
    // With setTimeout/clearTimeout as the poll, Node's own libuv timer stayed armed for the cleared
    // deadline and woke the idle JS thread once more per batch: 3.2-3.6 epoll waits per wake-up here
    // (with or without other load), against 1.7-2.0 now (the wake's own, and one that returns at once).
    const { wakeUps, lines } = traceWindow('epoll', '?epoll_wait,epoll_pwait');
    const waits = lines.filter((line) => /epoll_p?wait\(/.test(line)).length;
    expect(waits).toBeGreaterThan(0);
    expect(waits / wakeUps).toBeLessThan(2.6);
  },
);

(strace ? it : it.skip)('a woken JS thread does not then sleep on a lock the waking streaming thread holds', () => {
  // The wake's eventfd write wakes JS, which re-arms or stops its poll at once. That used to take the
  // lock the streaming thread held around the write, still inside the write: JS slept on it (a
  // futex wait, a futex wake and two context switches) on 34-48 of ~80 wake-ups here, 0 now.
  const { wakeUps, lines } = traceWindow('futex', 'futex');
  const waits = lines.filter((line) => /futex\([^,]+, FUTEX_WAIT/.test(line)).length;
  expect(waits / wakeUps).toBeLessThan(0.1);
});
if (!strace) console.warn('SKIPPED: wakes.test.ts event-loop wake-ups and lock checks: strace is missing or may not trace here');

it('a live source wakes JS for every frame it waits for (no frame waits for a batch)', async () => {
  const source = new FrameSource({
    pipeline: 'videotestsrc is-live=true num-buffers=60 ! video/x-raw,format=RGBA,width=320,height=240,framerate=100/1',
  });
  let n = 0;
  for await (const _frame of source) n++;
  // A live source drops what JS is too late for (a loaded CI machine can be, now and then).
  expect(n + source.stats.droppedFrames).toBe(60);
  expect(n).toBeGreaterThanOrEqual(50);
  expect(source.stats.wakes).toBeGreaterThanOrEqual(0.9 * n);
});

it('with drop: true a fast source wakes JS for every frame: no batch (the queue would drop it)', async () => {
  const source = new FrameSource({ pipeline: FAST, drop: true });
  let n = 0;
  for await (const _frame of source) n++;
  const { wakes, droppedFrames } = source.stats;
  expect(n + droppedFrames).toBe(300);
  // JS keeps up with 720p: it waits for (nearly) every frame, and each one wakes it.
  expect(n).toBeGreaterThan(120);
  expect(wakes).toBeGreaterThanOrEqual(0.8 * n);
});

it('with sync: true every frame wakes JS too', async () => {
  const source = new FrameSource({
    pipeline: 'videotestsrc num-buffers=40 ! video/x-raw,format=RGBA,width=320,height=240,framerate=200/1',
    sync: true,
  });
  let n = 0;
  for await (const _frame of source) n++;
  expect(n).toBe(40);
  expect(source.stats.wakes).toBeGreaterThanOrEqual(0.9 * n);
});

it('frames of a burst reach JS within milliseconds when the source then stalls (not with the next burst)', async () => {
  // Raw 64x48 RGBA frames from a FIFO that a child process writes in bursts of 10, 0.8 ms apart
  // (fast enough to batch), the bursts 800 ms apart: each stall cuts a batch short. The queue keeps
  // rawvideoparse from trying pull mode, which would open the FIFO twice.
  const fifo = path.join(dir, 'bursts');
  execFileSync('mkfifo', [fifo]);
  const frameBytes = 64 * 48 * 4;
  const source = new FrameSource({
    pipeline: `filesrc location=${fifo} blocksize=${frameBytes} ! queue ! rawvideoparse format=rgba width=64 height=48 framerate=30/1`,
  });
  const writer = spawn(process.execPath, ['-e', BURSTS, fifo, String(frameBytes)], { stdio: 'ignore' });
  const arrivals: number[] = [];
  const t0 = Date.now();
  await within(
    10000,
    (async () => {
      for await (const _frame of source) arrivals.push(Date.now() - t0);
    })(),
    'both bursts',
  );
  writer.kill();
  expect(arrivals.length).toBe(20);
  // The second burst starts >= 800 ms after the first: every frame of the first came long before.
  const gap = arrivals[10]! - arrivals[9]!;
  expect(gap).toBeGreaterThan(500);
  expect(arrivals[9]! - arrivals[0]!).toBeLessThan(250);
  // What brought each burst's last frames: the poll (stats.polls), not the next burst.
  expect(source.stats.polls).toBeGreaterThan(0);
}, 15000);

// The burst writer (node -e BURSTS fifo frameBytes).
const BURSTS = `
const fs = require('node:fs');
const fd = fs.openSync(process.argv[1], 'w');
const frame = Buffer.alloc(Number(process.argv[2]), 7);
const spin = (ms) => { const end = performance.now() + ms; while (performance.now() < end); };
for (let b = 0; b < 2; b++) {
  for (let i = 0; i < 10; i++) { fs.writeSync(fd, frame); spin(0.8); }
  if (b === 0) spin(800);
}
fs.closeSync(fd);
`;
