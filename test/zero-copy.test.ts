// Frames reach JS with no copy: GStreamer writes them into the ring's SharedArrayBuffer slots, and
// the bytes equal what gst-launch-1.0 itself produces for the same pipeline.
import { FrameSource, type Frame } from '../lib/index';
import { collect, gstDump, referenceFrames } from './helpers';

const N = 12;
const CASES: Array<[string, string]> = [
  ['RGBA', `videotestsrc num-buffers=${N} pattern=ball ! video/x-raw,format=RGBA,width=320,height=240`],
  ['BGRA odd size', `videotestsrc num-buffers=${N} pattern=smpte horizontal-speed=3 ! video/x-raw,format=BGRA,width=1278,height=719`],
  ['I420', `videotestsrc num-buffers=${N} pattern=ball ! video/x-raw,format=I420,width=640,height=360`],
  ['I420 odd size', `videotestsrc num-buffers=${N} pattern=ball ! video/x-raw,format=I420,width=1278,height=719`],
  ['NV12 odd size', `videotestsrc num-buffers=${N} pattern=ball ! video/x-raw,format=NV12,width=1278,height=719`],
  [
    'videoconvert',
    `videotestsrc num-buffers=${N} pattern=ball ! video/x-raw,format=I420,width=320,height=240 ! videoconvert ! video/x-raw,format=RGBA`,
  ],
  [
    'videoconvert + videoscale',
    `videotestsrc num-buffers=${N} pattern=ball ! video/x-raw,format=NV12,width=1278,height=719 ! videoconvert ! videoscale ! video/x-raw,format=BGRx,width=333,height=201`,
  ],
];

describe.each(CASES)('%s', (_name, pipeline) => {
  it('delivers every frame zero-copy, byte-identical to a gst-launch-1.0 dump, plane by plane', async () => {
    const source = new FrameSource({ pipeline });
    const { frames, formats } = await collect(source);
    const stats = source.stats;

    expect(frames).toHaveLength(N);
    expect(stats.frames).toBe(N);
    expect(stats.zeroCopyFrames).toBe(stats.frames);
    expect(stats.copiedFrames).toBe(0);
    expect(stats.bytesCopied).toBe(0);
    expect(frames.every((f) => !f.copied)).toBe(true);
    expect(frames.map((f) => f.sequence)).toEqual([...Array(N).keys()]);
    expect(formats).toHaveLength(1);

    const reference = referenceFrames(gstDump(pipeline), formats[0]!);
    expect(reference).toHaveLength(N);
    frames.forEach((f, i) => {
      expect(f.visible.length).toBe(reference[i]!.length);
      expect(f.visible.equals(reference[i]!)).toBe(true);
    });
    // Not all identical: the comparison would catch frames delivered out of order or stale.
    expect(reference[0]!.equals(reference[N - 1]!)).toBe(false);
  });
});

it('makes frame.data a view on a SharedArrayBuffer, page-aligned in memory', async () => {
  const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=3 ! video/x-raw,format=RGBA,width=1920,height=1080' });
  for await (const frame of source) {
    expect(frame.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(frame.data.byteLength).toBe(1920 * 1080 * 4);
    expect(frame.layout).toEqual([{ offset: 0, stride: 7680 }]);
    expect(frame.format).toBe('RGBA');
    expect(frame.width).toBe(1920);
    expect(frame.height).toBe(1080);
  }
  expect(source.stats.memory).toBe('shared');
  expect(source.stats.zeroCopyFrames).toBe(3);
});

it('falls back to V8-owned ArrayBuffers, still zero-copy, when SharedArrayBuffer is not used', async () => {
  const pipeline = 'videotestsrc num-buffers=6 pattern=ball ! video/x-raw,format=I420,width=320,height=240';
  const source = new FrameSource({ pipeline, sharedMemory: false });
  const seen: boolean[] = [];
  source.on('format', () => undefined);
  const { frames, formats } = await collect(source);
  for (const f of frames) seen.push(f.copied);
  expect(source.stats.memory).toBe('arraybuffer');
  expect(source.stats.zeroCopyFrames).toBe(6);
  expect(seen.every((c) => !c)).toBe(true);
  const reference = referenceFrames(gstDump(pipeline), formats[0]!);
  frames.forEach((f, i) => expect(f.visible.equals(reference[i]!)).toBe(true));
});

it('gives WebCodecs names, timestamps in µs and a VideoFrameBufferInit', async () => {
  const source = new FrameSource({
    pipeline: 'videotestsrc num-buffers=2 ! video/x-raw,format=NV12,width=64,height=48,framerate=25/1',
  });
  const frames = [];
  for await (const frame of source)
    frames.push({ ts: frame.timestamp, dur: frame.duration, init: frame.toVideoFrameInit(), fmt: frame.format });
  expect(frames.map((f) => f.ts)).toEqual([0, 40000]);
  expect(frames[0]!.dur).toBe(40000);
  expect(frames[0]!.fmt).toBe('NV12');
  expect(frames[1]!.init).toEqual({
    format: 'NV12',
    codedWidth: 64,
    codedHeight: 48,
    timestamp: 40000,
    duration: 40000,
    layout: [
      { offset: 0, stride: 64 },
      { offset: 64 * 48, stride: 64 },
    ],
    // GStreamer's default for SD YUV is BT.601 (bt601 in the caps): WebCodecs' names for it.
    colorSpace: { matrix: 'smpte170m', primaries: 'smpte170m', transfer: 'smpte170m', fullRange: false },
  });
});

it('uses the built-in test source when given no options', async () => {
  const source = new FrameSource();
  let count = 0;
  for await (const frame of source) {
    expect(frame.format).toBe('RGBA');
    expect([frame.width, frame.height]).toEqual([1280, 720]);
    if (++count === 5) break;
  }
  expect(count).toBe(5);
  expect(source.state).toBe('closed');
  expect(source.stats.zeroCopyFrames).toBeGreaterThanOrEqual(5);
});

it("a CPU frame's download() is its data (no copy, nothing counted), and rejects after release", async () => {
  const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=2 ! video/x-raw,format=RGBA,width=64,height=48' });
  const frame = (await source.read())!;
  expect(await frame.download()).toBe(frame.data);
  expect(source.stats.downloadedFrames).toBe(0);
  frame.release();
  await expect(frame.download()).rejects.toMatchObject({ code: 'ERR_FRAME_RELEASED' });
  await source.close();
});

it('writes each frame into the slot returned last, so a steady reader keeps few slots in use however far the ring grew', async () => {
  // 50 fps, sync: a frame every 20 ms, each read and released long before the next. Holding 8
  // frames first grows the ring to 8+ slots. GstBufferPool's own queue (first in, first out) would
  // then write the frames into every slot in turn, each long out of the CPU's caches.
  const source = new FrameSource({
    pipeline: 'videotestsrc num-buffers=60 pattern=ball ! video/x-raw,format=RGBA,width=320,height=240,framerate=50/1',
    sync: true,
    ringSize: 8,
  });
  const frames = source[Symbol.asyncIterator]();
  const held: Frame[] = [];
  for (let i = 0; i < 8; i++) held.push(((await frames.next()).value as Frame).keep());
  held.forEach((f) => f.release());
  const slots = new Set<ArrayBufferLike>();
  let n = 0;
  for (let r = await frames.next(); !r.done; r = await frames.next()) {
    if (++n > 5) slots.add(r.value.data.buffer); // after the burst has settled
  }
  expect(n).toBe(52);
  expect(source.stats.slots).toBeGreaterThanOrEqual(8);
  expect(slots.size).toBeLessThanOrEqual(3); // the frame read, the one written, one to spare
});
