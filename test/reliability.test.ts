// Crashes, hangs, leaks and untyped errors found by hostile use and by reading the native code
// (each reproduction failed before its fix). Scenarios that crashed or hung a whole process run in
// a child (test/fixtures/reliability-child.js), so that a regression fails a test instead of jest.
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FrameSource, type FrameSourceError, type Frame } from '../lib/index';
import { fraction } from '../lib/sources';
import { ROOT, sleep, tempDir, within } from './helpers';
import { FRAMES, makeEncoded, makeWebm } from './media';
import { killChildren, runNode } from './run-node';

const DIST = path.join(ROOT, 'dist', 'index.cjs');
const CLI = path.join(ROOT, 'dist', 'cli.cjs');
const CHILD = path.join(__dirname, 'fixtures', 'reliability-child.js');
const SMALL = 'video/x-raw,format=RGBA,width=64,height=48';

let dir: string;
let webm: string;
beforeAll(() => {
  dir = tempDir();
  webm = makeWebm(dir);
});
afterAll(() => {
  killChildren();
  rmSync(dir, { recursive: true, force: true });
});

function child(mode: string, arg?: string, nodeArgs: string[] = []) {
  return runNode([...nodeArgs, CHILD, DIST, mode, ...(arg === undefined ? [] : [arg])]);
}

function fifo(name: string): string {
  const p = path.join(dir, name);
  execFileSync('mkfifo', [p]);
  return p;
}

async function slotsBack(source: FrameSource): Promise<void> {
  await within(
    5000,
    (async () => {
      while (source.stats.slotsInUse > 0) await sleep(5);
    })(),
    'slots coming back',
  );
}

describe('1. a detached ArrayBuffer slot', () => {
  it("survives the issue's reproduction: two transferred frames and GC, every later frame intact", async () => {
    const run = await child('transfer', undefined, ['--expose-gc']);
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
    const r = run.reports[0];
    expect(r.frames).toBe(60);
    expect(r.bad).toBe(0);
    // Node copies an untransferable buffer instead of detaching it: the receiver got the bytes.
    expect(r.transferredBytes).toBeGreaterThanOrEqual(2 * 640 * 480 * 4);
    expect(r.stats.zeroCopyFrames).toBeGreaterThanOrEqual(60);
  });

  it('retires a slot detached behind Node’s back (memory freed at once), warns, and goes on with new slots', async () => {
    const run = await child('detach');
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
    const r = run.reports[0];
    expect(r.frames).toBe(80);
    expect(r.bad).toBe(0);
    expect(r.warnings).toEqual(['ERR_SLOT_DETACHED', 'ERR_SLOT_DETACHED']);
  });
});

describe('2. hangs', () => {
  it.each([
    [2, 4],
    [8, 12],
  ])('ringSize %i: of %i concurrent reads, those beyond the ring reject with ERR_RING_EXHAUSTED', async (ringSize, reads) => {
    const source = new FrameSource({ pipeline: `videotestsrc ! ${SMALL}`, ringSize });
    const results = await within(5000, Promise.allSettled(Array.from({ length: reads }, () => source.read())), 'the reads');
    const ok = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(ringSize);
    expect(rejected.map((r) => (r.reason as FrameSourceError).code)).toEqual(Array(reads - ringSize).fill('ERR_RING_EXHAUSTED'));
    for (const r of ok) (r as PromiseFulfilledResult<Frame>).value.release();
    // Reads interleaved with releases: still never more than the ring.
    const a = (await source.read())!;
    const pending = Array.from({ length: ringSize }, () => source.read());
    a.release();
    const settled = await within(5000, Promise.allSettled(pending), 'the reads');
    expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(ringSize - 1);
    for (const r of settled) if (r.status === 'fulfilled') r.value!.release();
    await source.close();
    await slotsBack(source);
  });

  it('closes a uri source on a named pipe nobody writes to, promptly, and the pending read ends', async () => {
    const source = new FrameSource({ uri: pathToFileURL(fifo('silent.fifo')).href });
    const pending = source.read();
    await sleep(200);
    await within(3000, source.close(), 'close()');
    expect(await pending).toBeNull();
    expect(source.state).toBe('closed');
  });

  it('reads video through a named pipe, written by another process', async () => {
    const p = fifo('video.fifo');
    const source = new FrameSource({ uri: pathToFileURL(p).href });
    const writer = createReadStream(webm).pipe(createWriteStream(p));
    let n = 0;
    for await (const _f of source) n++;
    expect(n).toBe(FRAMES);
    writer.destroy();
  });

  it('abandons a pipeline of the user blocked in a system call: close() resolves with a warning, the process exits', async () => {
    const run = await within(10000, child('blockedPipeline', fifo('blocked.fifo')), 'the child');
    expect(run.status).toBe(0);
    const r = run.reports[0];
    expect(r.warnings).toEqual(['ERR_CLOSE_TIMEOUT']);
    expect(r.closeMs).toBeLessThan(2000);
    expect(r.read).toBeNull();
    expect(r.state).toBe('closed');
  });

  it('terminates a worker whose pipeline is blocked in a system call', async () => {
    const run = await within(15000, child('blockedWorker', fifo('worker.fifo')), 'the child');
    expect(run.status).toBe(0);
    expect(run.reports[0].code).toBe(1);
    expect(run.reports[0].terminateMs).toBeLessThan(5000);
  });

  it('the command line stops at --duration even when its source blocks', async () => {
    const p = fifo('cli.fifo');
    const t0 = Date.now();
    const run = await within(15000, runNode([CLI, '--uri', pathToFileURL(p).href, '--duration', '1', '--json', '--quiet']), 'the command');
    expect(run.status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
  });

  it.each(['format', 'eos', 'error', 'warning', 'stats'])(
    "a '%s' listener that throws: the exception surfaces as uncaught, and the source still closes",
    async (event) => {
      const run = await child('throwing', event);
      expect(run.status).toBe(0);
      const r = run.reports[0];
      expect(r.caught).toContain(`listener of ${event} threw`);
      expect(r.state).toBe('closed');
      if (event === 'error') expect(r.error).toBe('ERR_PIPELINE');
    },
  );
});

describe('3. concurrent next() on one iterator', () => {
  it('releases every frame handed out at the next step: 200 frames, two at a time, none left held', async () => {
    const source = new FrameSource({ pipeline: `videotestsrc num-buffers=200 ! ${SMALL}` });
    const it = source[Symbol.asyncIterator]();
    let n = 0;
    for (;;) {
      const [a, b] = await Promise.all([it.next(), it.next()]);
      n += Number(!a.done) + Number(!b.done);
      expect(source.stats.heldFrames).toBeLessThanOrEqual(2);
      if (a.done || b.done) break;
    }
    expect(n).toBe(200);
    expect(source.stats.heldFrames).toBe(0);
    expect(source.stats.gcReleasedFrames).toBe(0);
  });

  it('a for await loop that rejects leaves the source closed', async () => {
    const source = new FrameSource({ pipeline: `videotestsrc ! ${SMALL}`, ringSize: 2 });
    const kept: Frame[] = [];
    await expect(
      (async () => {
        for await (const f of source) kept.push(f.keep());
      })(),
    ).rejects.toMatchObject({ code: 'ERR_RING_EXHAUSTED' });
    await within(
      3000,
      (async () => {
        while (source.state !== 'closed') await sleep(5);
      })(),
      'closing',
    );
    kept.forEach((f) => f.release());
  });
});

describe('4. errors that were untyped, wrong or silent', () => {
  it('refuses frame rates too small to express, and writes small ones as exact fractions', () => {
    expect(() => new FrameSource({ test: { framerate: 0.0004 } })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => new FrameSource({ test: true, framerate: 0.004 - 0.0035 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
    expect(fraction(0.004)).toBe('1/250');
    expect(fraction(0.5)).toBe('1/2');
    expect(fraction(0.001)).toBe('1/1000');
    expect(fraction(29.97)).toBe('30000/1001');
  });

  it('honours a frame rate under 0.005 on a live source (it became "variable": no limit at all)', async () => {
    const source = new FrameSource({ test: { live: true, width: 64, height: 48 }, framerate: 0.004 });
    (await source.read())!.release();
    const second = source.read();
    const outcome = await Promise.race([second.then(() => 'frame'), sleep(1500).then(() => 'nothing')]);
    expect(outcome).toBe('nothing');
    await source.close();
    expect(await second).toBeNull();
  });

  it.each(['file:///tmp/img%d.png', 'file://remotehost/x.mp4'])(
    '%s is ERR_INVALID_OPTION, from the API and the command line (exit 2)',
    async (uri) => {
      expect(() => new FrameSource({ uri })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', option: 'uri' }));
      const run = await runNode([CLI, '--uri', uri, '--quiet']);
      expect(run.status).toBe(2);
    },
  );

  it('a refused HTTP connection is ERR_CONNECTION', async () => {
    const server = createTcpServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    const source = new FrameSource({ uri: `http://127.0.0.1:${port}/v.webm` });
    await expect(source.read()).rejects.toMatchObject({ code: 'ERR_CONNECTION' });
  });

  it("a refused connection's message does not repeat the URI's password", async () => {
    const server = createTcpServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    for (const scheme of ['http', 'rtspt']) {
      const source = new FrameSource({ uri: `${scheme}://viewer:s3cret@127.0.0.1:${port}/v` });
      const err = await source.read().catch((e: Error) => e);
      expect(err).toMatchObject({ code: 'ERR_CONNECTION', message: expect.stringContaining(`${scheme}://viewer:***@127.0.0.1:${port}/v`) });
      expect((err as Error).message).not.toContain('s3cret');
      await source.close();
    }
  });

  it('an HTTP server that accepts and never answers is ERR_CONNECTION (after souphttpsrc gives up)', async () => {
    const sockets: Socket[] = [];
    const server = createTcpServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const source = new FrameSource({ uri: `http://127.0.0.1:${port}/v.webm` });
      await expect(source.read()).rejects.toMatchObject({ code: 'ERR_CONNECTION' });
    } finally {
      sockets.forEach((s) => s.destroy());
      server.close();
    }
  }, 40000);

  it('a frame of 4 GiB or more is refused as ERR_NOT_NEGOTIATED (GStreamer will not describe it), nothing allocated', async () => {
    const source = new FrameSource({ pipeline: 'videotestsrc ! video/x-raw,format=RGBA,width=32768,height=32768' });
    await expect(within(5000, source.read(), 'the read')).rejects.toMatchObject({ code: 'ERR_NOT_NEGOTIATED' });
    expect(source.stats.slotBytes).toBe(0);
  });
});

describe('5. found by reading the native code', () => {
  it('a worker that exits right after close(), while this thread holds the addon too: 40 times, no crash', async () => {
    const run = await child('workerExitAfterClose', '40');
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
    expect(run.reports[0].exits).toBe(40);
  }, 120000);

  it('four workers in sequence, each the only one to load the addon', async () => {
    const run = await child('workersInSequence');
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
    expect(run.reports[0]).toEqual({ counts: [5, 5, 5, 5], mainLoaded: false });
  });

  it('reconnects once per failure: a server that drops the connection mid-file, and nothing left after close()', async () => {
    const whole = readFileSync(webm);
    const third = whole.subarray(0, Math.floor(statSync(webm).size / 3));
    const server: Server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'video/webm', 'Content-Length': whole.length });
      res.write(third, () => res.socket?.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const source = new FrameSource({ uri: `http://127.0.0.1:${port}/v.webm`, reconnect: { attempts: 100, delay: 300 } });
    const attempts: Array<{ attempt: number; at: number }> = [];
    const t0 = Date.now();
    source.on('reconnect', ({ attempt }) => attempts.push({ attempt, at: Date.now() - t0 }));
    source.on('error', () => undefined);
    const reading = (async () => {
      try {
        for await (const _f of source);
      } catch {
        // closed below
      }
    })();
    await within(
      10000,
      (async () => {
        while (attempts.length < 3) await sleep(10);
      })(),
      'three reconnects',
    );
    await source.close();
    await reading;
    server.close();
    // One per failure: each new attempt waits out the delay (two in the same millisecond was the bug).
    // (The count starts again at 1 whenever a frame arrived since the last failure.)
    for (let i = 1; i < attempts.length; i++) expect(attempts[i]!.at - attempts[i - 1]!.at).toBeGreaterThanOrEqual(250);
    expect(source.state).toBe('closed');
  }, 30000);

  it('an error reaches its listener at once, even with frames queued that nobody reads; a reader still gets them first', async () => {
    const source = new FrameSource({
      pipeline: `videotestsrc num-buffers=50 ! ${SMALL} ! identity error-after=5`,
      drop: false,
      maxQueued: 8,
    });
    const heard = new Promise<{ error: Error; queued: number; state: string }>((resolve) =>
      source.on('error', (error) => resolve({ error, queued: source.stats.queuedFrames, state: source.state })),
    );
    const first = (await source.read())!;
    const { error, queued, state } = await within(3000, heard, "the 'error' event");
    expect((error as FrameSourceError).code).toBe('ERR_PIPELINE');
    expect(queued).toBeGreaterThan(0);
    expect(state).toBe('open');
    // The frames decoded before the error, then the same error.
    const frames = [first];
    await expect(
      (async () => {
        for (;;) frames.push((await source.read())!);
      })(),
    ).rejects.toBe(error);
    expect(frames.length).toBe(4); // identity fails on the 5th buffer
    frames.forEach((f) => f.release());
  });

  it("'format' and 'eos' stay in order with the frames", async () => {
    const source = new FrameSource({ pipeline: `videotestsrc num-buffers=5 ! ${SMALL}` });
    // Frames handed out when each event fired:
    const order: Array<[string, number]> = [];
    source.on('format', () => order.push(['format', source.stats.deliveredFrames]));
    source.on('eos', () => order.push(['eos', source.stats.deliveredFrames]));
    await sleep(300); // everything is queued by now
    for await (const _f of source);
    expect(order).toEqual([
      ['format', 0],
      ['eos', 5],
    ]);
  });
});

describe('6. found by stress', () => {
  it('close() while avdec drains at end of stream into a full ring: no crash (4 short files, 3 rounds)', async () => {
    // 5 to 8 frames with B-frames: the stream ends while the decoder still holds pictures, and with
    // ringSize 2 and every frame held it waits for a slot in that drain.
    const files = [5, 6, 7, 8].map((n) => makeEncoded(dir, `drain-${n}.mp4`, '320x240', 'libx264', ['-bf', '3'], n));
    const list = [...files, ...files, ...files].join(',');
    const run = await child('closeWhileDraining', list);
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
    const r = run.reports[0];
    expect(r.closed).toBe(12);
    // The frames came through avdec's growing pool (the path that crashed), and the ring stalled.
    for (const n of r.decoderFrames) expect(n).toBeGreaterThan(0);
    for (const n of r.held) expect(n).toBeLessThan(5);
  }, 60000);
});
