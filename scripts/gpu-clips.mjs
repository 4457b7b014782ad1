// The clips test/gpu/cuda.test.ts decodes on the GPU, and the frames it compares them with, decoded
// here by GStreamer's software decoders: a GPU machine need not have ffmpeg or gst-libav.
//   node scripts/gpu-clips.mjs DIR
// writes into DIR, for each of h264.mp4, h265.mp4 and vp9.webm (640x360, 30 frames), NAME.nv12.gz:
// its first 10 frames as tightly packed NV12, gzipped; and counter.mp4, test/playback-media.ts's counter clip
// (frame n has luma 16 + 3n, a keyframe every 10 frames, H.264 with B-frames).
// Needs ffmpeg (libx264, libx265, libvpx) and this package built (dist/ and the addon).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { FrameSource } = createRequire(import.meta.url)(path.join(ROOT, 'dist/index.cjs'));

const CLIPS = [
  { name: 'h264.mp4', codec: ['-c:v', 'libx264', '-preset', 'veryfast'] },
  {
    name: 'h265.mp4',
    codec: ['-c:v', 'libx265', '-preset', 'veryfast', '-tag:v', 'hvc1', '-x265-params', 'log-level=error'],
  },
  { name: 'vp9.webm', codec: ['-c:v', 'libvpx-vp9', '-deadline', 'realtime'] },
];
const REFERENCE_FRAMES = 10;

function ffmpeg(out, input, args) {
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', input, ...args, out], { stdio: 'inherit' });
}

/** The first `count` frames of a file, decoded in software, as tightly packed NV12. */
async function referenceNv12(file, count) {
  const source = new FrameSource({ uri: `file://${file}`, decoder: 'software', format: 'NV12' });
  const rows = [];
  let n = 0;
  try {
    for await (const frame of source) {
      const planes = [frame.height, Math.ceil(frame.height / 2)];
      planes.forEach((height, p) => {
        const { offset, stride } = frame.layout[p];
        for (let r = 0; r < height; r++)
          rows.push(Buffer.from(frame.data.subarray(offset + r * stride, offset + r * stride + frame.width)));
      });
      if (++n === count) break;
    }
  } finally {
    await source.close();
  }
  if (n !== count) throw new Error(`${file}: ${n} frames, expected at least ${count}`);
  return Buffer.concat(rows);
}

async function makeClips(dir) {
  mkdirSync(dir, { recursive: true });
  for (const clip of CLIPS) {
    const file = path.join(dir, clip.name);
    ffmpeg(file, 'testsrc2=size=640x360:rate=30', ['-frames:v', '30', ...clip.codec, '-pix_fmt', 'yuv420p']);
    writeFileSync(`${file}.nv12.gz`, gzipSync(await referenceNv12(file, REFERENCE_FRAMES)));
  }
  // As test/playback-media.ts's makeCounterMp4 makes it.
  ffmpeg(path.join(dir, 'counter.mp4'), "color=c=gray:size=160x120:rate=30,format=yuv420p,geq=lum='16+N*3':cb=128:cr=128", [
    ...['-frames:v', '60', '-g', '10', '-keyint_min', '10', '-sc_threshold', '0'],
    ...['-c:v', 'libx264', '-pix_fmt', 'yuv420p'],
  ]);
}

if (!process.argv[2]) {
  console.error('usage: node scripts/gpu-clips.mjs DIR');
  process.exit(2);
}
await makeClips(process.argv[2]);
