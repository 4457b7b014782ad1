// Worker side of worker-handoff.mjs: reads the frame in place (same memory as the main thread).
import { parentPort } from 'node:worker_threads';

if (!parentPort) {
  // Run as a script, it has no one to answer: worker-handoff.mjs starts it as its worker.
  console.error('handoff-worker.mjs is the worker of worker-handoff.mjs; run: node examples/worker-handoff.mjs [frames]');
  process.exit(2);
}

parentPort.on('message', ({ sequence, data, width, height, stride }) => {
  let sum = 0;
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    for (let x = 0; x < width; x++) sum += data[row + x];
  }
  parentPort.postMessage({ sequence, mean: sum / (width * height) });
});
