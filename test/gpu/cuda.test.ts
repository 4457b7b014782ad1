// Hardware checks of the cuda backend: they need an NVIDIA GPU, its driver, and GStreamer's nvcodec.
// Skipped unless FRAME_SOURCE_TEST_CUDA=1 (`npm run test:gpu` sets it when FrameSource.backends()
// says cuda is available). FRAME_SOURCE_TEST_CUDA_DEVICE picks the GPU (default 0);
// FRAME_SOURCE_TEST_CLIPS names a folder of clips and reference frames made by scripts/gpu-clips.mjs
// on another machine (for one without ffmpeg or GStreamer's software decoders); without it they are
// made here, in a temporary folder.
// FRAME_SOURCE_TEST_CUDA_SOAK=1 adds the 10,000-frame memory check (needs python3 for cuMemGetInfo).
// The IPC check is examples/cuda-ipc/, which `npm run test:gpu` runs as a check of its own.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FrameSource, type Frame, type VideoFormat } from '../../lib/index';
import { ROOT, cpuFrames, planeGeometry, tempDir, visibleBytes } from '../helpers';
import { GOP, HEIGHT, WIDTH, frameTime } from '../playback-media';

const HW = process.env.FRAME_SOURCE_TEST_CUDA === '1';
const SOAK = process.env.FRAME_SOURCE_TEST_CUDA_SOAK === '1';
const DEVICE = Number(process.env.FRAME_SOURCE_TEST_CUDA_DEVICE ?? 0);
if (!HW) {
  console.log(
    'test/gpu/cuda.test.ts: SKIPPED, no NVIDIA GPU asserted (FRAME_SOURCE_TEST_CUDA=1 is set by `npm run test:gpu` where cuda is available)',
  );
}
const hw = HW ? describe : describe.skip;

let clips = process.env.FRAME_SOURCE_TEST_CLIPS ?? '';
let madeClips = '';
if (HW) {
  beforeAll(() => {
    if (clips) return;
    clips = madeClips = tempDir('frame-source-gpu-clips-');
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/gpu-clips.mjs'), clips], { stdio: 'inherit' });
  }, 120_000);
  afterAll(() => {
    if (madeClips) rmSync(madeClips, { recursive: true, force: true });
  });
}

/** The device layout must hold the frame the caps describe: pitches at least a row, planes apart. */
function expectLayoutFitsCaps(frame: Frame): void {
  const cuda = frame.cuda!;
  expect(cuda.device).toBe(DEVICE);
  expect(cuda.pointer).toBeGreaterThan(0n);
  expect(cuda.ipcHandle).toBeInstanceOf(Buffer);
  expect(cuda.ipcHandle!.length).toBe(64);
  const geometry = planeGeometry(frame.format, frame.width, frame.height);
  expect(cuda.planes).toHaveLength(geometry.length);
  geometry.forEach((g, i) => {
    const p = cuda.planes[i]!;
    expect(p.stride).toBeGreaterThanOrEqual(g.rowBytes);
    if (i > 0) expect(p.offset).toBeGreaterThanOrEqual(cuda.planes[i - 1]!.offset + cuda.planes[i - 1]!.stride * geometry[i - 1]!.rows);
  });
  expect(frame.layout).toEqual(cuda.planes.map((p) => ({ offset: p.offset, stride: p.stride })));
}

/** A clip of the clips folder decoded by NVIDIA's decoders, frames from the given backend. */
function nvdecSource(name: string, backend: 'cuda' | 'auto' = 'cuda'): FrameSource {
  return new FrameSource({ uri: `file://${path.join(clips, name)}`, decoder: 'hardware', backend, cudaDevice: DEVICE });
}

/** The counter burned into a counter clip's picture (test/playback-media.ts), from the downloaded luma. */
async function counter(frame: Frame): Promise<number> {
  const bytes = await frame.download();
  const { offset, stride } = frame.layout[0]!;
  return Math.round((bytes[offset + stride * (HEIGHT >> 1) + (WIDTH >> 1)]! - 16) / 3);
}

function rss(): number {
  return process.memoryUsage().rss;
}

function gpuFree(): number {
  const out = execFileSync('python3', [path.join(__dirname, 'cuda_meminfo.py'), String(DEVICE)], { encoding: 'utf8' });
  return JSON.parse(out).free as number;
}

hw('cuda frames on an NVIDIA GPU', () => {
  it.each(['NV12', 'RGBA', 'I420'])(
    'cudaupload: %s frames made in system memory; downloaded bytes equal the cpu frames; layout fits the caps',
    async (format) => {
      const pipeline = `videotestsrc pattern=smpte num-buffers=5 ! video/x-raw,format=${format},width=318,height=178`;
      const reference = await cpuFrames(new FrameSource({ pipeline }), 5);
      const source = new FrameSource({ pipeline, backend: 'cuda', cudaDevice: DEVICE });
      const formatEvent = new Promise<VideoFormat>((r) => source.once('format', r));
      let n = 0;
      for await (const frame of source) {
        expect(frame.backend).toBe('cuda');
        expect(frame.copied).toBe(false);
        expectLayoutFitsCaps(frame);
        const bytes = await frame.download();
        expect(visibleBytes(bytes, frame.format, frame.width, frame.height, frame.layout).equals(reference[n]!)).toBe(true);
        n++;
      }
      expect(n).toBe(5);
      expect((await formatEvent).elements).toContain('cudaupload');
      expect(source.stats).toMatchObject({ zeroCopyFrames: 5, copiedFrames: 0, downloadedFrames: 5 });
    },
  );

  it.each([
    ['h264.mp4', 'nvh264dec'],
    ['h265.mp4', 'nvh265dec'],
    ['vp9.webm', 'nvvp9dec'],
  ])("%s through %s: the decoder's CUDA memory, passed through; bytes equal the software decoder's", async (name, decoder) => {
    const packed = gunzipSync(readFileSync(path.join(clips, `${name}.nv12.gz`)));
    const source = nvdecSource(name);
    const formatEvent = new Promise<VideoFormat>((r) => source.once('format', r));
    let n = 0;
    for await (const frame of source) {
      expect(frame.format).toBe('NV12');
      expectLayoutFitsCaps(frame);
      const bytes = await frame.download();
      const size = frame.width * frame.height * 1.5;
      const want = packed.subarray(n * size, (n + 1) * size);
      expect(want.length).toBe(size);
      expect(visibleBytes(bytes, frame.format, frame.width, frame.height, frame.layout).equals(want)).toBe(true);
      if (++n === 10) break;
    }
    expect(n).toBe(10);
    expect((await formatEvent).decoder).toBe(decoder);
    expect(source.stats.copiedFrames).toBe(0);
    await source.close();
  });

  it("'auto' picks cuda for a uri NVIDIA's decoders can decode", async () => {
    const auto = nvdecSource('h264.mp4', 'auto');
    const f = new Promise<VideoFormat>((r) => auto.once('format', r));
    const frame = (await auto.read())!;
    expect(frame.backend).toBe('cuda');
    expect((await f).decoder).toMatch(/^nv/);
    frame.release();
    await auto.close();
  });

  it('seeks on nvh264dec frames: keyframe and accurate seeks land on the frame asked for; a frame held across them keeps its bytes', async () => {
    const source = nvdecSource('counter.mp4');
    try {
      const first = (await source.read())!;
      expect(first.backend).toBe('cuda');
      expect(await counter(first)).toBe(0);
      const before = Buffer.from(await first.download());

      await source.seek(frameTime(2 * GOP + 5));
      const landed = (await source.read())!;
      expect(landed.discontinuity).toBe(true);
      expect(await counter(landed)).toBe(2 * GOP);
      landed.release();

      for (const target of [4 * GOP + 3, GOP + 7]) {
        await source.seek(frameTime(target) + 1000, { accurate: true });
        const exact = (await source.read())!;
        expect(exact.backend).toBe('cuda');
        expect(await counter(exact)).toBe(target);
        const next = (await source.read())!;
        expect(await counter(next)).toBe(target + 1);
        exact.release();
        next.release();
      }
      expect(Buffer.from(await first.download()).equals(before)).toBe(true);
      first.release();
      expect(source.stats.copiedFrames).toBe(0);
    } finally {
      await source.close();
    }
  });

  it('holds the memory until release: a held frame keeps its pointer and bytes while the source runs on and closes', async () => {
    const source = new FrameSource({
      pipeline: 'videotestsrc pattern=ball ! video/x-raw,format=NV12,width=128,height=96',
      backend: 'cuda',
      cudaDevice: DEVICE,
      ringSize: 4,
    });
    const held = (await source.read())!.keep();
    const before = Buffer.from(await held.download());
    const pointers = new Set<bigint>();
    for (let i = 0; i < 20; i++) {
      const f = (await source.read())!;
      pointers.add(f.cuda!.pointer);
      f.release();
    }
    expect(pointers.has(held.cuda!.pointer)).toBe(false);
    await source.close();
    expect(Buffer.from(await held.download()).equals(before)).toBe(true);
    held.release();
  });

  (SOAK ? it : it.skip)(
    '10,000 frames: flat GPU memory (cuMemGetInfo) and RSS',
    async () => {
      const source = new FrameSource({
        pipeline: 'videotestsrc num-buffers=10000 ! video/x-raw,format=NV12,width=320,height=240',
        backend: 'cuda',
        cudaDevice: DEVICE,
      });
      let n = 0;
      let free0 = 0;
      let rss0 = 0;
      for await (const frame of source) {
        if (frame.cuda!.pointer === 0n) throw new Error('no device pointer');
        if (++n === 1000) {
          free0 = gpuFree();
          rss0 = rss();
        }
      }
      const free1 = gpuFree();
      expect(n).toBe(10000);
      expect(free0 - free1).toBeLessThan(32 * 1024 * 1024);
      expect(rss() - rss0).toBeLessThan(32 * 1024 * 1024);
      await source.close();
    },
    300000,
  );

  (SOAK ? it : it.skip)(
    '200 random seeks (keyframe and accurate) holding frames, then close: each lands right, held frames keep their bytes, GPU memory comes back',
    async () => {
      const free0 = gpuFree();
      let seed = 7;
      const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (let round = 0; round < 4; round++) {
        const source = nvdecSource('counter.mp4');
        const held: Array<{ frame: Frame; bytes: Buffer }> = [];
        try {
          for (let i = 0; i < 50; i++) {
            const target = Math.floor(random() * 58);
            const accurate = random() < 0.5;
            await source.seek(frameTime(target) + 1000, { accurate });
            const frame = await source.read();
            if (!frame) throw new Error(`no frame after seeking to ${target}`);
            expect(await counter(frame)).toBe(accurate ? target : target - (target % GOP));
            if (held.length < 3 && random() < 0.3) held.push({ frame, bytes: Buffer.from(await frame.download()) });
            else frame.release();
          }
        } finally {
          await source.close();
        }
        for (const { frame, bytes } of held) {
          expect(Buffer.from(await frame.download()).equals(bytes)).toBe(true);
          frame.release();
        }
      }
      expect(free0 - gpuFree()).toBeLessThan(32 * 1024 * 1024);
    },
    120000,
  );
});
