// The page `frame-source --serve` shows: a canvas drawn by frame-source/web, fed over a WebSocket.
// It acknowledges each frame once drawn; the server sends the next only then (see ./serve.ts).

export const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width">
<title>frame-source</title>
<style>
  body { margin: 0; background: #111; color: #ddd; font: 14px/1.4 system-ui, sans-serif; }
  header { padding: 8px 12px; display: flex; gap: 18px; flex-wrap: wrap; }
  header b { color: #fff; font-weight: 600; }
  canvas { display: block; max-width: 100vw; max-height: calc(100vh - 40px); margin: 0 auto; }
  #state.bad { color: #f77; }
</style>
<header>
  <span id="state">connecting</span>
  <span>fps <b id="fps">-</b></span>
  <span>latency <b id="latency">-</b> ms</span>
  <span>skipped <b id="skipped">0</b></span>
  <span id="format"></span>
</header>
<canvas id="view" width="640" height="360"></canvas>
<script type="module">
import { WebGLFrameRenderer, drawVideoFrame } from './web.mjs';

const canvas = document.getElementById('view');
const text = (id, value) => { document.getElementById(id).textContent = value; };
let draw;
try {
  // preserveDrawingBuffer: the frame stays readable (screenshots, tests).
  const renderer = new WebGLFrameRenderer(canvas, { preserveDrawingBuffer: true });
  draw = (bytes, init) => renderer.draw(bytes, init);
} catch (err) {
  const ctx = canvas.getContext('2d');
  draw = (bytes, init) => drawVideoFrame(ctx, bytes, init);
}

// What the page has shown, for people and for tests.
const shown = { frames: 0, sequence: -1, latencyMs: null, fps: null, format: null };
window.frameSourcePage = shown;
const arrivals = [];

function connect() {
  const ws = new WebSocket(new URL('frames', location.href.replace(/^http/, 'ws')));
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => text('state', 'live');
  ws.onclose = () => {
    const el = document.getElementById('state');
    el.textContent = 'disconnected';
    el.className = 'bad';
  };
  ws.onmessage = (event) => {
    if (typeof event.data === 'string') {
      const msg = JSON.parse(event.data);
      if (msg.end) text('state', 'ended: ' + msg.end);
      return;
    }
    const view = new DataView(event.data);
    const headerLength = view.getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(event.data, 4, headerLength)));
    const bytes = new Uint8Array(event.data, 4 + headerLength);
    draw(bytes, header.init);
    ws.send(JSON.stringify({ ack: header.sequence }));
    const now = performance.now();
    arrivals.push(now);
    while (arrivals.length > 0 && arrivals[0] < now - 1000) arrivals.shift();
    shown.frames++;
    shown.sequence = header.sequence;
    shown.latencyMs = header.latencyMs;
    shown.fps = arrivals.length;
    shown.format = header.init.format + ' ' + header.init.codedWidth + 'x' + header.init.codedHeight;
    text('fps', String(arrivals.length));
    text('latency', header.latencyMs === null ? '-' : header.latencyMs.toFixed(1));
    text('skipped', String(header.skipped));
    text('format', shown.format + (header.init.colorSpace?.matrix ? ' ' + header.init.colorSpace.matrix : ''));
  };
}
connect();
</script>
</html>
`;
