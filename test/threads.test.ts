// Worker threads: frames handed to a worker without a copy, a source running inside a worker,
// and a worker terminated while it holds frames.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { FrameSource, type Frame } from '../lib/index';
import { ROOT, within } from './helpers';

const DIST = path.join(ROOT, 'dist', 'index.cjs');
const fixture = (name: string): string => path.join(__dirname, 'fixtures', name);

function nextMessage<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

it('hands frames to a worker through the SharedArrayBuffer, with no copy, and releases them after', async () => {
  const worker = new Worker(fixture('handoff-worker.js'));
  try {
    const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=10 pattern=ball ! video/x-raw,format=RGBA,width=320,height=240' });
    let handed = 0;
    for await (const frame of source) {
      let sum = 0;
      for (let i = 0; i < frame.data.length; i++) sum = (sum + frame.data[i]!) >>> 0;
      const kept: Frame = frame.keep();
      worker.postMessage({ sequence: frame.sequence, data: frame.data });
      const reply = await nextMessage<{ sequence: number; sum: number; shared: boolean }>(worker);
      expect(reply).toEqual({ sequence: frame.sequence, sum, shared: true });
      // The worker's write is visible here: both threads see one piece of memory.
      expect(kept.data[0]).toBe((frame.sequence * 7 + 1) & 0xff);
      kept.release();
      handed++;
    }
    expect(handed).toBe(10);
    expect(source.stats.zeroCopyFrames).toBe(10);
    expect(source.stats.heldFrames).toBe(0);
  } finally {
    await worker.terminate();
  }
});

it('runs a FrameSource inside a worker thread', async () => {
  const pipeline = 'videotestsrc num-buffers=20 ! video/x-raw,format=I420,width=320,height=240';
  const worker = new Worker(fixture('source-in-worker.js'), { workerData: { dist: DIST, pipeline, mode: 'read' } });
  const msg = await within(20000, nextMessage<{ stats: { frames: number; zeroCopyFrames: number }; error?: string }>(worker), 'worker');
  expect(msg.error).toBeUndefined();
  expect(msg.stats.frames).toBe(20);
  expect(msg.stats.zeroCopyFrames).toBe(20);
  await worker.terminate();
});

it('survives terminating a worker that holds frames mid-stream, again and again', async () => {
  for (let i = 0; i < 3; i++) {
    const worker = new Worker(fixture('source-in-worker.js'), {
      workerData: { dist: DIST, pipeline: 'videotestsrc ! video/x-raw,format=RGBA,width=320,height=240', mode: 'hold' },
    });
    const msg = await within(20000, nextMessage<{ holding: number; error?: string }>(worker), 'worker');
    expect(msg.error).toBeUndefined();
    expect(msg.holding).toBe(3);
    const code = await within(10000, worker.terminate(), 'worker.terminate()');
    expect(code).toBe(1);
  }
  // This thread still works after the workers' environments were torn down.
  const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=3 ! video/x-raw,width=64,height=64' });
  let n = 0;
  for await (const _f of source) n++;
  expect(n).toBe(3);
});
