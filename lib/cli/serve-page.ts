// The page `frame-source --serve` shows: a canvas drawn by frame-source/web, fed over a WebSocket.
// It acknowledges each frame once drawn; the server sends the next only then (see ./serve.ts).
// For a source with a duration it shows a scrubber: dragging asks for keyframe seeks, releasing
// for an accurate one, one request at a time (the latest wish waits for the answer to the last).

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
  #scrub { width: min(40vw, 360px); vertical-align: middle; }
</style>
<header>
  <span id="state">connecting</span>
  <span>fps <b id="fps">-</b></span>
  <span>latency <b id="latency">-</b> ms</span>
  <span>skipped <b id="skipped">0</b></span>
  <span id="format"></span>
  <span id="seekbar" hidden><input id="scrub" type="range" min="0" max="0" step="1" value="0"> <b id="time"></b></span>
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
const shown = { drawError: null, frames: 0, sequence: -1, latencyMs: null, fps: null, format: null, position: null, duration: null, seeks: 0, seekedTo: null, seekError: null };
window.frameSourcePage = shown;
const arrivals = [];

const bar = document.getElementById('seekbar');
const scrub = document.getElementById('scrub');
const clock = (us) => {
  const s = Number(us) / 1e6;
  return Math.floor(s / 60) + ':' + (s % 60).toFixed(2).padStart(5, '0');
};
let ws;
let dragging = false;
let seeking = false;
let wanted = null;
let unseekable = false;
function seekTo(accurate) {
  // The server takes positions below the duration.
  wanted = { seek: Math.min(Number(scrub.value), Number(scrub.max) - 1), accurate };
  text('time', clock(scrub.value) + ' / ' + clock(scrub.max));
  if (!seeking) sendWanted();
}
function sendWanted() {
  if (wanted === null || ws.readyState !== WebSocket.OPEN) return;
  ws.send(JSON.stringify(wanted));
  wanted = null;
  seeking = true;
}
scrub.addEventListener('input', () => {
  dragging = true;
  seekTo(false);
});
scrub.addEventListener('change', () => {
  dragging = false;
  seekTo(true);
});
function onSeekAnswer(msg) {
  seeking = false;
  if (msg.seekError) {
    const { code, message } = msg.seekError;
    // Another page's later seek won: nothing went wrong here.
    if (code !== 'ERR_SEEK_SUPERSEDED') {
      shown.seekError = code;
      const el = document.getElementById('state');
      el.textContent = 'seek failed: ' + code + ' (' + message + ')';
      el.className = 'bad';
      if (code === 'ERR_NOT_SEEKABLE') {
        unseekable = true;
        bar.hidden = true;
      }
    }
  } else {
    shown.seeks++;
    shown.seekedTo = msg.seeked;
  }
  sendWanted();
}

function connect() {
  ws = new WebSocket(new URL('frames', location.href.replace(/^http/, 'ws')));
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
      if ('seeked' in msg || msg.seekError) onSeekAnswer(msg);
      return;
    }
    const view = new DataView(event.data);
    const headerLength = view.getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(event.data, 4, headerLength)));
    const bytes = new Uint8Array(event.data, 4 + headerLength);
    try {
      draw(bytes, header.init);
    } catch (err) {
      // Say so on the page (GRAY8 without WebGL2, a lost context): it stayed 'live' and blank. The
      // ack still goes, so the next frame is tried.
      const el = document.getElementById('state');
      el.textContent = 'cannot draw: ' + err.message;
      el.className = 'bad';
      shown.drawError = err.message;
      ws.send(JSON.stringify({ ack: header.sequence }));
      return;
    }
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
    shown.position = header.position;
    shown.duration = header.duration;
    bar.hidden = unseekable || !(header.duration > 0);
    if (!bar.hidden) {
      scrub.max = String(header.duration);
      // While the user holds the scrubber or a seek is on its way, it shows their choice.
      if (!dragging && !seeking && wanted === null) {
        scrub.value = String(header.position ?? 0);
        text('time', clock(header.position ?? 0) + ' / ' + clock(header.duration));
      }
    }
  };
}
connect();
</script>
</html>
`;
