// Hand frames to a worker without copying: post frame.data (a view on a SharedArrayBuffer), and
// release the frame when the worker says it is done with it.
//   node examples/worker-handoff.mjs [frames]
import { Worker } from 'node:worker_threads';
import { FrameSource } from 'frame-source';

const frames = Number(process.argv[2] ?? 60);
// A count that is not a number would never be reached, and the default source never ends.
if (!Number.isInteger(frames) || frames < 1) {
  console.error(`usage: node examples/worker-handoff.mjs [frames]: frames must be a positive integer; got '${process.argv[2]}'`);
  process.exit(2);
}
const source = new FrameSource({
  pipeline: `videotestsrc num-buffers=${frames} pattern=ball ! video/x-raw,format=GRAY8,width=640,height=480`,
  ringSize: 8,
});
const worker = new Worker(new URL('./handoff-worker.mjs', import.meta.url));
const inFlight = new Map(); // sequence -> frame the worker is reading
let wake = null;

worker.on('message', ({ sequence, mean }) => {
  inFlight.get(sequence).release(); // the slot goes back to GStreamer only now
  inFlight.delete(sequence);
  if (sequence % 20 === 0) console.log(`frame ${sequence}: mean brightness ${mean.toFixed(1)} (computed in the worker)`);
  wake?.();
});

for await (const frame of source) {
  if (frame.data.buffer instanceof SharedArrayBuffer === false) throw new Error('needs SharedArrayBuffer');
  inFlight.set(frame.sequence, frame.keep());
  worker.postMessage({
    sequence: frame.sequence,
    data: frame.data,
    width: frame.width,
    height: frame.height,
    stride: frame.layout[0].stride,
  });
  // Keep some slots free for GStreamer: wait while the worker holds most of the ring.
  while (inFlight.size >= source.options.ringSize - 2) await new Promise((r) => (wake = r));
}
while (inFlight.size > 0) await new Promise((r) => (wake = r));
const s = source.stats;
console.log(`${s.deliveredFrames} frames through the worker, zero-copy ${s.zeroCopyFrames}/${s.frames}, held now ${s.heldFrames}`);
await worker.terminate();
