// Frames in flight: keep, release, dispose, and the dangerous moments around close().
import { FrameSource, type Frame } from '../lib/index';
import { sleep, within } from './helpers';

const SMALL = 'video/x-raw,format=RGBA,width=160,height=120';

async function slotsSettle(source: FrameSource, expected: number): Promise<number> {
  for (let i = 0; i < 50 && source.stats.slotsInUse !== expected; i++) await sleep(10);
  return source.stats.slotsInUse;
}

it('keeps frames valid and unchanged after close(), and takes them back on release', async () => {
  const source = new FrameSource({ pipeline: `videotestsrc pattern=ball ! ${SMALL}`, ringSize: 6 });
  const held: Frame[] = [];
  for (let i = 0; i < 3; i++) held.push((await source.read())!);
  const copies = held.map((f) => Buffer.from(f.data));
  expect(new Set(copies.map((c) => c.toString('hex'))).size).toBe(3);

  await within(5000, source.close(), 'close()');
  expect(source.state).toBe('closed');
  expect(source.stats.heldFrames).toBe(3);
  expect(source.stats.slotsInUse).toBeGreaterThanOrEqual(3);
  await sleep(50);
  held.forEach((f, i) => expect(Buffer.from(f.data).equals(copies[i]!)).toBe(true));

  held.forEach((f) => f.release());
  expect(source.stats.heldFrames).toBe(0);
  expect(await slotsSettle(source, 0)).toBe(0);
  expect(() => held[0]!.data).toThrow(expect.objectContaining({ code: 'ERR_FRAME_RELEASED' }));
  // Keeping a released frame would promise memory that is no longer its own.
  expect(() => held[0]!.keep()).toThrow(expect.objectContaining({ code: 'ERR_FRAME_RELEASED' }));
});

it('rejects with ERR_RING_EXHAUSTED instead of hanging when the consumer holds every slot, and still closes promptly', async () => {
  const source = new FrameSource({ pipeline: `videotestsrc ! ${SMALL}`, ringSize: 3 });
  const held: Frame[] = [];
  for (let i = 0; i < 3; i++) held.push((await source.read())!);
  // Upstream is now blocked waiting for a buffer of the pool.
  await sleep(50);
  await expect(within(2000, source.read(), 'read()')).rejects.toMatchObject({ code: 'ERR_RING_EXHAUSTED' });
  await within(3000, source.close(), 'close() while upstream waits for a slot');
  held.forEach((f) => f.release());
  expect(await slotsSettle(source, 0)).toBe(0);
});

it('releases each frame when the loop moves on unless it is kept', async () => {
  const source = new FrameSource({ pipeline: `videotestsrc num-buffers=20 pattern=ball ! ${SMALL}`, ringSize: 4 });
  let kept: Frame | null = null;
  let keptCopy: Buffer | null = null;
  let previous: Frame | null = null;
  let count = 0;
  for await (const frame of source) {
    if (previous) expect(previous.released).toBe(previous === kept ? false : true);
    if (frame.sequence === 2) {
      kept = frame.keep();
      keptCopy = Buffer.from(frame.data);
    }
    previous = frame;
    count++;
  }
  expect(count).toBe(20);
  // 17 frames went through the 4-slot ring after it: the kept one was never overwritten.
  expect(kept!.released).toBe(false);
  expect(Buffer.from(kept!.data).equals(keptCopy!)).toBe(true);
  expect(source.stats.heldFrames).toBe(1);
  kept!.release();
  expect(source.stats.heldFrames).toBe(0);
});

it('releases a frame at the end of a `using` block', async () => {
  const source = new FrameSource({ pipeline: `videotestsrc ! ${SMALL}` });
  let frame: Frame;
  {
    using f = (await source.read())!;
    frame = f;
    expect(source.stats.heldFrames).toBe(1);
  }
  expect(frame.released).toBe(true);
  expect(source.stats.heldFrames).toBe(0);
  await source.close();
});

it('closes when the loop is left early, and ends a loop closed from inside', async () => {
  const a = new FrameSource({ pipeline: `videotestsrc ! ${SMALL}` });
  for await (const frame of a) {
    expect(frame.width).toBe(160);
    break;
  }
  expect(a.state).toBe('closed');
  expect(a.stats.heldFrames).toBe(0);

  const b = new FrameSource({ pipeline: `videotestsrc ! ${SMALL}` });
  let n = 0;
  for await (const _frame of b) {
    n++;
    await b.close();
  }
  expect(n).toBe(1);
  expect(b.state).toBe('closed');
});

it('closes twice, concurrently and after, and fires no event after close()', async () => {
  const source = new FrameSource({ pipeline: `videotestsrc num-buffers=5 ! ${SMALL}`, statsInterval: 5 });
  const events: string[] = [];
  for (const e of ['format', 'eos', 'stats', 'error', 'warning'] as const) source.on(e, () => events.push(e));
  const closing = [source.close(), source.close()];
  await within(3000, Promise.all(closing), 'two close() calls');
  await source.close();
  await sleep(100);
  expect(events).toEqual([]);
  expect(await source.read()).toBeNull();
});

it('closes during negotiation without a hang', async () => {
  for (let i = 0; i < 10; i++) {
    const source = new FrameSource({ pipeline: `videotestsrc ! ${SMALL} ! videoconvert ! video/x-raw,format=I420` });
    if (i % 2) await sleep(i);
    await within(3000, source.close(), `close() #${i}`);
    expect(source.state).toBe('closed');
  }
});

it('emits stats periodically while open', async () => {
  const source = new FrameSource({ pipeline: `videotestsrc ! ${SMALL}`, statsInterval: 20 });
  const stats = await new Promise<unknown>((resolve) => source.once('stats', resolve));
  expect(stats).toMatchObject({ memory: 'shared' });
  await source.close();
});
