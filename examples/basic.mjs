// The main job on the built-in default source: open it, pull frames, say what arrived.
//   node examples/basic.mjs [frames] [pipeline]
import { FrameSource, gstreamerVersion } from 'frame-source';

const count = Number(process.argv[2] ?? 120);
// A count that is not a number would never be reached, and the default source never ends.
if (!Number.isInteger(count) || count < 1) {
  console.error(`usage: node examples/basic.mjs [frames] [pipeline]: frames must be a positive integer; got '${process.argv[2]}'`);
  process.exit(2);
}
const pipeline = process.argv[3];
const source = new FrameSource(pipeline ? { pipeline } : {});
source.on('format', (f) => console.log(`format: ${f.format} ${f.width}x${f.height} @ ${f.framerate ?? '?'} fps`));

const started = performance.now();
const cpu = process.cpuUsage();
let n = 0;
let checksum = 0;
for await (const frame of source) {
  checksum = (checksum + frame.data[(frame.data.length >> 1) & ~3]) >>> 0; // touch the pixels
  if (++n >= count) break;
}
const used = process.cpuUsage(cpu);
const s = source.stats;
const ms = performance.now() - started;
console.log(`GStreamer ${gstreamerVersion()}: ${n} frames in ${ms.toFixed(0)} ms (${((n * 1000) / ms).toFixed(1)} fps)`);
console.log(`zero-copy ${s.zeroCopyFrames}/${s.frames}, copied ${s.copiedFrames} (${s.bytesCopied} bytes), dropped ${s.droppedFrames}`);
console.log(`CPU ${((used.user + used.system) / 1000 / n).toFixed(2)} ms per frame; memory: ${s.memory}; checksum ${checksum}`);
