// Resolution changes mid-stream: 1080p -> 720p -> 4K from a real decoder (pngdec), all zero-copy,
// with frames of the earlier sizes held across the changes.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { FrameSource, type Frame, type VideoFormat } from '../lib/index';
import { gstDump, referenceFrames, tempDir, visibleBytes } from './helpers';

const IMAGES: Array<[number, number, string]> = [
  [1920, 1080, 'smpte'],
  [1920, 1080, 'ball'],
  [1280, 720, 'checkers-8'],
  [1280, 720, 'ball'],
  [3840, 2160, 'smpte75'],
  [3840, 2160, 'circular'],
];
let dir: string;

beforeAll(() => {
  dir = tempDir();
  IMAGES.forEach(([w, h, pattern], i) => {
    execFileSync('gst-launch-1.0', [
      '-q',
      'videotestsrc',
      'num-buffers=1',
      `pattern=${pattern}`,
      '!',
      `video/x-raw,width=${w},height=${h}`,
      '!',
      'pngenc',
      'compression-level=1',
      '!',
      'filesink',
      `location=${path.join(dir, `img${i}.png`)}`,
    ]);
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('emits a format event per change, delivers new geometry zero-copy, and keeps held frames intact', async () => {
  const pipeline = `multifilesrc location=${path.join(dir, 'img%d.png')} stop-index=${IMAGES.length - 1} caps=image/png,framerate=30/1 ! pngdec ! videoconvert ! video/x-raw,format=RGBA`;
  const source = new FrameSource({ pipeline, ringSize: 4 });
  const formats: VideoFormat[] = [];
  source.on('format', (f) => formats.push(f));
  const held: Array<{ frame: Frame; copy: Buffer }> = [];
  for await (const frame of source) {
    expect([frame.width, frame.height]).toEqual(IMAGES[frame.sequence]!.slice(0, 2));
    expect(frame.data.byteLength).toBe(frame.width * frame.height * 4);
    // Hold the first frame of each size through the later changes.
    if (frame.sequence % 2 === 0) held.push({ frame: frame.keep(), copy: Buffer.from(frame.data) });
  }
  expect(formats.map((f) => [f.width, f.height])).toEqual([
    [1920, 1080],
    [1280, 720],
    [3840, 2160],
  ]);
  const stats = source.stats;
  expect(stats.frames).toBe(IMAGES.length);
  expect(stats.zeroCopyFrames).toBe(stats.frames);

  for (const { frame, copy } of held) {
    expect(Buffer.from(frame.data).equals(copy)).toBe(true);
    const i = frame.sequence;
    const ref = referenceFrames(
      gstDump(`filesrc location=${path.join(dir, `img${i}.png`)} ! pngdec ! videoconvert ! video/x-raw,format=RGBA`),
      frame.videoFormat,
    );
    expect(visibleBytes(frame.data, 'RGBA', frame.width, frame.height, frame.layout).equals(ref[0]!)).toBe(true);
    frame.release();
  }
  expect(source.stats.heldFrames).toBe(0);
});
