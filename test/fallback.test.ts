// When upstream ignores the pool, frames are copied into a slot, counted, and byte-identical.
import { FrameSource } from '../lib/index';
import { collect, gstDump, referenceFrames } from './helpers';

const N = 10;

it.each([
  ['RGBA', `videotestsrc num-buffers=${N} pattern=ball ! video/x-raw,format=RGBA,width=320,height=240`],
  ['I420 odd size', `videotestsrc num-buffers=${N} pattern=ball ! video/x-raw,format=I420,width=1278,height=719`],
])('%s: copies every frame, counts it, and delivers the same bytes', async (_name, upstream) => {
  const pipeline = `${upstream} ! identity drop-allocation=true`;
  const source = new FrameSource({ pipeline });
  const { frames, formats } = await collect(source);
  const stats = source.stats;
  expect(frames).toHaveLength(N);
  expect(stats.copiedFrames).toBe(N);
  expect(stats.copiedFrames).toBe(stats.frames);
  expect(stats.zeroCopyFrames).toBe(0);
  expect(stats.bytesCopied).toBe(N * formats[0]!.byteLength);
  expect(frames.every((f) => f.copied)).toBe(true);

  const reference = referenceFrames(gstDump(upstream), formats[0]!);
  expect(reference).toHaveLength(N);
  frames.forEach((f, i) => expect(f.visible.equals(reference[i]!)).toBe(true));
});
