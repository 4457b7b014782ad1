// How often GStreamer wakes the JS thread. A wake of a sleeping thread costs about as much CPU as
// handing over a 720p frame, so a source that runs as fast as it can wakes JS once per batch of up
// to 4 frames (stats.wakes); live and clock-synchronised sources wake it for every frame, and a
// batch cut short by a source that stalls still arrives (JS polls while batches are on).
import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { FrameSource } from '../lib/index';
import { tempDir, within } from './helpers';

// ~0.5 ms of GStreamer's work per frame here: JS, reading each frame at once, waits for every one.
const FAST = 'videotestsrc num-buffers=300 ! video/x-raw,format=RGBA,width=1280,height=720';

let dir: string;
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a source that runs as fast as it can wakes JS once per few frames, and loses and reorders nothing', async () => {
  const source = new FrameSource({ pipeline: FAST });
  const sequences: number[] = [];
  for await (const frame of source) sequences.push(frame.sequence);
  expect(sequences).toEqual([...Array(300).keys()]);
  const { wakes } = source.stats;
  expect(wakes).toBeGreaterThan(0);
  // One wake per frame without batching; 75 with perfect batches of 4.
  expect(wakes).toBeLessThan(0.7 * 300);
});

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
