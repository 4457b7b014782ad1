// Worker side of worker-handoff.mjs: reads the frame in place (same memory as the main thread).
import { parentPort } from 'node:worker_threads';

parentPort.on('message', ({ sequence, data, width, height, stride }) => {
  let sum = 0;
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    for (let x = 0; x < width; x++) sum += data[row + x];
  }
  parentPort.postMessage({ sequence, mean: sum / (width * height) });
});
