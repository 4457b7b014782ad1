// Lifecycle attacks the other suites do not cover: many sources at once, close at random moments
// of playback, the consumer holding all but the newest frame, and the process (or a child of a
// child) exiting at each lifecycle stage. Each ends with no crash, no hang and every slot back.
// Covered elsewhere: close with held frames, while upstream waits, twice, from inside the loop,
// during negotiation (lifecycle.test.ts); renegotiation with held frames (renegotiation.test.ts);
// terminating a worker that holds frames (threads.test.ts); GC of kept frames and exit with held
// frames (process.test.ts).
import * as path from 'node:path';
import { FrameSource, type Frame } from '../lib/index';
import { ROOT, sleep } from './helpers';
import { killChildren, runNode } from './run-node';

const DIST = path.join(ROOT, 'dist', 'index.cjs');
const STAGES = path.join(__dirname, 'fixtures', 'stages.js');
const SMALL = 'video/x-raw,format=RGBA,width=64,height=48';

afterAll(killChildren);

/** Every slot back: after close and release, the pool frees its idle buffers as they return. */
async function slotsBack(source: FrameSource): Promise<void> {
  while (source.stats.slotsInUse > 0) await sleep(5);
  expect(source.stats.heldFrames).toBe(0);
}

it.each([2, 4, 8])(
  'delivers the next frame when the consumer holds a ring of %i, releases the newest and reads again',
  async (ringSize) => {
    const source = new FrameSource({ pipeline: `videotestsrc ! ${SMALL}`, ringSize });
    const held: Frame[] = [];
    for (let i = 0; i < ringSize; i++) held.push((await source.read())!);
    // The newest frame is the one appsink saw last: giving it back must free a slot for upstream.
    held.pop()!.release();
    const next = (await source.read())!;
    expect(next.sequence).toBe(ringSize);
    held.push(next);
    await source.close();
    held.forEach((f) => f.release());
    await slotsBack(source);
  },
);

it('runs 8 sources at once, of different formats, holding frames in each, and gets every slot back', async () => {
  const formats = ['RGBA', 'BGRA', 'I420', 'NV12', 'GRAY8', 'RGBx', 'I420', 'RGBA'];
  const sources = formats.map(
    (format, i) =>
      new FrameSource({
        pipeline:
          `videotestsrc num-buffers=40 pattern=${i} ! video/x-raw,format=${format},width=${96 + 16 * i},height=64` +
          (i % 2 ? ' ! videoconvert ! video/x-raw,format=RGBA' : ''),
        ringSize: 3 + i,
      }),
  );
  const results = await Promise.all(
    sources.map(async (source, i) => {
      const held: Frame[] = [];
      let n = 0;
      for await (const frame of source) {
        n++;
        if (n % (i + 2) === 0) held.push(frame.keep());
        if (held.length > 1) held.shift()!.release();
        if (i === 7 && n === 20) break; // one leaves early, closing itself
      }
      const copy = held.map((f) => Buffer.from(f.data));
      await source.close();
      // Still intact after close, then given back.
      held.forEach((f, k) => expect(Buffer.from(f.data).equals(copy[k]!)).toBe(true));
      held.forEach((f) => f.release());
      await slotsBack(source);
      return { n, zeroCopy: source.stats.zeroCopyFrames, state: source.state };
    }),
  );
  results.forEach((r, i) => {
    expect(r.n).toBe(i === 7 ? 20 : 40);
    expect(r.state).toBe('closed');
    expect(r.zeroCopy).toBeGreaterThanOrEqual(r.n);
  });
});

it('closes at random moments of playback, with and without frames held, again and again', async () => {
  // A fixed sequence of moments (0..30 frames, held or not): replayable, and covers each kind.
  for (let i = 0; i < 12; i++) {
    const source = new FrameSource({
      pipeline: `videotestsrc ! video/x-raw,format=I420,width=64,height=48 ! videoconvert ! ${SMALL}`,
      ringSize: 4,
    });
    const held: Frame[] = [];
    const frames = (i * 7) % 31;
    for (let k = 0; k < frames; k++) {
      const f = (await source.read())!;
      if (i % 3 === 0 && held.length < 3) held.push(f);
      else f.release();
    }
    if (i % 2) await sleep(i);
    const pending = i % 4 === 1 ? source.read() : null; // a read in flight when close() comes
    await source.close();
    // It resolves with a frame already queued, or with null once closed: never hangs.
    if (pending) (await pending)?.release();
    expect(source.state).toBe('closed');
    held.forEach((f) => f.release());
    await slotsBack(source);
  }
});

describe('the process exits at each lifecycle stage', () => {
  const stages = ['constructed', 'negotiated', 'playing', 'holding', 'closing', 'closed'];

  it.each(stages)('process.exit() at stage %s: exit code 0, no signal', async (stage) => {
    const r = await runNode([STAGES, DIST, stage, 'exit']);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.reports[0]).toMatchObject({ stage });
  });

  it.each(stages)('uncaught throw at stage %s: exit code 1, no crash', async (stage) => {
    const r = await runNode([STAGES, DIST, stage, 'throw']);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`deliberate uncaught error at stage ${stage}`);
  });

  it.each(stages)('natural exit after close() at stage %s: the event loop drains', async (stage) => {
    const r = await runNode([STAGES, DIST, stage, 'natural']);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
  });

  it.each(['negotiated', 'holding', 'closing'])('a child of a child exits at stage %s, and its parent goes on', async (stage) => {
    const r = await runNode([STAGES, DIST, stage, 'exit', 'nested']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.reports[0]).toEqual({ grandchild: { status: 0, signal: null, reports: [expect.objectContaining({ stage })] } });
    expect(r.reports[1]).toMatchObject({ stage });
  });
});
