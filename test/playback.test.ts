// Playback control on real files (H.264 MP4 with B-frames, VP9 WebM) with a frame counter burned
// into each picture: duration, keyframe and accurate seeks, pause/resume, step, rate, start/end, and
// the bad inputs, each of which must get a typed error and never a hang.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { FrameSource, type Frame } from '../lib/index';
import { sleep, tempDir, within } from './helpers';
import { COUNTER_FRAMES, FPS, GOP, counterOf, frameTime, makeCounterMp4, makeCounterWebm } from './playback-media';

let dir: string;
const media: Record<string, string> = {};
const FRAME_US = 1_000_000 / FPS;
// Inside frame n, away from its edges: WebM rounds timestamps to ms, so frame n's start is not
// exactly n / 30 s there.
const mid = (n: number): number => Math.round(frameTime(n) + FRAME_US / 2);

beforeAll(() => {
  dir = tempDir('frame-source-playback-');
  media.mp4 = makeCounterMp4(dir);
  media.webm = makeCounterWebm(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Closed after each test, whatever it did: an open source keeps the test process alive.
const opened: FrameSource[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

function open(file: string, extra: Record<string, unknown> = {}): FrameSource {
  const source = new FrameSource({ uri: `file://${file}`, format: 'GRAY8', ...extra });
  opened.push(source);
  return source;
}

async function readCounter(source: FrameSource): Promise<{ n: number; frame: Frame }> {
  const frame = await within(10_000, source.read(), 'read()');
  if (!frame) throw new Error('unexpected end of stream');
  return { n: counterOf(frame), frame };
}

function durationOf(source: FrameSource): Promise<number | null> {
  if (source.duration !== null) return Promise.resolve(source.duration);
  return within(10_000, new Promise((resolve) => source.once('duration', resolve)), "'duration' event");
}

// After a seek to mid(44) while paused: the step gave frame 44; resumed, frame 45 comes next.
async function expectTargetThenNext(source: FrameSource, stepped: Frame | null): Promise<void> {
  expect(counterOf(stepped!)).toBe(44);
  stepped!.release();
  source.resume();
  const { n, frame } = await readCounter(source);
  expect(n).toBe(45);
  frame.release();
  await source.close();
}

describe.each(['mp4', 'webm'])('%s', (kind) => {
  it('knows its duration within one frame', async () => {
    const source = open(media[kind]!);
    const duration = await durationOf(source);
    expect(duration).not.toBeNull();
    expect(Math.abs(duration! - (COUNTER_FRAMES * 1_000_000) / FPS)).toBeLessThanOrEqual(FRAME_US);
    await source.close();
  });

  it('seeks to the keyframe at or before the position by default, and marks the jump', async () => {
    const source = open(media[kind]!);
    const first = await readCounter(source);
    expect(first.n).toBe(0);
    expect(first.frame.discontinuity).toBe(false);
    const before = Buffer.from(first.frame.data);
    const events: Array<{ position: number | null }> = [];
    source.on('seek', (e) => events.push(e));
    await within(5_000, source.seek(frameTime(2 * GOP + 5)), 'seek()');
    const landed = await readCounter(source);
    expect(landed.n).toBe(2 * GOP);
    expect(landed.frame.discontinuity).toBe(true);
    expect(landed.frame.sequence).toBeGreaterThan(first.frame.sequence);
    expect(events).toHaveLength(1);
    expect(Math.abs(events[0]!.position! - frameTime(2 * GOP))).toBeLessThan(FRAME_US / 2);
    expect(Math.abs(source.position! - frameTime(2 * GOP))).toBeLessThan(FRAME_US / 2);
    const next = await readCounter(source);
    expect(next.n).toBe(2 * GOP + 1);
    expect(next.frame.discontinuity).toBe(false);
    // The frame held across the seek kept its bytes.
    expect(Buffer.from(first.frame.data).equals(before)).toBe(true);
    for (const f of [first, landed, next]) f.frame.release();
    await source.close();
  });

  it('lands on the exact frame with accurate: true, forwards and backwards', async () => {
    const source = open(media[kind]!);
    (await readCounter(source)).frame.release();
    // Not the last frame: reading it would reach the end of stream, which closes the source.
    for (const target of [37, 13, 58, 1]) {
      await within(5_000, source.seek(mid(target), { accurate: true }), `seek(${target})`);
      const { n, frame } = await readCounter(source);
      expect([target, n]).toEqual([target, target]);
      expect(frame.discontinuity).toBe(true);
      frame.release();
    }
    await source.close();
  });

  it('pauses: nothing for 500 ms, then resumes from the same position', async () => {
    const source = open(media[kind]!);
    const a = await readCounter(source);
    a.frame.release();
    source.pause();
    expect(source.paused).toBe(true);
    const pending = source.read();
    let got: Frame | null | undefined;
    void pending.then((f) => (got = f));
    await sleep(500);
    expect(got).toBeUndefined();
    // Paused, nothing is decoded into new memory either.
    const slots = source.stats.slots;
    source.resume();
    const b = await within(5_000, pending, 'read() after resume');
    expect(counterOf(b!)).toBe(a.n + 1);
    expect(slots).toBeLessThanOrEqual(source.options.ringSize + 1);
    b!.release();
    await source.close();
  });

  it('steps one frame at a time while paused, and plays on from there', async () => {
    const source = open(media[kind]!);
    const a = await readCounter(source);
    a.frame.release();
    source.pause();
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      const f = await within(5_000, source.step(), 'step()');
      seen.push(counterOf(f!));
      f!.release();
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6].map((i) => a.n + i));
    const two = await within(5_000, source.step(2), 'step(2)');
    expect(counterOf(two!)).toBe(a.n + 8);
    two!.release();
    source.resume();
    const b = await readCounter(source);
    expect(b.n).toBe(a.n + 9);
    b.frame.release();
    await source.close();
  });

  it('paused right after opening: nothing plays, and steps start at the first frame', async () => {
    const source = open(media[kind]!);
    source.pause();
    const pending = source.read();
    let got: Frame | null | undefined;
    void pending.then((f) => (got = f));
    await sleep(300);
    expect(got).toBeUndefined();
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const f = await within(5_000, source.step(), 'step()');
      seen.push(counterOf(f!));
      f!.release();
    }
    expect(seen).toEqual([0, 1, 2]);
    source.resume();
    const next = await within(5_000, pending, 'read() after resume');
    expect(counterOf(next!)).toBe(3);
    next!.release();
  });

  it('plays backwards with rate -1 from the frame before the last one delivered', async () => {
    const source = open(media[kind]!);
    await within(5_000, source.seek(mid(40), { accurate: true }), 'seek()');
    const start = await readCounter(source);
    expect(start.n).toBe(40);
    start.frame.release();
    await within(5_000, source.setRate(-1), 'setRate(-1)');
    expect(source.rate).toBe(-1);
    const got: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { n, frame } = await readCounter(source);
      got.push(n);
      frame.release();
    }
    expect(got).toEqual([39, 38, 37, 36, 35]);
    expect(Math.abs(source.position! - frameTime(35))).toBeLessThan(FRAME_US / 2);
  });

  it('seeks while paused: the target is the next frame a step or resume gives', async () => {
    const source = open(media[kind]!);
    (await readCounter(source)).frame.release();
    source.pause();
    await within(5_000, source.seek(mid(44), { accurate: true }), 'seek() while paused');
    const f = await within(5_000, source.step(), 'step()');
    await expectTargetThenNext(source, f);
  });
});

describe('pausing while the decoder waits for room in the ring', () => {
  // Decoding into the ring (I420, the files' own format), with nothing read: the queue fills and
  // the decoder's thread waits inside the sink for JS to take a frame. avdec_h264's pool grows, so
  // it waited there holding the sink's preroll lock, which the change to PAUSED takes: pause()
  // then a seek or step waited forever behind it. And a step asked right after a seek took a
  // frame queued before it.
  for (const kind of ['mp4', 'webm'] as const) {
    it(`${kind}: seek() then step() after pause() give the target; resume() plays on from it`, async () => {
      const source = open(media[kind]!, { format: 'I420', ringSize: 8 });
      (await readCounter(source)).frame.release();
      await sleep(300);
      expect(source.stats.queuedFrames).toBeGreaterThanOrEqual(7);
      source.pause();
      const seek = source.seek(mid(44), { accurate: true });
      const f = await within(5_000, source.step(), 'step() right after seek()');
      await within(5_000, seek, 'seek() after pause()');
      expect(f!.discontinuity).toBe(true);
      await expectTargetThenNext(source, f);
      expect(source.stats.heldFrames).toBe(0);
    });
  }
});

describe('backwards through a group of pictures longer than the ring', () => {
  // One keyframe in 60 frames: played backwards from frame 44, the decoder decodes frames 0-44
  // before it hands out one. Decoding into the ring (I420, the files' own format), avdec_h264 (a pool that grows) and
  // vp9dec (a bounded pool) both used to wait forever.
  for (const kind of ['mp4', 'webm'] as const) {
    it(`${kind}: fails with ERR_RING_EXHAUSTED saying why, instead of waiting forever; a ring that holds the group plays it`, async () => {
      const file = kind === 'mp4' ? makeCounterMp4(dir, 60, 60) : makeCounterWebm(dir, 60, 60);
      const source = open(file, { format: 'I420' });
      const errors: Error[] = [];
      source.on('error', (err) => errors.push(err));
      for (let i = 0; i < 45; i++) (await readCounter(source)).frame.release();
      const t0 = Date.now();
      await expect(within(10_000, source.setRate(-1), 'setRate(-1)')).rejects.toMatchObject({
        code: 'ERR_RING_EXHAUSTED',
        message: expect.stringMatching(
          /^playing backwards, .* group of pictures is longer than the ring: it holds all \d+ slots .* ringSize option \(now 8;/,
        ),
      });
      // About two seconds without progress, checked once a second.
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1_900);
      expect(errors).toHaveLength(1);
      await expect(source.read()).rejects.toBe(errors[0]);
      await within(5_000, source.close(), 'close()');
      expect(source.stats.heldFrames).toBe(0);

      // The same file with room for the whole group: backwards, frame by frame.
      const roomy = open(file, { format: 'I420', ringSize: 64 });
      for (let i = 0; i < 45; i++) (await readCounter(roomy)).frame.release();
      await within(10_000, roomy.setRate(-1), 'setRate(-1) with ringSize 64');
      const got: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { n, frame } = await readCounter(roomy);
        got.push(n);
        frame.release();
      }
      expect(got).toEqual([43, 42, 41]);
    }, 30_000);
  }
});

it('plays a start/end range, and loops within it', async () => {
  const start = frameTime(30);
  const end = frameTime(45);
  const source = open(media.mp4!, { start, end });
  const got: number[] = [];
  for await (const frame of source) got.push(counterOf(frame));
  expect(got).toEqual(Array.from({ length: 15 }, (_, i) => 30 + i));

  const looping = open(media.webm!, { start, end, loop: true });
  const seen: Array<[number, boolean]> = [];
  for await (const frame of looping) {
    seen.push([counterOf(frame), frame.discontinuity]);
    if (seen.length === 20) break;
  }
  expect(seen.slice(0, 16).map((s) => s[0])).toEqual([...Array.from({ length: 15 }, (_, i) => 30 + i), 30]);
  expect(seen[0]![1]).toBe(false);
  expect(seen[15]![1]).toBe(true);
});

it('rate 2 halves the wall time of a synced run', async () => {
  // 30 frames (1 s of media) played against the clock.
  const run = async (rate: number): Promise<{ ms: number; frames: number }> => {
    const source = open(media.webm!, { sync: true, end: frameTime(30) });
    if (rate !== 1) await source.setRate(rate);
    let frames = 0;
    let t0 = 0;
    for await (const _ of source) {
      if (frames++ === 0) t0 = performance.now();
    }
    return { ms: performance.now() - t0, frames };
  };
  const normal = await run(1);
  const fast = await run(2);
  expect(normal.frames).toBe(30);
  expect(fast.frames).toBe(30);
  // 29 frame intervals: 967 ms at rate 1, 483 ms at rate 2.
  expect(normal.ms).toBeGreaterThan(800);
  expect(fast.ms / normal.ms).toBeGreaterThan(0.4);
  expect(fast.ms / normal.ms).toBeLessThan(0.6);
});

it('1,000 random seeks with frames held across them: no hang, every slot comes back, flat memory', async () => {
  const source = open(media.webm!, { ringSize: 8 });
  const held: Frame[] = [];
  let rng = 12345;
  const random = (): number => (rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const t0 = performance.now();
  let rss200 = 0;
  for (let i = 0; i < 1000; i++) {
    const target = Math.floor(random() * (COUNTER_FRAMES - 1));
    const accurate = random() < 0.5;
    await within(5_000, source.seek(mid(target), { accurate }), `seek ${i} to frame ${target}`);
    const { n, frame } = await readCounter(source);
    expect(n).toBe(accurate ? target : target - (target % GOP));
    // Keep up to 5 frames across seeks (the consumer holding frames while upstream flushes).
    held.push(frame);
    if (held.length > 5) held.shift()!.release();
    if (i === 200) rss200 = process.memoryUsage().rss;
  }
  const ms = performance.now() - t0;
  const grown = process.memoryUsage().rss - rss200;
  held.forEach((f) => f.release());
  expect(source.stats.heldFrames).toBe(0);
  await source.close();
  expect(source.stats.slotsInUse).toBe(0);
  expect(grown).toBeLessThan(32 * 1024 * 1024);
  expect(ms).toBeLessThan(60_000);
}, 120_000);

describe('bad input gets a typed error', () => {
  it('rejects positions outside the media, and non-numbers', async () => {
    const source = open(media.mp4!);
    await durationOf(source);
    await expect(source.seek(-1)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', name: 'PositionRangeError' });
    await expect(source.seek(source.duration!)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(source.seek(Infinity)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(source.seek(NaN)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(source.seek('1' as unknown as number)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(source.seek(0, { accurate: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    expect(() => (source.rate = 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => (source.rate = NaN)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    await expect(source.step(0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(source.step('2' as unknown as number)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', name: 'OptionTypeError' });
    // The source is still fine.
    await source.seek(mid(10), { accurate: true });
    const { n, frame } = await readCounter(source);
    expect(n).toBe(10);
    frame.release();
    await source.close();
  });

  it('a seek past the end made before the duration is known rejects too, and the source goes on', async () => {
    for (const [kind, accurate] of [
      ['mp4', true],
      ['webm', false],
    ] as const) {
      const source = open(media[kind]!);
      expect(source.duration).toBeNull();
      // GStreamer took it: an accurate seek delivered the last frame, a keyframe seek the first.
      await expect(within(5_000, source.seek(50_000_000, { accurate }), 'seek past the end')).rejects.toMatchObject({
        code: 'ERR_OUT_OF_RANGE',
        name: 'PositionRangeError',
        message: expect.stringMatching(/^position must be a time in the media, from 0 to below 20\d{5} µs; received number 50000000$/),
      });
      const { n, frame } = await readCounter(source);
      expect(n).toBe(0);
      expect(frame.discontinuity).toBe(false);
      frame.release();
      await source.close();
    }
  });

  it('a position beyond Number.MAX_SAFE_INTEGER µs rejects, also before the duration is known (no overflow into a wrong seek)', async () => {
    for (const position of [Number.MAX_SAFE_INTEGER + 1, 1e16, 1e19, 1e300]) {
      const source = open(media.mp4!);
      expect(source.duration).toBeNull();
      let seeks = 0;
      source.on('seek', () => seeks++);
      await expect(within(5_000, source.seek(position), 'seek')).rejects.toMatchObject({
        code: 'ERR_OUT_OF_RANGE',
        name: 'PositionRangeError',
      });
      const { n, frame } = await readCounter(source);
      expect(n).toBe(0);
      expect(frame.discontinuity).toBe(false);
      expect(seeks).toBe(0);
      frame.release();
      await source.close();
    }
  });

  it('a start at or past the end fails the source with ERR_OUT_OF_RANGE, and no frame', async () => {
    for (const start of [10_000_000, frameTime(COUNTER_FRAMES) + 1_000]) {
      const source = open(media.webm!, { start });
      const got: number[] = [];
      const run = (async () => {
        for await (const frame of source) got.push(frame.timestamp!);
      })();
      await expect(within(5_000, run, 'the source')).rejects.toMatchObject({
        code: 'ERR_OUT_OF_RANGE',
        name: 'PipelineError',
        message: expect.stringMatching(
          new RegExp(`^option 'start' \\(${start} µs\\) is at or past the end of the media \\(20\\d{5} µs\\)$`),
        ),
      });
      expect(got).toEqual([]);
    }
  });

  it('a later seek wins; the earlier rejects with ERR_SEEK_SUPERSEDED', async () => {
    const source = open(media.mp4!);
    (await readCounter(source)).frame.release();
    const first = source.seek(mid(20), { accurate: true });
    const second = source.seek(mid(50), { accurate: true });
    await expect(first).rejects.toMatchObject({ code: 'ERR_SEEK_SUPERSEDED' });
    await within(5_000, second, 'second seek');
    const { n, frame } = await readCounter(source);
    expect(n).toBe(50);
    frame.release();
    await source.close();
  });

  it('seeking a live source rejects with ERR_NOT_SEEKABLE', async () => {
    const source = new FrameSource({ test: { live: true, width: 64, height: 48 } });
    opened.push(source);
    (await source.read())!.release();
    await expect(source.seek(0)).rejects.toMatchObject({ code: 'ERR_NOT_SEEKABLE' });
    expect(() => new FrameSource({ test: { live: true }, start: 1000 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    await source.close();
  });

  it('stepping a paused live source rejects with ERR_NOT_SEEKABLE instead of waiting forever, also right after opening', async () => {
    const source = new FrameSource({ test: { live: true, width: 64, height: 48 } });
    opened.push(source);
    (await source.read())!.release();
    source.pause();
    await expect(within(3_000, source.step(), 'step()')).rejects.toMatchObject({ code: 'ERR_NOT_SEEKABLE' });
    await source.close();
    const early = new FrameSource({ test: { live: true, width: 64, height: 48 } });
    opened.push(early);
    early.pause();
    await expect(within(3_000, early.step(), 'step() before the first frame')).rejects.toMatchObject({ code: 'ERR_NOT_SEEKABLE' });
    // The source is still usable: resumed, it reads on.
    early.resume();
    (await within(3_000, early.read(), 'read()'))!.release();
    await early.close();
  });

  it('a stream GStreamer cannot seek (muxed and demuxed on the fly) rejects with ERR_NOT_SEEKABLE, and plays on', async () => {
    // matroskademux fed by a streaming muxer works in push mode, with nothing upstream to seek in.
    const source = new FrameSource({
      pipeline:
        'videotestsrc num-buffers=60 ! video/x-raw,width=64,height=48 ! vp8enc deadline=1 ! matroskamux streamable=true ' +
        '! matroskademux ! vp8dec ! videoconvert ! video/x-raw,format=GRAY8',
    });
    opened.push(source);
    const a = await within(10_000, source.read(), 'read()');
    await expect(within(5_000, source.seek(frameTime(30)), 'seek')).rejects.toMatchObject({ code: 'ERR_NOT_SEEKABLE' });
    const b = await within(10_000, source.read(), 'read()');
    expect(b!.sequence).toBe(a!.sequence + 1);
    a!.release();
    b!.release();
  });

  it('after close: seek rejects and step throws ERR_CLOSED; pause/resume do nothing', async () => {
    const source = open(media.mp4!);
    (await readCounter(source)).frame.release();
    const pending = source.seek(frameTime(40));
    const closing = source.close();
    await expect(pending).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_CLOSED$/) });
    await closing;
    await expect(source.seek(0)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(source.step()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    source.pause();
    source.resume();
    expect(source.paused).toBe(false);
  });

  it('step without pause rejects with ERR_NOT_PAUSED; end before start is refused', async () => {
    const source = open(media.mp4!);
    await expect(source.step()).rejects.toMatchObject({ code: 'ERR_NOT_PAUSED' });
    await source.close();
    expect(() => open(media.mp4!, { start: 2000, end: 1000 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => open(media.mp4!, { sync: 'yes' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });
});

describe('CLI --start/--end', () => {
  const CLI = path.join(__dirname, '..', 'dist', 'cli.cjs');
  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });

  it('plays the range given in seconds, and shows position/duration in progress', () => {
    const r = cli(['--uri', `file://${media.mp4}`, '--start', '1', '--end', '1.5']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^15 frames from .* stopped by eos/);
    // The last frame of the range: frame 44, at 1.467 s of 2 s.
    expect(r.stderr).toMatch(/at 1\.47 s\/2\.00 s/);
  });

  it.each([
    [['--start', 'soon'], /--start needs a number of seconds from 0 to \d+; got 'soon'/],
    [['--end=-2'], /--end needs a number of seconds from 0 to \d+; got '-2'/],
    [['--start', '2', '--end', '1'], /--end must be later than --start \(2 s\)/],
  ])('%j: clear message, exit 2', (args, message) => {
    const r = cli(['--uri', `file://${media.mp4}`, ...args]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
