// Hands CUDA frames to another process by IPC handle: the child (child.py, Python with ctypes and
// NVIDIA's libcuda.so.1, nothing else) opens each frame's memory with cuIpcOpenMemHandle while this
// process holds the frame, copies the visible rows to the host and answers with their SHA-256; this
// process compares it with the same rows of frame.download(). The frame is released only after the
// child has closed the handle: GStreamer's pool may reuse the memory from then on.
//   node examples/cuda-ipc/main.mjs [--frames N] [--device D] [--format NV12|RGBA] [--uri URI]
// Needs an NVIDIA GPU, GStreamer's nvcodec (cudaupload) and python3. Exit status 0 when every frame matched,
// 2 when the cuda backend is not available here.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FrameSource, isFrameSourceError } from 'frame-source';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const frames = Number(arg('frames', 10));
const device = Number(arg('device', 0));
const format = arg('format', 'NV12');
const uri = arg('uri');

/** Bytes per visible row and rows of each plane. */
function geometry(f) {
  if (f.format === 'NV12' || f.format === 'I420') {
    const rows = Math.ceil(f.height / 2);
    return f.format === 'NV12'
      ? [
          { rowBytes: f.width, rows: f.height },
          { rowBytes: Math.ceil(f.width / 2) * 2, rows },
        ]
      : [
          { rowBytes: f.width, rows: f.height },
          { rowBytes: Math.ceil(f.width / 2), rows },
          { rowBytes: Math.ceil(f.width / 2), rows },
        ];
  }
  return [{ rowBytes: f.width * 4, rows: f.height }];
}

// Opened before the child starts: without the cuda backend (no NVIDIA driver, no nvcodec) say so and stop.
let source;
try {
  source = new FrameSource(
    uri ? { uri, backend: 'cuda', cudaDevice: device } : { test: { width: 640, height: 360 }, format, backend: 'cuda', cudaDevice: device },
  );
} catch (err) {
  if (!isFrameSourceError(err) || err.code !== 'ERR_BACKEND_UNAVAILABLE') throw err;
  console.error(`examples/cuda-ipc needs the cuda backend: ${err.message}`);
  process.exit(2);
}

const child = spawn('python3', [fileURLToPath(new URL('./child.py', import.meta.url)), String(device)], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const answers = createInterface({ input: child.stdout });
const pending = [];
answers.on('line', (line) => pending.shift()?.(JSON.parse(line)));
const ask = (request) =>
  new Promise((resolve) => {
    pending.push(resolve);
    child.stdin.write(`${JSON.stringify(request)}\n`);
  });

let matched = 0;
let n = 0;
try {
  for await (const frame of source) {
    const { cuda } = frame;
    if (!cuda.ipcHandle) throw new Error('the driver made no IPC handle for this frame');
    const planes = geometry(frame).map((g, i) => ({ offset: cuda.planes[i].offset, stride: cuda.planes[i].stride, ...g }));
    // Held while the child reads it: the memory cannot go back to GStreamer's pool before.
    const answer = await ask({ handle: cuda.ipcHandle.toString('hex'), planes });
    const bytes = await frame.download();
    const hash = createHash('sha256');
    planes.forEach((p, i) => {
      for (let r = 0; r < p.rows; r++)
        hash.update(
          bytes.subarray(
            frame.layout[i].offset + r * frame.layout[i].stride,
            frame.layout[i].offset + r * frame.layout[i].stride + p.rowBytes,
          ),
        );
    });
    const ours = hash.digest('hex');
    const ok = answer.sha256 === ours;
    if (ok) matched++;
    console.log(
      `frame ${frame.sequence}: ${frame.format} ${frame.width}x${frame.height} pointer 0x${cuda.pointer.toString(16)} device ${cuda.device} ` +
        `pitch ${cuda.planes.map((p) => p.stride).join('/')}: child ${answer.error ?? answer.sha256.slice(0, 16)} ${ok ? '=' : '!='} download ${ours.slice(0, 16)}`,
    );
    if (++n === frames) break;
  }
} finally {
  child.stdin.end();
  await source.close();
}
console.log(`${matched} of ${n} frames matched`);
process.exitCode = n === frames && matched === n ? 0 : 1;
