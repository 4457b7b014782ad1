// The browser module in a real Chromium: frames from frame-source at a size whose planes are
// padded (1278x719: an I420 Y plane has stride 1280), drawn by dist/web.mjs through WebGL2 and
// through WebCodecs' VideoFrame, read back, and compared with GStreamer's own RGBA rendering of
// the same pattern.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Page } from 'puppeteer-core';
import { FrameSource, type WebFrameInit } from '../lib/index';
import { launchChromium, type LaunchedBrowser } from './browser';
import { ROOT, visibleBytes } from './helpers';

const W = 1278;
const H = 719;
const PATTERN = 'smpte75';

interface Case {
  init: WebFrameInit;
  data: Buffer;
}

const cases = new Map<string, Case>();
const results = new Map<string, Buffer>();
let reference: Buffer;
let grayVisible: Buffer;
let server: Server;
let chromium: LaunchedBrowser;
let page: Page;

async function grab(caps: string, convert = false): Promise<Case & { visible: Buffer }> {
  const head = `videotestsrc num-buffers=1 pattern=${PATTERN} ! video/x-raw,${convert ? `format=RGBA,width=${W},height=${H} ! videoconvert ! video/x-raw,` : ''}`;
  const source = new FrameSource({ pipeline: `${head}${caps},width=${W},height=${H}` });
  try {
    const frame = (await source.read())!;
    const out = {
      init: frame.toFrameInit(),
      data: Buffer.from(frame.data),
      visible: visibleBytes(frame.data, frame.format, W, H, frame.layout),
    };
    frame.release();
    return out;
  } finally {
    await source.close();
  }
}

// RGBA rows are 4-byte aligned already: move them to a padded stride and a non-zero offset, so the
// renderer has to honour both.
function padded(c: Case, visible: Buffer): Case {
  const offset = 192;
  const stride = W * 4 + 64;
  const data = Buffer.alloc(offset + stride * H, 0xee);
  for (let y = 0; y < H; y++) visible.copy(data, offset + y * stride, y * W * 4, (y + 1) * W * 4);
  return { init: { ...c.init, layout: [{ offset, stride }] }, data };
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>frame-source/web test</title>
<script type="module">
import { WebGLFrameRenderer, drawVideoFrame } from '/web.mjs';
window.drawCase = async (name, how) => {
  const init = await (await fetch('/case/' + name + '/init')).json();
  const bytes = new Uint8Array(await (await fetch('/case/' + name + '/data')).arrayBuffer());
  // Frames in an Electron renderer or a worker are SharedArrayBuffer views: draw from one.
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
  shared.set(bytes);
  const canvas = document.createElement('canvas');
  let pixels;
  if (how === 'webgl') {
    const renderer = new WebGLFrameRenderer(canvas);
    renderer.draw(shared, init);
    const gl = renderer.gl;
    const w = canvas.width, h = canvas.height;
    const raw = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, raw);
    pixels = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) pixels.set(raw.subarray((h - 1 - y) * w * 4, (h - y) * w * 4), y * w * 4);
    renderer.dispose();
  } else {
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    drawVideoFrame(ctx, shared, init);
    pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  }
  const r = await fetch('/result/' + name + '/' + how, { method: 'POST', body: pixels });
  return r.status;
};
window.ready = true;
</script>`;

beforeAll(async () => {
  const rgba = await grab('format=RGBA');
  reference = rgba.visible;
  cases.set('RGBA', padded(rgba, rgba.visible));
  const bgra = await grab('format=BGRA');
  cases.set('BGRA', padded(bgra, bgra.visible));
  for (const format of ['I420', 'NV12']) {
    for (const colorimetry of ['bt601', 'bt709'])
      cases.set(`${format}-${colorimetry}`, await grab(`format=${format},colorimetry=${colorimetry}`));
    // videotestsrc writes BT.2020 frames with BT.709's matrix; videoconvert writes BT.2020's.
    cases.set(`${format}-bt2020`, await grab(`format=${format},colorimetry=bt2020`, true));
  }
  // videotestsrc writes limited range whatever the caps say; videoconvert honours full range.
  cases.set('I420-full', await grab('format=I420,colorimetry=1:4:16:4', true));
  // 1278 pixels a row, 1280 bytes apart: the renderer has to honour the stride.
  const gray = await grab('format=GRAY8');
  grayVisible = gray.visible;
  cases.set('GRAY8', gray);

  const web = readFileSync(path.join(ROOT, 'dist', 'web.mjs'));
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    // Cross-origin isolated, as an Electron renderer must be to get SharedArrayBuffer.
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    const m = /^\/(case|result)\/([\w-]+)\/(\w+)$/.exec(url);
    if (url === '/') {
      res.setHeader('content-type', 'text/html');
      res.end(PAGE);
    } else if (url === '/web.mjs') {
      res.setHeader('content-type', 'text/javascript');
      res.end(web);
    } else if (m && m[1] === 'case' && cases.has(m[2]!)) {
      const c = cases.get(m[2]!)!;
      res.end(m[3] === 'init' ? JSON.stringify(c.init) : c.data);
    } else if (m && m[1] === 'result' && req.method === 'POST') {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        results.set(`${m[2]}/${m[3]}`, Buffer.concat(parts));
        res.end('ok');
      });
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  chromium = await launchChromium();
  page = await chromium.browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  await page.waitForFunction('window.ready === true', { timeout: 10000 }).catch(() => {
    throw new Error(`test page did not load: ${errors.join('; ')}`);
  });
}, 60000);

afterAll(async () => {
  await chromium?.close();
  server?.close();
});

// videotestsrc places region edges of its YUV frames on even pixels (chroma pairs), so an edge can
// sit a pixel or two away from the RGBA frame's.
const MARGIN = 3;

/**
 * The largest difference per channel between a drawn frame and the RGBA reference, over pixels
 * at least MARGIN pixels away from any edge in the reference (edges depend on how chroma was
 * subsampled, which is not what is tested here).
 */
function compare(drawn: Buffer): { max: number; compared: number; at: string } {
  expect(drawn.length).toBe(W * H * 4);
  mask ??= edgeFreeMask();
  let max = 0;
  let compared = 0;
  let at = '';
  for (let i = 0; i < W * H; i++) {
    if (!mask[i]) continue;
    compared++;
    for (let c = 0; c < 4; c++) {
      const d = Math.abs(drawn[i * 4 + c]! - reference[i * 4 + c]!);
      if (d > max) {
        max = d;
        at = `(${i % W},${Math.floor(i / W)}) channel ${c}: drawn ${drawn[i * 4 + c]} reference ${reference[i * 4 + c]}`;
      }
    }
  }
  return { max, compared, at };
}

let mask: Uint8Array | undefined;

// 1 where the reference is one colour over the (2 MARGIN + 1)^2 square around the pixel: rows of
// horizontally uniform runs first, then columns of those.
function edgeFreeMask(): Uint8Array {
  const px = (x: number, y: number) => reference.readUInt32LE((y * W + x) * 4);
  const rowOk = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = MARGIN; x < W - MARGIN; x++) {
      let ok = 1;
      for (let d = -MARGIN; d <= MARGIN && ok; d++) if (px(x + d, y) !== px(x, y)) ok = 0;
      rowOk[y * W + x] = ok;
    }
  }
  const out = new Uint8Array(W * H);
  for (let y = MARGIN; y < H - MARGIN; y++) {
    for (let x = 0; x < W; x++) {
      let ok = rowOk[y * W + x]!;
      for (let d = -MARGIN; d <= MARGIN && ok; d++) if (!rowOk[(y + d) * W + x] || px(x, y + d) !== px(x, y)) ok = 0;
      out[y * W + x] = ok;
    }
  }
  return out;
}

async function draw(name: string, how: 'webgl' | 'videoframe'): Promise<Buffer> {
  // A string, so the page's own global (not a Node one) is what runs.
  expect(await page.evaluate(`window.drawCase(${JSON.stringify(name)}, ${JSON.stringify(how)})`)).toBe(200);
  return results.get(`${name}/${how}`)!;
}

describe('WebGL2 (the shipped shader)', () => {
  // BT.2020 (UHD and HDR sources): colorSpace cannot name its matrix; toFrameInit()'s colorimetry
  // does. Drawn as BT.709 it was 28 levels off.
  it.each(['RGBA', 'BGRA', 'I420-bt601', 'I420-bt709', 'NV12-bt601', 'NV12-bt709', 'I420-full', 'I420-bt2020', 'NV12-bt2020'])(
    '%s matches the RGBA frame within 3 levels',
    async (name) => {
      const r = compare(await draw(name, 'webgl'));
      expect(r.compared).toBeGreaterThan(W * H * 0.8);
      if (name === 'RGBA' || name === 'BGRA') expect(r.max).toBe(0);
      expect(r.max <= 3 ? 'within 3' : `${r.max} off at ${r.at}`).toBe('within 3');
    },
  );
});

describe('WebGL2, GRAY8 (which WebCodecs lacks): frame.toFrameInit() describes it', () => {
  it('draws every pixel as its grey level, exactly', async () => {
    const drawn = await draw('GRAY8', 'webgl');
    expect(drawn.length).toBe(W * H * 4);
    expect(grayVisible.length).toBe(W * H);
    let off = 0;
    for (let i = 0; i < W * H; i++) {
      const y = grayVisible[i]!;
      if (drawn[i * 4] !== y || drawn[i * 4 + 1] !== y || drawn[i * 4 + 2] !== y || drawn[i * 4 + 3] !== 255) off++;
    }
    expect(off).toBe(0);
    // Not one flat grey: the pattern's bars reached the page.
    expect(new Set(grayVisible).size).toBeGreaterThan(4);
  });
});

describe('VideoFrame (the browser converts)', () => {
  it.each(['RGBA', 'BGRA', 'I420-bt601', 'NV12-bt601'])('%s matches the RGBA frame within 3 levels', async (name) => {
    const r = compare(await draw(name, 'videoframe'));
    expect(r.compared).toBeGreaterThan(W * H * 0.8);
    expect(r.max <= 3 ? 'within 3' : `${r.max} off at ${r.at}`).toBe('within 3');
  });

  it.each(['I420-bt2020', 'NV12-bt2020'])("%s is drawn with BT.2020's matrix, from toFrameInit()'s colorimetry", async (name) => {
    const r = compare(await draw(name, 'videoframe'));
    // As BT.709 (all a colour space from the caps could say) it was 25 off; with BT.2020's matrix,
    // 15: Chromium's own conversion is that far off on saturated colours, as for BT.709.
    expect(r.max <= 16 ? 'within 16' : `${r.max} off at ${r.at}`).toBe('within 16');
  });

  it('I420 BT.709 is drawn as BT.709 (Chromium is a few levels off on saturated blue, FACTS: ~13)', async () => {
    const r = compare(await draw('I420-bt709', 'videoframe'));
    // Drawn as BT.601 it would be 30+ off; the colour space reached Chromium.
    expect(r.max).toBeLessThanOrEqual(16);
  });
});
