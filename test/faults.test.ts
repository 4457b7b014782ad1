// Faults while running: a corrupt file that errors mid-stream, a truncated file, end of stream
// before the first frame, caps that cannot be negotiated at run time, an element that refuses to
// change state, frame slots or a download that JS cannot allocate. Each gives a typed error (or a
// clean end), the iterator rejects, the process lives on, and every slot comes back.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { FrameSource, PipelineError, type Frame } from '../lib/index';
import { ROOT, sleep, tempDir } from './helpers';
import { makeWebm } from './media';
import { runFixture } from './run-node';

let dir: string;

function gst(...args: string[]): void {
  execFileSync('gst-launch-1.0', ['-q', ...args]);
}

beforeAll(() => {
  dir = tempDir();
  for (let i = 0; i < 5; i++) {
    gst(
      'videotestsrc',
      'num-buffers=1',
      `pattern=${i}`,
      '!',
      'video/x-raw,width=64,height=48',
      '!',
      'pngenc',
      '!',
      'filesink',
      `location=${path.join(dir, `img${i}.png`)}`,
    );
  }
  // Frame 2 of the sequence is corrupt: its bytes after the PNG signature are scrambled.
  const bad = readFileSync(path.join(dir, 'img2.png'));
  for (let i = 40; i < bad.length - 20; i++) bad[i]! ^= 0x5a;
  writeFileSync(path.join(dir, 'img2.png'), bad);

  const webm = makeWebm(dir, 'full.webm', { width: 160, height: 120, frames: 60 });
  const bytes = readFileSync(webm);
  writeFileSync(path.join(dir, 'half.webm'), bytes.subarray(0, bytes.length >> 1));
  writeFileSync(path.join(dir, 'header.webm'), bytes.subarray(0, 200));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function slotsBack(source: FrameSource): Promise<void> {
  while (source.stats.slotsInUse > 0) await sleep(5);
  expect(source.stats.heldFrames).toBe(0);
}

/** Iterates to the end; returns the frames seen and what the iterator threw, if anything. */
async function drain(source: FrameSource, keepEvery = 0): Promise<{ frames: number; error: unknown; held: Frame[] }> {
  let frames = 0;
  const held: Frame[] = [];
  try {
    for await (const frame of source) {
      frames++;
      if (keepEvery && frames % keepEvery === 0) held.push(frame.keep());
    }
  } catch (err) {
    return { frames, error: err, held };
  }
  return { frames, error: null, held };
}

it('rejects with a PipelineError when a file is corrupt mid-stream, after the good frames, keeping held frames intact', async () => {
  const pipeline = `multifilesrc location=${path.join(dir, 'img%d.png')} stop-index=4 caps=image/png,framerate=30/1 ! pngdec ! videoconvert ! video/x-raw,format=RGBA`;
  const source = new FrameSource({ pipeline, ringSize: 4 });
  const errors: Error[] = [];
  source.on('error', (e) => errors.push(e));
  const { frames, error, held } = await drain(source, 1);
  expect(frames).toBe(2);
  expect(error).toBeInstanceOf(PipelineError);
  expect(error).toMatchObject({ code: 'ERR_PIPELINE' });
  expect(errors).toEqual([error]);
  const copies = held.map((f) => Buffer.from(f.data));
  await source.close();
  expect(source.state).toBe('closed');
  await expect(source.read()).rejects.toBe(error);
  held.forEach((f, i) => expect(Buffer.from(f.data).equals(copies[i]!)).toBe(true));
  held.forEach((f) => f.release());
  await slotsBack(source);
});

it('ends cleanly with the frames it could decode from a truncated file', async () => {
  const source = new FrameSource({
    pipeline: `filesrc location=${path.join(dir, 'half.webm')} ! decodebin ! videoconvert ! video/x-raw,format=RGBA`,
    ringSize: 6,
  });
  const { frames, error } = await drain(source);
  expect(error).toBeNull();
  expect(frames).toBeGreaterThan(0);
  expect(frames).toBeLessThan(60);
  await source.close();
  expect(source.state).toBe('closed');
  await slotsBack(source);
});

it('rejects when a file is cut inside its header, before any frame, every time', async () => {
  // Not decodebin: it drops errors its children post while it is still plugging them (a
  // GStreamer race: about one run in two hangs with nothing on the bus). See README.
  for (let i = 0; i < 5; i++) {
    const source = new FrameSource({
      pipeline: `filesrc location=${path.join(dir, 'header.webm')} ! matroskademux ! vp8dec ! videoconvert ! video/x-raw,format=RGBA`,
    });
    const { frames, error } = await drain(source);
    expect(frames).toBe(0);
    expect(error).toBeInstanceOf(PipelineError);
    expect(error).toMatchObject({ code: 'ERR_PIPELINE' });
    await source.close();
    await slotsBack(source);
  }
});

it('ends with no frame and no error at end of stream before the first frame', async () => {
  for (const pipeline of [
    'videotestsrc num-buffers=0 ! video/x-raw,format=RGBA,width=64,height=48',
    'videotestsrc num-buffers=0 ! video/x-raw,format=I420,width=64,height=48 ! videoconvert ! video/x-raw,format=RGBA',
  ]) {
    const source = new FrameSource({ pipeline });
    let eos = 0;
    source.on('eos', () => eos++);
    expect(await source.read()).toBeNull();
    expect(eos).toBe(1);
    await source.close();
    expect(source.stats.frames).toBe(0);
    await slotsBack(source);
  }
});

it('rejects with ERR_NOT_NEGOTIATED when caps cannot be negotiated at run time', async () => {
  // rawvideoparse links to anything when parsed; its 64-wide caps only meet width=32 at run time.
  writeFileSync(path.join(dir, 'frames.raw'), Buffer.alloc(64 * 48 * 4 * 3));
  const source = new FrameSource({
    pipeline: `filesrc location=${path.join(dir, 'frames.raw')} ! rawvideoparse width=64 height=48 format=rgba ! video/x-raw,width=32`,
  });
  const { frames, error } = await drain(source);
  expect(frames).toBe(0);
  expect(error).toBeInstanceOf(PipelineError);
  expect(error).toMatchObject({ code: 'ERR_NOT_NEGOTIATED' });
  await source.close();
  await slotsBack(source);
});

it('rejects with a typed error when a decoder output cannot be linked at run time', async () => {
  // vp8dec gives I420 and nothing converts it to RGBA: decodebin's delayed link fails. GStreamer
  // only warns about that (the demuxer's not-linked error that follows can be lost), so the source
  // fails on the warning itself, with ERR_NOT_NEGOTIATED.
  const source = new FrameSource({ pipeline: `filesrc location=${path.join(dir, 'full.webm')} ! decodebin ! video/x-raw,format=RGBA` });
  const { frames, error } = await drain(source);
  expect(frames).toBe(0);
  expect(error).toBeInstanceOf(PipelineError);
  expect((error as PipelineError).code).toBe('ERR_NOT_NEGOTIATED');
  expect((error as PipelineError).message).toContain('videoconvert');
  await source.close();
  await slotsBack(source);
});

it('rejects when an element refuses to change state, and the process goes on', async () => {
  for (let i = 0; i < 3; i++) {
    const source = new FrameSource({ pipeline: 'v4l2src device=/dev/frame-source-no-such-camera ! videoconvert' });
    const { error } = await drain(source);
    expect(error).toBeInstanceOf(PipelineError);
    expect(error).toMatchObject({ code: 'ERR_PIPELINE' });
    await source.close();
    await slotsBack(source);
  }
  // And a healthy source after the failures.
  const ok = new FrameSource({ pipeline: 'videotestsrc num-buffers=3 ! video/x-raw,width=64,height=48' });
  expect((await drain(ok)).frames).toBe(3);
});

it('rejects with ERR_OUT_OF_MEMORY when JS cannot allocate the slots, allocates nothing, and the process goes on', async () => {
  // In a child that caps its own address space: 256 MiB slots do not fit in what is left.
  const r = await runFixture(ROOT, 'memory-limit-child.js', 'slots');
  expect(r.slots.error).toMatchObject({
    code: 'ERR_OUT_OF_MEMORY',
    message: expect.stringMatching(/^could not allocate \d+ frame slot\(s\) of 268\d{6} bytes: /),
    cause: expect.stringMatching(/RangeError/),
  });
  expect(r.slots.state).toBe('closed');
  expect(r.slots.stats).toMatchObject({ frames: 0, slots: 0, slotBytes: 0, slotsInUse: 0 });
  expect(r.slots.frames).toBe(3);
});

it('rejects download() with ERR_OUT_OF_MEMORY when JS cannot allocate the bytes; the frame stays and downloads later', async () => {
  const r = await runFixture(ROOT, 'memory-limit-child.js', 'download');
  expect(r.download.error).toMatchObject({
    code: 'ERR_OUT_OF_MEMORY',
    message: 'could not allocate 150994944 bytes to download a frame into: Array buffer allocation failed',
    cause: expect.stringMatching(/RangeError/),
  });
  expect(r.download.failed).toMatchObject({ downloadedFrames: 0, bytesDownloaded: 0, heldFrames: 1 });
  expect(r.download.bytes).toBe(150994944);
  expect(r.download.after).toMatchObject({ downloadedFrames: 1, bytesDownloaded: 150994944 });
});

it('rejects with ERR_OUT_OF_MEMORY when a dma-buf cannot be mapped, instead of handing out frames nobody wrote', async () => {
  // videotestsrc skips a frame whose buffer it cannot map and pushes the buffer unwritten: the
  // dmabuf pool must not give it one.
  const r = await runFixture(ROOT, 'memory-limit-child.js', 'map');
  expect(r.map.error).toMatchObject({
    code: 'ERR_OUT_OF_MEMORY',
    message: expect.stringMatching(/^could not map a 150994944-byte dma-buf for a frame \(memfd allocator\): Cannot allocate memory/),
  });
  expect(r.map.held).toBeLessThan(4);
  expect(r.map.written).toEqual(r.map.written.map(() => true));
  expect(r.map.stats.droppedFrames).toBe(0);
});
