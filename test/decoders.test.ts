// Software decoders write their output into the ring: a file through `uri` at its native format
// reaches JS with no copy by frame-source. avdec_* (gst-libav), vp8dec/vp9dec and av1dec copy each
// decoded picture into a slot (their own one copy, the one they make for any sink); the bytes are
// those gst-launch-1.0 decodes.
import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { FrameSource, type Frame } from '../lib/index';
import { collect, gstDump, referenceFrames, sleep, tempDir, within } from './helpers';
import { FRAMES, makeEncoded } from './media';

let dir: string;
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// [name, file maker, the gst-launch decode of the same file]
const CASES: Array<[string, () => string, (file: string) => string]> = [
  [
    // 1088 coded rows for 1080: avdec's own pool differs from the caps
    'H.264 1080p with B-frames',
    () => makeEncoded(dir, 'h264-1080p.mp4', '1920x1080', 'libx264'),
    (f) => `filesrc location=${f} ! qtdemux ! h264parse ! avdec_h264`,
  ],
  [
    // no padding rows: avdec would hand out its own buffers if we announced video meta
    'H.265 640x360',
    () => makeEncoded(dir, 'h265-640x360.mp4', '640x360', 'libx265', ['-x265-params', 'log-level=error']),
    (f) => `filesrc location=${f} ! qtdemux ! h265parse ! avdec_h265`,
  ],
  [
    // libaom decodes into frames of its own; av1dec copies each into a buffer it acquires from us
    'AV1 1280x720',
    () => makeEncoded(dir, 'av1-720p.mp4', '1280x720', 'libaom-av1'),
    (f) => `filesrc location=${f} ! qtdemux ! av1parse ! av1dec`,
  ],
  ['VP8 640x360', () => makeEncoded(dir, 'vp8-640x360.webm', '640x360', 'libvpx'), (f) => `filesrc location=${f} ! matroskademux ! vp8dec`],
];

describe.each(CASES)('%s through uri', (_name, make, reference) => {
  it('is written into the ring by its decoder: no copy by frame-source, the bytes gst-launch decodes', async () => {
    const file = make();
    const source = new FrameSource({ uri: pathToFileURL(file).href });
    const { frames, formats } = await within(60000, collect(source), 'decoding');
    const stats = source.stats;

    expect(frames).toHaveLength(FRAMES);
    expect(stats.copiedFrames).toBe(0);
    expect(stats.zeroCopyFrames).toBe(FRAMES);
    expect(stats.decoderFrames).toBe(FRAMES);
    expect(frames.every((f) => !f.copied)).toBe(true);
    expect(formats).toHaveLength(1);
    expect(formats[0]!.path).toBe('decoder');
    expect(formats[0]!.writer).toMatch(/^(avdec_h26[45]|av1dec|vp8dec)$/);
    expect(formats[0]!.writer).toBe(formats[0]!.decoder);

    const expected = referenceFrames(gstDump(reference(file)), formats[0]!);
    expect(expected).toHaveLength(FRAMES);
    frames.forEach((f, i) => expect(f.visible.equals(expected[i]!)).toBe(true));
    expect(expected[0]!.equals(expected[FRAMES - 1]!)).toBe(false);
  });
});

it('also with format: the same I420 through a videoconvert with nothing to do', async () => {
  const file = makeEncoded(dir, 'h264-640x360.mp4', '640x360', 'libx264');
  const source = new FrameSource({ uri: pathToFileURL(file).href, format: 'I420' });
  const { frames, formats } = await within(60000, collect(source), 'decoding');
  expect(frames).toHaveLength(FRAMES);
  expect(source.stats.copiedFrames).toBe(0);
  expect(formats[0]!.path).toBe('decoder');
  expect(formats[0]!.writer).toBe('avdec_h264');
});

it('grows the ring for the decoder references while the consumer holds ringSize - 1 frames', async () => {
  // 16 reference frames and B-frames: the decoder keeps up to ~17 slots of its own. They must not
  // count against what the consumer may hold, or the decoder and the consumer wait for each other.
  const file = makeEncoded(dir, 'h264-refs16.mp4', '320x240', 'libx264', ['-refs', '16', '-bf', '3'], 90);
  const source = new FrameSource({ uri: pathToFileURL(file).href, ringSize: 8 });
  const held: Frame[] = [];
  let n = 0;
  try {
    await within(
      20000,
      (async () => {
        for await (const frame of source) {
          n++;
          held.push(frame.keep());
          if (held.length > 7) held.shift()!.release();
        }
      })(),
      'decoding while holding 7 frames',
    );
  } finally {
    for (const f of held) f.release();
    await source.close();
  }
  expect(n).toBe(90);
  expect(source.stats.copiedFrames).toBe(0);
  expect(source.stats.decoderFrames).toBe(90);
  // More than maxSlots (2 x 8 + 2) would allow for the ring alone.
  expect(source.stats.slots).toBeGreaterThan(18);
});

it('vp9dec copies each picture into the ring itself: no copy by frame-source, the bytes gst-launch decodes', async () => {
  // libvpx decodes into buffers of vp9dec's own pool; told downstream takes no GstVideoMeta, vp9dec
  // copies each picture into a buffer of ours instead of pushing its own (which we then copied).
  // 1920x1080: the coded height (1088) differs from the caps.
  const file = makeEncoded(dir, 'vp9-1080p.webm', '1920x1080', 'libvpx-vp9', [], 12);
  const source = new FrameSource({ uri: pathToFileURL(file).href });
  const { frames, formats } = await within(60000, collect(source), 'decoding');
  expect(frames).toHaveLength(12);
  expect(formats[0]!.decoder).toBe('vp9dec');
  expect(formats[0]!.path).toBe('decoder');
  expect(formats[0]!.writer).toBe('vp9dec');
  expect(source.stats.copiedFrames).toBe(0);
  expect(source.stats.decoderFrames).toBe(12);
  const expected = referenceFrames(gstDump(`filesrc location=${file} ! matroskademux ! vp9dec`), formats[0]!);
  expect(expected).toHaveLength(12);
  frames.forEach((f, i) => expect(f.visible.equals(expected[i]!)).toBe(true));
});

it('stays bounded for other writers: videotestsrc gets a pool of ringSize + 1, path "upstream"', async () => {
  const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=64,height=48' });
  const { formats } = await collect(source);
  expect(formats[0]!.path).toBe('upstream');
  expect(formats[0]!.writer).toBe('videotestsrc');
  expect(source.stats.decoderFrames).toBe(0);
  expect(source.stats.zeroCopyFrames).toBe(5);
});

it('stops the decoder when the consumer stops reading: ringSize frames queue up, not the whole ring', async () => {
  // The decoder's growing pool has no max to stop it; the ring's limit leaves room for references.
  const file = makeEncoded(dir, 'h264-60.mp4', '320x240', 'libx264', [], 60);
  const source = new FrameSource({ uri: pathToFileURL(file).href, ringSize: 8 });
  try {
    const first = await source.read();
    expect(first).not.toBeNull();
    await sleep(1500);
    const s = source.stats;
    expect(s.queuedFrames).toBe(8);
    expect(s.frames).toBeLessThan(20);
    expect(s.slots).toBeLessThanOrEqual(2 * 8 + 2);
    first!.release();
    let n = 1;
    for (let f = await source.read(); f; f = await source.read()) {
      n++;
      f.release();
    }
    expect(n).toBe(60);
    expect(source.stats.copiedFrames).toBe(0);
  } finally {
    await source.close();
  }
});
