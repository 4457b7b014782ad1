// `frame-source --serve` as a user runs it: the spawned CLI serves its page, Chromium shows it,
// and the page's pixels are read back; a client that stops reading must cost the server frames,
// not memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import WebSocket from 'ws';
import { FrameSource } from '../lib/index';
import { launchChromium, type LaunchedBrowser } from './browser';
import { ROOT, sleep, tempDir } from './helpers';
import { COUNTER_FRAMES, FPS, frameTime, makeCounterMp4 } from './playback-media';

const CLI = path.join(ROOT, 'dist', 'cli.cjs');
const children = new Set<ChildProcess>();
let chromium: LaunchedBrowser | undefined;

afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});
afterAll(async () => {
  await chromium?.close();
});

/** Starts `frame-source --serve 0 ...` and resolves with its URL once it listens. */
function startServer(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [CLI, '--serve', '0', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /serving (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve({ child, url: m[1]!, output: () => out });
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${out}`)));
  });
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

async function stats(url: string): Promise<{ delivered: number; pages: Array<{ sent: number; skipped: number; waiting: boolean }> }> {
  return (await fetch(`${url}stats`)).json() as never;
}

const BARS = (format: string) => `videotestsrc pattern=smpte75 ! video/x-raw,format=${format},width=640,height=360,framerate=30/1`;

it('the page shows the source live, with matching pixels, fps and latency', async () => {
  // The reference: GStreamer's own RGBA rendering of the same bars.
  const ref = new FrameSource({ pipeline: BARS('RGBA') });
  const frame = (await ref.read())!;
  const row = 180;
  const expected = [...Array(7).keys()].map((bar) => {
    const x = Math.floor((bar + 0.5) * (640 / 7));
    const i = frame.layout[0]!.offset + row * frame.layout[0]!.stride + x * 4;
    return { x, rgb: [...frame.data.subarray(i, i + 3)] };
  });
  frame.release();
  await ref.close();

  const { url } = await startServer(['--duration', '30', ...BARS('I420').split(' ')]);
  chromium ??= await launchChromium();
  const page = await chromium.browser.newPage();
  await page.goto(url);
  await page.waitForFunction('window.frameSourcePage && window.frameSourcePage.frames >= 20', { timeout: 20000 });
  const shown = (await page.evaluate('window.frameSourcePage')) as { fps: number; latencyMs: number; format: string };
  expect(shown.format).toBe('I420 640x360');
  expect(shown.fps).toBeGreaterThan(5);
  expect(shown.latencyMs).toBeGreaterThan(0);
  expect(await page.$eval('#fps', (e) => e.textContent)).toMatch(/^\d+$/);
  expect(await page.$eval('#latency', (e) => e.textContent)).toMatch(/^\d+\.\d$/);

  const drawn = (await page.evaluate(`(() => {
    const view = document.getElementById('view');
    const c = document.createElement('canvas');
    c.width = view.width; c.height = view.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(view, 0, 0);
    return ${JSON.stringify(expected.map((e) => e.x))}.map((x) => [...ctx.getImageData(x, ${row}, 1, 1).data.slice(0, 3)]);
  })()`)) as number[][];
  expected.forEach((e, bar) => {
    for (let c = 0; c < 3; c++) expect(Math.abs(drawn[bar]![c]! - e.rgb[c]!)).toBeLessThanOrEqual(3);
  });
}, 90000);

it('a page that stops reading costs frames, not server memory', async () => {
  // 1280x720 RGBA at 30 fps: 110 MB a second if frames were queued for a stalled page.
  const { child, url } = await startServer(['--duration', '30', '--test', 'smpte']);
  const wsUrl = `${url.replace(/^http/, 'ws')}frames`;

  const stalled = new WebSocket(wsUrl);
  await new Promise((r) => stalled.once('open', r));
  // Never acknowledges, and stops reading its socket altogether.
  (stalled as unknown as { _socket: { pause(): void } })._socket.pause();

  // A healthy page alongside it goes on receiving frames.
  const healthy = new WebSocket(wsUrl);
  let received = 0;
  healthy.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) return;
    received++;
    const header = JSON.parse(data.subarray(4, 4 + data.readUInt32LE(0)).toString());
    healthy.send(JSON.stringify({ ack: header.sequence }));
  });

  await sleep(2000);
  const before = { rss: rssBytes(child.pid!), stats: await stats(url), received };
  await sleep(5000);
  const after = { rss: rssBytes(child.pid!), stats: await stats(url), received };
  stalled.terminate();
  healthy.terminate();

  const framesMeanwhile = after.stats.delivered - before.stats.delivered;
  expect(framesMeanwhile).toBeGreaterThan(60);
  expect(after.rss - before.rss).toBeLessThan(40 * 2 ** 20);
  expect(after.received - before.received).toBeGreaterThan(30);
  const stalledPage = after.stats.pages.find((p) => p.waiting && p.sent === 1);
  expect(stalledPage).toBeDefined();
  expect(stalledPage!.skipped).toBeGreaterThan(60);
}, 60000);

// The counter file's frame n is a flat grey of luma 16 + 3n; the page draws it as limited-range
// video, so the canvas shows 255/219 of that above black.
const FRAME_US = 1_000_000 / FPS;
const counterOfRed = (red: number): number => Math.round((red * 219) / 255 / 3);
/**
 * Records each frame the page draws, in the same task that drew it (the page's WebSocket handler
 * is wrapped before the page loads): its counter, read from the canvas, its position and how many
 * seeks the page had had answered by then. A sampler that polled could pair a frame drawn before
 * an answer with the answer.
 */
const SAMPLER = `(() => {
  window.samples = [];
  const copy = document.createElement('canvas');
  const sample = () => {
    const view = document.getElementById('view');
    copy.width = view.width; copy.height = view.height;
    const ctx = copy.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(view, 0, 0);
    const red = ctx.getImageData(view.width >> 1, view.height >> 1, 1, 1).data[0];
    const shown = window.frameSourcePage;
    window.samples.push({ frames: shown.frames, seeks: shown.seeks, position: shown.position, red });
  };
  window.WebSocket = class extends WebSocket {
    get onmessage() { return super.onmessage; }
    set onmessage(handler) {
      super.onmessage = (event) => {
        handler(event);
        if (typeof event.data !== 'string') sample();
      };
    }
  };
})()`;

type Sample = { frames: number; seeks: number; position: number; red: number };

it('a file gets a scrubber with its duration; dragging and releasing it seeks what the page shows', async () => {
  const dir = tempDir('frame-source-serve-');
  try {
    const file = makeCounterMp4(dir);
    const { url } = await startServer([file, '--format', 'I420', '--loop', '--duration', '60']);
    chromium ??= await launchChromium();
    const page = await chromium.browser.newPage();
    await page.evaluateOnNewDocument(SAMPLER);
    await page.goto(url);
    await page.waitForFunction('window.frameSourcePage && window.frameSourcePage.frames >= 3', { timeout: 20000 });
    expect(await page.evaluate(`document.getElementById('seekbar').hidden`)).toBe(false);
    const max = Number(await page.evaluate(`document.getElementById('scrub').max`));
    expect(Math.abs(max - frameTime(COUNTER_FRAMES))).toBeLessThan(FRAME_US);
    expect(await page.$eval('#time', (e) => e.textContent)).toMatch(/^0:0[01]\.\d\d \/ 0:02\.0\d$/);

    // Moves the scrubber as a user would: 'input' while dragging, 'change' on release.
    const move = (us: number, events: string[]) =>
      page.evaluate(`(() => {
        const scrub = document.getElementById('scrub');
        scrub.value = '${us}';
        for (const type of ${JSON.stringify(events)}) scrub.dispatchEvent(new Event(type));
      })()`);
    /** The first frame drawn after the page's `seeks`-th seek was answered. */
    const firstAfter = async (seeks: number): Promise<Sample> => {
      await page.waitForFunction(`window.samples.some((s) => s.seeks >= ${seeks})`, { timeout: 15000 });
      const samples = (await page.evaluate('window.samples')) as Sample[];
      return samples.find((s) => s.seeks >= seeks)!;
    };
    const mid = (n: number) => Math.round(frameTime(n) + FRAME_US / 2);

    // Dragging: a keyframe seek, to the keyframe at or before frame 25 (keyframes every 10).
    await move(mid(25), ['input']);
    expect(await page.$eval('#time', (e) => e.textContent)).toBe('0:00.85 / 0:02.00');
    const dragged = await firstAfter(1);
    const seekedTo = (await page.evaluate('window.frameSourcePage.seekedTo')) as number;
    expect(Math.abs(seekedTo - frameTime(20))).toBeLessThan(FRAME_US / 2);
    // The target may be skipped for the page (it was still drawing the frame before): allow two.
    expect(counterOfRed(dragged.red)).toBeGreaterThanOrEqual(20);
    expect(counterOfRed(dragged.red)).toBeLessThanOrEqual(22);
    expect(Math.round(dragged.position / FRAME_US)).toBe(counterOfRed(dragged.red));

    // Dragging on to frame 45 and releasing there: a keyframe seek (frame 40), answered before the
    // page sends the accurate one it queued meanwhile; the third answer is that one's, to frame 45.
    await move(mid(45), ['input', 'change']);
    const released = await firstAfter(3);
    expect(counterOfRed(released.red)).toBeGreaterThanOrEqual(45);
    expect(counterOfRed(released.red)).toBeLessThanOrEqual(47);
    // The position lies within the frame shown: the accurate seek's target (frame 45 and a half)
    // when frame 45 is shown, else the start of the frame shown, in whole microseconds.
    const shown = counterOfRed(released.red);
    expect(released.position).toBeGreaterThanOrEqual(frameTime(shown) - 1);
    expect(released.position).toBeLessThan(frameTime(shown + 1) - 1);
    expect(await page.$eval('#state', (e) => e.textContent)).toBe('live');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 90000);

it('a live source gets no scrubber, and a seek asked anyway comes back as ERR_NOT_SEEKABLE', async () => {
  const { url } = await startServer(['--test', '--live', '--format', 'I420', '--duration', '30']);
  chromium ??= await launchChromium();
  const page = await chromium.browser.newPage();
  await page.goto(url);
  await page.waitForFunction('window.frameSourcePage && window.frameSourcePage.frames >= 3', { timeout: 20000 });
  expect(await page.evaluate(`document.getElementById('seekbar').hidden`)).toBe(true);
  expect(await page.evaluate('window.frameSourcePage.duration')).toBeNull();
  await page.evaluate(`(() => {
    const scrub = document.getElementById('scrub');
    scrub.max = '10000000'; scrub.value = '5000000';
    scrub.dispatchEvent(new Event('change'));
  })()`);
  await page.waitForFunction('window.frameSourcePage.seekError !== null', { timeout: 10000 });
  expect(await page.evaluate('window.frameSourcePage.seekError')).toBe('ERR_NOT_SEEKABLE');
  expect(await page.$eval('#state', (e) => e.textContent)).toMatch(/^seek failed: ERR_NOT_SEEKABLE/);
  expect(await page.evaluate(`document.getElementById('seekbar').hidden`)).toBe(true);
}, 60000);

it('a page that cannot draw the frames says so (GRAY8 where WebGL2 is missing: VideoFrame has no GRAY8)', async () => {
  const { url } = await startServer(['--duration', '30', ...'videotestsrc ! video/x-raw,format=GRAY8,width=64,height=48'.split(' ')]);
  const noWebgl = await launchChromium(['--disable-3d-apis']);
  try {
    const page = await noWebgl.browser.newPage();
    await page.goto(url);
    // Before, the page stayed 'live' and blank, the error only in the console.
    await page.waitForFunction('window.frameSourcePage.drawError !== null', { timeout: 10000 });
    const state = await page.evaluate('document.getElementById("state").textContent');
    expect(state).toMatch(/^cannot draw: .*GRAY8/);
  } finally {
    await noWebgl.close();
  }
}, 30000);
