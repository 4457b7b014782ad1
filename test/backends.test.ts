// The backend seam and the DMA-BUF backend, on a machine with no GPU and no DMA-BUF device: probing
// and reasons, the choice among backends, and the whole DMA-BUF path through the memfd allocator
// (real fds that GStreamer writes into, read back with pread and compared with the CPU backend's
// frames). What only hardware can prove (a GPU importing the fds) is in `npm run test:gpu`, which
// also runs the DMA-BUF frame tests below against each real allocator present, by setting
// FRAME_SOURCE_TEST_DMABUF_ALLOCATOR ('dma-heap' or 'udmabuf'; 'memfd' when unset).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, fstatSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { FrameSource, type Frame, type VideoFormat } from '../lib/index';
import { sharedTextureInfo } from '../lib/shared-texture';
import { cpuFrames, planeGeometry, ROOT, sleep, tempDir, visibleBytes } from './helpers';
import { runFixture, runNode } from './run-node';

const MEMFD = { backend: 'dmabuf', dmabufAllocator: 'memfd' } as const;
const ALLOCATOR = (process.env.FRAME_SOURCE_TEST_DMABUF_ALLOCATOR ?? 'memfd') as 'memfd' | 'dma-heap' | 'udmabuf';
if (!['memfd', 'dma-heap', 'udmabuf'].includes(ALLOCATOR))
  throw new Error(`FRAME_SOURCE_TEST_DMABUF_ALLOCATOR=${ALLOCATOR}: expected memfd, dma-heap or udmabuf`);
/** The DMA-BUF frame tests' options: memfd here; a real allocator under `npm run test:gpu`. */
const DMABUF = { backend: 'dmabuf', dmabufAllocator: ALLOCATOR } as const;
const IMPORTABLE = ALLOCATOR !== 'memfd';

/** Resident memory outside V8's heap: native allocations (GStreamer, the addon, fds' pages). */
function nativeRss(): number {
  const m = process.memoryUsage();
  return m.rss - m.heapTotal;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Open fds that are frame memory (memfds we named, or dma-bufs): other fds of GStreamer's
 * threads and of pipelines closing in the background do not count. */
function frameFds(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (/memfd:frame-source|dmabuf/.test(readlinkSync(`/proc/self/fd/${fd}`))) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** A dmabuf frame's visible bytes, read through its fds with pread, row by row. */
function bytesThroughFds(frame: Frame): Buffer {
  const f = frame.videoFormat;
  const parts: Buffer[] = [];
  planeGeometry(f.format, f.width, f.height).forEach((g, p) => {
    const plane = frame.dmabuf!.planes[p]!;
    for (let r = 0; r < g.rows; r++) {
      const row = Buffer.alloc(g.rowBytes);
      expect(readSync(plane.fd, row, 0, g.rowBytes, plane.offset + r * plane.stride)).toBe(g.rowBytes);
      parts.push(row);
    }
  });
  return Buffer.concat(parts);
}

describe('probing', () => {
  it('reports every backend, available or with a reason a user can act on', async () => {
    const list = await FrameSource.backends();
    expect(list.map((b) => b.name)).toEqual(['cpu', 'dmabuf', 'cuda', 'iosurface']);
    expect(list[0]).toMatchObject({ name: 'cpu', available: true });
    expect(list[1]).toMatchObject({ name: 'dmabuf', available: false });
    expect(list[1]!.reason).toMatch(/\/dev\/dma_heap\/system.*\/dev\/udmabuf.*DMA-BUF producing element/);
    expect(list[2]).toMatchObject({ name: 'cuda', available: false });
    expect(list[2]!.reason).toMatch(/libcuda\.so\.1/);
    expect(list[3]).toEqual({ name: 'iosurface', available: false, reason: 'macOS only' });
  });

  it('probes the allocator asked for: memfd works anywhere and says it is not importable', async () => {
    const memfd = (await FrameSource.backends({ dmabufAllocator: 'memfd' })).find((b) => b.name === 'dmabuf')!;
    expect(memfd.available).toBe(true);
    expect(memfd.detail).toMatch(/not importable by a GPU/);
    const heap = (await FrameSource.backends({ dmabufAllocator: 'dma-heap' })).find((b) => b.name === 'dmabuf')!;
    expect(heap).toMatchObject({ available: false });
    expect(heap.reason).toMatch(/\/dev\/dma_heap\/system/);
  });
});

describe('choosing', () => {
  it('refuses an explicit backend that cannot work here, saying why', () => {
    for (const backend of ['dmabuf', 'cuda', 'iosurface'] as const) {
      expect(() => new FrameSource({ test: true, backend })).toThrow(expect.objectContaining({ code: 'ERR_BACKEND_UNAVAILABLE' }));
    }
    expect(() => new FrameSource({ test: true, backend: 'cuda' })).toThrow(/libcuda\.so\.1/);
  });

  it("takes the first available of a list, and 'auto' falls back to cpu; the format event says why", async () => {
    for (const backend of [['dmabuf', 'cpu'], 'auto'] as const) {
      const source = new FrameSource({ test: { width: 64, height: 48 }, backend: backend as never });
      const format = new Promise<VideoFormat>((r) => source.once('format', r));
      const frame = (await source.read())!;
      expect(frame.backend).toBe('cpu');
      expect(frame.dmabuf).toBeNull();
      const f = await format;
      expect(f.backend).toBe('cpu');
      expect(f.skippedBackends.map((s) => s.name)).toEqual(backend === 'auto' ? ['cuda', 'dmabuf'] : ['dmabuf']);
      expect(f.skippedBackends.every((s) => s.reason.length > 10)).toBe(true);
      frame.release();
      await source.close();
    }
  });

  it("a list or 'auto' passes over a GPU backend that does not deliver the format asked for", async () => {
    // memfd makes dmabuf available here; it delivers NV12, RGBA and BGRA only. Such a preference
    // threw ERR_INVALID_OPTION for the first backend instead of taking the next.
    for (const backend of [['dmabuf', 'cpu'], 'auto'] as const) {
      const source = new FrameSource({
        test: { width: 64, height: 48 },
        format: 'I420',
        dmabufAllocator: 'memfd',
        backend: backend as never,
      });
      expect(source.options.backend).toBe('cpu');
      const skipped = source.options.skippedBackends.find((s) => s.name === 'dmabuf')!;
      expect(skipped.reason).toMatch(/NV12, RGBA, BGRA, not the format I420/);
      const frame = (await source.read())!;
      expect([frame.backend, frame.format]).toEqual(['cpu', 'I420']);
      frame.release();
      await source.close();
    }
    // With the format it delivers, the list still takes dmabuf; named alone, a format it lacks is refused.
    const nv12 = new FrameSource({ test: true, format: 'NV12', dmabufAllocator: 'memfd', backend: ['dmabuf', 'cpu'] });
    expect(nv12.options.backend).toBe('dmabuf');
    await nv12.close();
    expect(() => new FrameSource({ test: true, format: 'I420', dmabufAllocator: 'memfd', backend: 'dmabuf' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', option: 'format' }),
    );
    expect(() => new FrameSource({ test: true, format: 'GRAY8', dmabufAllocator: 'memfd', backend: ['dmabuf'] })).toThrow(
      expect.objectContaining({ code: 'ERR_BACKEND_UNAVAILABLE', message: expect.stringMatching(/not the format GRAY8/) }),
    );
  });

  it("a list or 'auto' passes over a GPU backend whose sink a pipeline's output does not link to", async () => {
    // A `pipeline`'s format is known only once it is parsed: the construction threw ERR_NOT_NEGOTIATED.
    const pipeline = 'videotestsrc num-buffers=2 ! video/x-raw,format=I420,width=64,height=48';
    for (const backend of [['dmabuf', 'cpu'], 'auto'] as const) {
      const source = new FrameSource({ pipeline, dmabufAllocator: 'memfd', backend });
      expect(source.options.backend).toBe('cpu');
      expect(source.options.skippedBackends.find((s) => s.name === 'dmabuf')!.reason).toMatch(/can't handle caps/);
      const frame = (await source.read())!;
      expect([frame.backend, frame.format]).toEqual(['cpu', 'I420']);
      frame.release();
      await source.close();
    }
    // Named alone, it refuses, saying what it takes (it said 'video/x-raw in system memory').
    expect(() => new FrameSource({ pipeline, dmabufAllocator: 'memfd', backend: 'dmabuf' })).toThrow(
      expect.objectContaining({
        code: 'ERR_NOT_NEGOTIATED',
        message: expect.stringMatching(/the dmabuf backend takes .*NV12, RGBA, BGRA/),
      }),
    );
    // Nothing takes audio: the last backend's refusal is the error.
    expect(() => new FrameSource({ pipeline: 'audiotestsrc', dmabufAllocator: 'memfd', backend: ['dmabuf', 'cpu'] })).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_NEGOTIATED' }),
    );
  });

  it('rejects bad backend options with ERR_INVALID_OPTION', () => {
    for (const options of [
      { backend: 'gpu' },
      { backend: [] },
      { backend: ['cpu', 'vulkan'] },
      { backend: 3 },
      { dmabufAllocator: 'ion' },
      { ...MEMFD, test: true, format: 'I420' },
      // An allocator for a backend that cannot be chosen, as cudaDevice without cuda.
      { test: true, dmabufAllocator: 'memfd' },
      { test: true, backend: 'cpu', dmabufAllocator: 'memfd' },
      { test: true, backend: ['cpu'], dmabufAllocator: 'memfd' },
    ]) {
      expect(() => new FrameSource(options as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    }
  });

  it('FrameSource.backends() rejects options that are not an object', async () => {
    for (const bad of ['memfd', 42, null, ['memfd']]) {
      await expect(FrameSource.backends(bad as never)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', option: 'options' });
    }
  });

  it('the default is cpu, even where a GPU backend is available', async () => {
    const dmabuf = (await FrameSource.backends({ dmabufAllocator: 'memfd' })).find((b) => b.name === 'dmabuf')!;
    expect(dmabuf.available).toBe(true);
    const source = new FrameSource({ test: true });
    expect(source.options.backend).toBe('cpu');
    await source.close();
  });
});

describe(`DMA-BUF frames through the ${ALLOCATOR} allocator`, () => {
  it.each(['NV12', 'RGBA', 'BGRA'])('%s: bytes read through the fds equal the CPU backend’s frames, byte for byte', async (format) => {
    const pipeline = `videotestsrc pattern=smpte num-buffers=6 ! video/x-raw,format=${format},width=318,height=178`;
    const reference = await cpuFrames(new FrameSource({ pipeline }), 6);
    const source = new FrameSource({ pipeline, ...DMABUF });
    let n = 0;
    for await (const frame of source) {
      expect(frame.backend).toBe('dmabuf');
      expect(frame.copied).toBe(false);
      const d = frame.dmabuf!;
      expect(d.importable).toBe(IMPORTABLE);
      expect(d.modifier).toBe('0');
      expect(d.fourccName).toBe({ NV12: 'NV12', RGBA: 'AB24', BGRA: 'AR24' }[format]);
      expect(d.planes).toHaveLength(format === 'NV12' ? 2 : 1);
      // Plane layout from GstVideoMeta, the same as the frame's layout.
      expect(d.planes.map((p) => ({ offset: p.offset, stride: p.stride }))).toEqual(frame.layout.map((l) => ({ ...l })));
      expect(bytesThroughFds(frame).equals(reference[n]!)).toBe(true);
      // download(): one copy into CPU memory, laid out as `layout` says.
      const bytes = await frame.download();
      expect(bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(visibleBytes(bytes, frame.format, frame.width, frame.height, frame.layout).equals(reference[n]!)).toBe(true);
      expect(() => frame.data).toThrow(expect.objectContaining({ code: 'ERR_NO_CPU_MEMORY' }));
      if (IMPORTABLE) {
        expect(frame.toSharedTextureInfo().handle.nativePixmap.planes.map((p) => p.fd)).toEqual(d.planes.map((p) => p.fd));
      } else {
        expect(() => frame.toSharedTextureInfo()).toThrow(expect.objectContaining({ code: 'ERR_NOT_IMPORTABLE' }));
      }
      n++;
    }
    expect(n).toBe(6);
    expect(source.stats).toMatchObject({ zeroCopyFrames: 6, copiedFrames: 0, downloadedFrames: 6 });
  });

  it('copies frames of an element that ignores the pool into dma-bufs, counted', async () => {
    const pipeline = 'videotestsrc num-buffers=5 ! video/x-raw,format=RGBA,width=160,height=90';
    const reference = await cpuFrames(new FrameSource({ pipeline }), 5);
    const source = new FrameSource({ pipeline: `${pipeline} ! identity drop-allocation=true`, ...DMABUF });
    let n = 0;
    for await (const frame of source) {
      expect(frame.copied).toBe(true);
      expect(bytesThroughFds(frame).equals(reference[n++]!)).toBe(true);
    }
    expect(source.stats).toMatchObject({ copiedFrames: 5, zeroCopyFrames: 0, bytesCopied: 5 * 160 * 90 * 4 });
  });

  it('keeps a held frame’s fds valid and unchanged after close; every fd is closed once frames are released', async () => {
    // The sources of the tests before this one close their pools' fds as their pipelines finish,
    // on threads of their own: count from a settled figure.
    for (let i = 0; i < 200 && frameFds() > 0; i++) await sleep(10);
    const before = frameFds();
    const source = new FrameSource({
      pipeline: 'videotestsrc pattern=ball ! video/x-raw,format=NV12,width=128,height=96',
      ...DMABUF,
      ringSize: 4,
    });
    const held = [(await source.read())!, (await source.read())!];
    const copies = held.map(bytesThroughFds);
    expect(frameFds()).toBeGreaterThan(before);
    await source.close();
    held.forEach((f, i) => expect(bytesThroughFds(f).equals(copies[i]!)).toBe(true));
    held.forEach((f) => f.release());
    expect(() => held[0]!.dmabuf).toThrow(expect.objectContaining({ code: 'ERR_FRAME_RELEASED' }));
    for (let i = 0; i < 100 && frameFds() > before; i++) await sleep(10);
    expect(frameFds()).toBe(before);
  });

  it('a descriptor held on its own keeps its fds open after its frame and closed source are collected; a kept frame forgotten comes back by GC', async () => {
    // frame.dmabuf is the frame's GC guard. It used to be guarded by a registry of the source's
    // own, which died with the source: the native handle was then collected and closed the fds of a
    // descriptor JS still held (the fd numbers free for the next open()).
    const run = await runNode([
      '--expose-gc',
      path.join(__dirname, 'fixtures', 'descriptor-gc-child.js'),
      path.join(ROOT, 'dist', 'index.cjs'),
    ]);
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.reports[0]).toEqual({
      held: expect.stringMatching(/memfd:frame-source/),
      same: true,
      dropped: null,
      forgotten: { wasHeld: true, gcReleased: 1, heldAfter: 0 },
    });
  });

  it('follows a renegotiation (two sizes), with frames of the first size still held', async () => {
    const dir = tempDir();
    try {
      [
        [320, 240],
        [160, 96],
      ].forEach(([w, h], i) =>
        execFileSync('gst-launch-1.0', [
          '-q',
          'videotestsrc',
          'num-buffers=1',
          '!',
          `video/x-raw,width=${w},height=${h}`,
          '!',
          'pngenc',
          '!',
          'filesink',
          `location=${path.join(dir, `img${i}.png`)}`,
        ]),
      );
      const pipeline = `multifilesrc location=${path.join(dir, 'img%d.png')} stop-index=1 caps=image/png,framerate=30/1 ! pngdec ! videoconvert ! video/x-raw,format=NV12`;
      const source = new FrameSource({ pipeline, ...DMABUF });
      const frames: Frame[] = [];
      for await (const f of source) frames.push(f.keep());
      expect(frames.map((f) => [f.width, f.height])).toEqual([
        [320, 240],
        [160, 96],
      ]);
      expect(frames.map((f) => f.dmabuf!.planes[0]!.stride)).toEqual([320, 160]);
      const first = bytesThroughFds(frames[0]!);
      expect(first.length).toBe(320 * 240 * 1.5);
      frames.forEach((f) => f.release());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps each dma-buf of its pool mapped, readable and writable, once it exists: no mmap and munmap per frame', async () => {
    // Mapping per frame cost more CPU than the rest of a small frame's hand-off (TLB shootdowns).
    const source = new FrameSource({ pipeline: 'videotestsrc ! video/x-raw,format=NV12,width=64,height=48', ...DMABUF });
    const inodes = new Set<number>();
    const mapped = new Map<number, string>();
    try {
      for (let i = 0; i < 20; i++) {
        const frame = (await source.read())!;
        inodes.add(fstatSync(frame.dmabuf!.planes[0]!.fd).ino);
        await frame.download();
        frame.release();
      }
      // /proc/self/maps: "start-end perms offset dev inode path"; a shared read-write mapping is rw-s.
      for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
        const [, perms, , , inode] = line.split(/\s+/);
        if (inode && inodes.has(Number(inode))) mapped.set(Number(inode), perms!);
      }
    } finally {
      await source.close();
    }
    expect(inodes.size).toBeGreaterThan(0);
    expect([...inodes].map((i) => mapped.get(i))).toEqual([...inodes].map(() => 'rw-s'));
  });

  it('a slow consumer cannot pile up buffers beyond the ring', async () => {
    const source = new FrameSource({ pipeline: 'videotestsrc ! video/x-raw,format=NV12,width=64,height=48', ...DMABUF, ringSize: 3 });
    const held = [(await source.read())!, (await source.read())!, (await source.read())!];
    await expect(source.read()).rejects.toMatchObject({ code: 'ERR_RING_EXHAUSTED' });
    held.forEach((f) => f.release());
    await source.close();
  });

  it('reuses the dma-buf returned last: a steady reader keeps few in use however many the pool grew to', async () => {
    // As the CPU ring's slots (test/zero-copy.test.ts): holding 8 frames grows the pool to 8+
    // dma-bufs; then a frame every 20 ms, each released before the next. First in, first out, every
    // dma-buf would be written in turn (and an importer caching per dma-buf would import them all).
    const source = new FrameSource({
      pipeline: 'videotestsrc num-buffers=60 ! video/x-raw,format=NV12,width=320,height=240,framerate=50/1',
      ...DMABUF,
      sync: true,
      ringSize: 8,
    });
    const held = [];
    for (let i = 0; i < 8; i++) held.push((await source.read())!.keep());
    const inodes = new Set(held.map((f) => fstatSync(f.dmabuf!.planes[0]!.fd).ino));
    held.forEach((f) => f.release());
    const used = new Set<number>();
    let n = 0;
    for await (const frame of source) {
      if (++n > 5) used.add(fstatSync(frame.dmabuf!.planes[0]!.fd).ino); // after the burst has settled
    }
    expect(n).toBe(52);
    expect(inodes.size).toBe(8);
    expect(used.size).toBeLessThanOrEqual(3);
  });

  it('100,000 frames at a flat fd count and flat native memory (RSS outside the JS heap)', async () => {
    const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=100000 ! video/x-raw,format=NV12,width=32,height=24', ...DMABUF });
    let n = 0;
    let fds = 0;
    let rss = 0;
    for await (const frame of source) {
      if (frame.dmabuf!.planes[0]!.fd < 0) throw new Error('no fd');
      if (++n === 20000) {
        fds = openFds();
        rss = nativeRss();
      }
    }
    expect(n).toBe(100000);
    expect(openFds()).toBeLessThanOrEqual(fds);
    // The JS heap holds 100,000 collectable Frame objects until V8 gets round to them: not a leak.
    expect(nativeRss() - rss).toBeLessThan(32 * 1024 * 1024);
  }, 120000);
});

// Backpressure on memory upstream allocated itself (a hardware decoder's DMA-BUF or CUDA pool may
// have no maximum). fsdmabuftestsrc, a test plugin built here, allocates one new memfd-backed dma-buf
// per frame; it runs in a child found through GST_PLUGIN_PATH (with a copy of the registry, so the
// user's is untouched).
describe('DMA-BUF frames in upstream’s own, unbounded memory (test plugin, child process)', () => {
  it('hands out upstream’s fds as they are, and makes upstream wait (ringSize + 1 in flight) while nobody reads', async () => {
    const dir = tempDir('frame-source-dmabuf-upstream-');
    try {
      execFileSync('sh', [
        '-c',
        `cc -shared -fPIC -O1 -o "${dir}/libgstfsdmabuftest.so" "${path.join(ROOT, 'test/fixtures/dmabuf-test-src.c')}" $(pkg-config --cflags --libs gstreamer-base-1.0 gstreamer-allocators-1.0)`,
      ]);
      const cache = process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache');
      const own = path.join(cache, 'gstreamer-1.0', `registry.${process.arch === 'x64' ? 'x86_64' : process.arch}.bin`);
      if (existsSync(own)) copyFileSync(own, path.join(dir, 'registry.bin'));
      const run = await runNode([path.join(ROOT, 'test/fixtures/dmabuf-upstream-child.js'), path.join(ROOT, 'dist', 'index.cjs')], {
        ...process.env,
        GST_PLUGIN_PATH: dir,
        GST_REGISTRY: path.join(dir, 'registry.bin'),
      });
      const r = Object.fromEntries(run.reports.map((x) => [x.report, x]));
      expect(r.crash).toBeUndefined();
      expect(run.status).toBe(0);
      expect(r.probe.probe).toMatchObject({ available: true, detail: expect.stringMatching(/DMA-BUF producing elements only/) });
      expect(r.first).toEqual({ report: 'first', copied: false, importable: true, byte: 0, stride: 256 });
      // One frame held, ringSize (4) + 1 in flight: 4 queued, and upstream waits. Without the bound,
      // upstream filled the queue with its own memory: 399 frames, 400 fds.
      expect(r.idle.queued).toBeLessThanOrEqual(4);
      expect(r.idle.fds).toBeLessThanOrEqual(6);
      expect(r.end).toMatchObject({ frames: 400, wrong: 0, fds: 0, stats: { zeroCopyFrames: 400, copiedFrames: 0, droppedFrames: 0 } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Each buffer of the dmabuf backend's pools is one fd: a process near its fd limit cannot make
// more. Upstream then only knows that its flow failed, and the sink's copy path used to count the
// frame as dropped and go on, even for a source that must not drop.
describe('DMA-BUF memory that cannot be allocated (child process near its fd limit)', () => {
  it('fails with ERR_OUT_OF_MEMORY saying why, drops nothing, keeps the frames it gave, closes every fd', async () => {
    const r = await runFixture(ROOT, 'fd-limit-child.js');
    // Upstream writing into our pool, and the sink copying into a pool of its own.
    for (const path of ['pool', 'copy']) {
      const x = r[path];
      expect(x.error).toMatchObject({
        code: 'ERR_OUT_OF_MEMORY',
        name: 'PipelineError',
        message: expect.stringMatching(/^could not allocate a 57600-byte dma-buf for a frame \(memfd allocator\): Too many open files/),
      });
      // The fds ran out before the ring (32) did; the frames handed out before are whole.
      expect(x.held).toBeGreaterThanOrEqual(2);
      expect(x.held).toBeLessThan(32);
      expect(x.wrong).toBe(0);
      expect(x.stats.droppedFrames).toBe(0);
      expect(x.fdsAfter).toBe(0);
      expect(x.again).toBe(true);
    }
    // Upstream's own words are kept as the debug text.
    expect(r.pool.error.debug).toMatch(/Internal data stream error/);
    expect(r.copy.stats.copiedFrames).toBe(r.copy.held);
  });
});

describe('DMA-BUF frames that upstream makes (the first path)', () => {
  it('hands over the fds of memory:DMABuf buffers as they are: no copy, importable, bytes equal to the CPU path', async () => {
    // fsdmabufwrap (test-only, registered by FRAME_SOURCE_TEST_ELEMENTS=1) outputs memory:DMABuf
    // buffers as a hardware decoder would; here they are memfd-backed, which only the test knows.
    const run = await runNode([path.join(__dirname, 'fixtures', 'dmabuf-path1-child.js'), path.join(ROOT, 'dist', 'index.cjs')], {
      ...process.env,
      FRAME_SOURCE_TEST_ELEMENTS: '1',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const r = run.reports[0];
    // With an element that outputs DMA-BUF, the backend is available even without an allocator device.
    expect(r.dmabuf).toMatchObject({ available: true });
    expect(r.dmabuf.detail).toMatch(/DMA-BUF producing elements only/);
    expect(r.caps).toMatch(/^video\/x-raw\(memory:DMABuf\), format=\(string\)NV12/);
    expect(r.frames).toHaveLength(5);
    for (const f of r.frames) expect(f).toEqual({ same: true, importable: true, copied: false, pixelFormat: 'nv12', planes: 2 });
    expect(r.stats).toMatchObject({ zeroCopyFrames: 5, copiedFrames: 0 });
    expect(r.fdsBack).toBe(true);
    // Without an allocator, a source whose frames are made in system memory falls back to cpu (or,
    // dmabuf named alone, is refused at construction), instead of failing at its first frame.
    expect(r.dmabuf.systemMemory).toBe(false);
    expect(r.choices['"auto"']).toEqual({ backend: 'cpu', frame: 'cpu', skipped: ['cuda', 'dmabuf'] });
    expect(r.choices['["dmabuf","cpu"]']).toEqual({ backend: 'cpu', frame: 'cpu', skipped: ['dmabuf'] });
    expect(r.choices['"dmabuf"']).toEqual({ error: 'ERR_BACKEND_UNAVAILABLE', message: expect.stringMatching(/made in system memory/) });
  });

  it('memory the CPU cannot map: download() rejects with ERR_NO_CPU_MEMORY and the frame keeps its fd; a copy into slots fails the source', async () => {
    // fsdmabufwrap mappable=false: dma-bufs over /dev/null's fd, which has no mmap. GStreamer's
    // gst_buffer_extract replaced such a memory with NULL inside the frame's buffer (criticals on
    // stderr, the memory and its fd dropped while JS held the frame).
    const run = await runNode([path.join(__dirname, 'fixtures', 'unmappable-child.js'), path.join(ROOT, 'dist', 'index.cjs')], {
      ...process.env,
      FRAME_SOURCE_TEST_ELEMENTS: '1',
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    const r = Object.fromEntries(run.reports.map((x) => [x.report, x]));
    expect(r.crash).toBeUndefined();
    expect(r.download.frames).toHaveLength(4);
    for (const f of r.download.frames) {
      expect(f).toEqual({
        error: {
          name: 'FrameSourceError',
          code: 'ERR_NO_CPU_MEMORY',
          message: "could not read the frame's memory: the CPU cannot map its dmabuf memory",
        },
        released: false,
        before: '/dev/null',
        after: '/dev/null',
      });
    }
    expect(r.download.stillOpen).toEqual(['/dev/null', '/dev/null', '/dev/null', '/dev/null']);
    expect(r.download.stats).toMatchObject({ zeroCopyFrames: 4, downloadedFrames: 0 });
    // Under system-memory caps the cpu backend copies the dma-bufs into slots: every byte when
    // mappable; when not, the source fails instead of handing out frames it could not fill.
    expect(r.copy.copied).toEqual([true, true, true, true]);
    expect(r.copy.same).toBe(4);
    expect(r.copy.delivered).toBe(0);
    expect(r.copy.error).toEqual({
      name: 'PipelineError',
      code: 'ERR_PIPELINE',
      message: 'could not read a frame from upstream: the CPU cannot map its dmabuf memory',
    });
  });
});

describe("Electron's sharedTexture shape", () => {
  const format = { format: 'NV12', width: 1280, height: 720, colorimetry: 'bt709' };
  const importable = {
    fourcc: 0x3231564e,
    fourccName: 'NV12',
    modifier: '0',
    importable: true,
    planes: [
      { fd: 40, offset: 0, stride: 1280, size: 1280 * 720 },
      { fd: 40, offset: 1280 * 720, stride: 1280, size: 1280 * 360 },
    ],
  };

  it('describes an importable DMA-BUF frame exactly as importSharedTexture takes it', () => {
    expect(sharedTextureInfo(importable, format, 33366)).toEqual({
      pixelFormat: 'nv12',
      codedSize: { width: 1280, height: 720 },
      visibleRect: { x: 0, y: 0, width: 1280, height: 720 },
      colorSpace: { matrix: 'bt709', primaries: 'bt709', transfer: 'bt709', range: 'limited' },
      timestamp: 33366,
      handle: {
        nativePixmap: {
          planes: [
            { fd: 40, stride: 1280, offset: 0, size: 921600 },
            { fd: 40, stride: 1280, offset: 921600, size: 460800 },
          ],
          modifier: '0',
          supportsZeroCopyWebGpuImport: false,
        },
      },
    });
  });

  it('maps colorimetry to Electron colour spaces, and refuses what Electron cannot import', () => {
    expect(sharedTextureInfo(importable, { ...format, colorimetry: 'bt601' }, null).colorSpace).toEqual({
      matrix: 'smpte170m',
      primaries: 'smpte170m',
      transfer: 'smpte170m',
      range: 'limited',
    });
    // GStreamer names BT.2020 with the 12-bit transfer 'bt2020' and with the 10-bit one 'bt2020-10'
    // (HDR10 sources without PQ): the second had no colour space, the first the wrong transfer.
    const bt2020 = { matrix: 'bt2020-ncl', primaries: 'bt2020', range: 'limited' };
    expect(sharedTextureInfo(importable, { ...format, colorimetry: 'bt2020-10' }, null).colorSpace).toEqual({
      ...bt2020,
      transfer: 'bt2020-10',
    });
    expect(sharedTextureInfo(importable, { ...format, colorimetry: 'bt2020' }, null).colorSpace).toEqual({
      ...bt2020,
      transfer: 'bt2020-12',
    });
    expect(sharedTextureInfo(importable, { ...format, colorimetry: '2:6:11:7' }, null).colorSpace).toEqual({
      ...bt2020,
      transfer: 'bt2020-12',
    });
    expect(sharedTextureInfo(importable, { ...format, format: 'RGBA', colorimetry: 'sRGB' }, null).colorSpace).toMatchObject({
      matrix: 'rgb',
      range: 'full',
    });
    expect(() => sharedTextureInfo(importable, { ...format, format: 'I420' }, null)).toThrow(
      expect.objectContaining({ code: 'ERR_UNSUPPORTED_FORMAT' }),
    );
    expect(() => sharedTextureInfo({ ...importable, importable: false }, format, null)).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_IMPORTABLE' }),
    );
    expect(() => sharedTextureInfo(null, format, null)).toThrow(expect.objectContaining({ code: 'ERR_NOT_IMPORTABLE' }));
  });
});
