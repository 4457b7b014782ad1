// `npm run test:gpu`: the checks only hardware can answer (GPU backends), in one command that says
// what it ran, what it skipped and why. A check whose hardware or driver is missing is SKIPPED with
// its reason, loudly; the exit status is non-zero only when a check that ran failed.
// Usage: npm run test:gpu [-- --only=<substring of a check's name>] [--json=<file>]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { FrameSource } = require(path.join(ROOT, 'dist/index.cjs'));

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`test:gpu: unknown argument ${a}`);
    return [m[1], m[2] ?? true];
  }),
);
const results = [];
const work = mkdtempSync(path.join(tmpdir(), 'frame-source-gpu-'));

class Skip extends Error {}

async function check(name, fn) {
  if (args.only && !name.includes(args.only)) return;
  console.log(`\n=== ${name}`);
  const started = Date.now();
  try {
    const note = await fn();
    results.push({ name, status: 'PASS', note: note ?? '', ms: Date.now() - started });
    console.log(`--- PASS ${name}${note ? `: ${note}` : ''}`);
  } catch (err) {
    if (err instanceof Skip) {
      results.push({ name, status: 'SKIP', note: err.message, ms: Date.now() - started });
      console.log(`--- SKIPPED ${name}: ${err.message}`);
    } else {
      results.push({ name, status: 'FAIL', note: err?.stack ?? String(err), ms: Date.now() - started });
      console.log(`--- FAIL ${name}: ${err?.stack ?? err}`);
    }
  }
}

function skip(reason) {
  throw new Skip(reason);
}

/** Runs a command, its output going to ours; resolves with its exit status. */
function run(cmd, argv, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(signal ? `signal ${signal}` : code));
  });
}

/** Runs jest on some tests of the suite with environment variables that point them at hardware. */
async function jest(files, pattern, env) {
  const status = await run(
    process.execPath,
    [path.join(ROOT, 'node_modules/jest/bin/jest.js'), '--runInBand', ...files, '-t', pattern],
    env,
  );
  if (status !== 0) throw new Error(`jest exited with ${status} (its report is above)`);
}

async function backendsFor(allocator) {
  return FrameSource.backends(allocator ? { dmabufAllocator: allocator } : undefined);
}

function dmabufProbe(list) {
  return list.find((b) => b.name === 'dmabuf');
}

/** The visible RGBA bytes (width × 4 per row) of a CPU frame. */
function rgbaRows(data, width, height, stride, offset = 0) {
  const out = Buffer.alloc(width * height * 4);
  for (let r = 0; r < height; r++) {
    Buffer.from(data.buffer, data.byteOffset + offset + r * stride, width * 4).copy(out, r * width * 4);
  }
  return out;
}

async function firstFrame(options, fn) {
  const source = new FrameSource(options);
  try {
    const frame = await source.read();
    if (!frame) throw new Error(`no frame from ${JSON.stringify(options)}`);
    try {
      return await fn(frame);
    } finally {
      frame.release();
    }
  } finally {
    await source.close();
  }
}

// ---------------------------------------------------------------------------------------------

console.log(`frame-source test:gpu on ${process.platform}-${process.arch}, Node ${process.version}`);

await check('backends(): what this machine offers', async () => {
  for (const allocator of [undefined, 'auto', 'dma-heap', 'udmabuf', 'memfd']) {
    console.log(`FrameSource.backends(${allocator ? `{ dmabufAllocator: '${allocator}' }` : ''}):`);
    for (const b of await backendsFor(allocator)) {
      console.log(`  ${b.name.padEnd(10)} ${b.available ? 'available  ' : 'unavailable'} ${b.available ? (b.detail ?? '') : b.reason}`);
    }
  }
  for (const d of ['/dev/dri', '/dev/dma_heap', '/dev/udmabuf', '/dev/nvidiactl'])
    console.log(`  ${d}: ${existsSync(d) ? 'present' : 'absent'}`);
});

// DMA-BUF frames from each real allocator: the same tests as the memfd ones in test/backends.test.ts.
await check('dmabuf through memfd (baseline, no hardware: proves this runner)', async () => {
  await jest(['test/backends.test.ts'], '^DMA-BUF frames through the memfd allocator (?!100,000)', {
    FRAME_SOURCE_TEST_DMABUF_ALLOCATOR: 'memfd',
  });
});
for (const allocator of ['dma-heap', 'udmabuf']) {
  await check(
    `dmabuf through ${allocator}: NV12/RGBA/BGRA bytes through the fds equal the cpu frames, importable, fds closed`,
    async () => {
      const probe = dmabufProbe(await backendsFor(allocator));
      if (!probe.available) skip(probe.reason);
      await jest(['test/backends.test.ts'], `^DMA-BUF frames through the ${allocator} allocator`, {
        FRAME_SOURCE_TEST_DMABUF_ALLOCATOR: allocator,
      });
    },
  );
}

// EGL import of a dma-buf frame, read back with glReadPixels, compared with the cpu frame.
let eglImport;
async function buildEglImport() {
  if (eglImport) return eglImport;
  // A machine without a compiler gets the program built elsewhere (scripts/gpu-bundle.sh does).
  if (process.env.FRAME_SOURCE_TEST_EGL_IMPORT) return (eglImport = process.env.FRAME_SOURCE_TEST_EGL_IMPORT);
  const cc = process.env.CC ?? 'cc';
  const out = path.join(work, 'egl-import');
  const r = spawnSync(cc, ['-std=c11', '-O1', '-Wall', '-o', out, path.join(ROOT, 'test/gpu/egl-import.c'), '-ldl'], { encoding: 'utf8' });
  if (r.error) skip(`no C compiler (${cc}: ${r.error.code}); set CC or install gcc`);
  if (r.status !== 0) throw new Error(`${cc} could not compile test/gpu/egl-import.c:\n${r.stderr}`);
  eglImport = out;
  return out;
}

function runEglImport(program, frame) {
  const plane = frame.dmabuf.planes[0];
  const argv = [String(frame.width), String(frame.height), frame.dmabuf.fourccName, String(plane.offset), String(plane.stride)];
  return new Promise((resolve, reject) => {
    // The dma-buf goes to the child as its fd 3.
    const child = spawn(program, argv, { stdio: ['ignore', 'pipe', 'pipe', plane.fd] });
    const stdout = [];
    let stderr = '';
    child.stdout.on('data', (d) => stdout.push(d));
    child.stderr.on('data', (d) => {
      stderr += d;
      process.stdout.write(String(d).replace(/^(?=.)/gm, '  | '));
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(stdout), stderr }));
  });
}

for (const format of ['RGBA', 'BGRA']) {
  await check(`EGL import of a ${format} dma-buf frame (EGL_EXT_image_dma_buf_import), read back as RGBA = the cpu frame`, async () => {
    const program = await buildEglImport();
    const probes = await Promise.all(['dma-heap', 'udmabuf'].map(async (a) => [a, dmabufProbe(await backendsFor(a))]));
    const real = probes.find(([, p]) => p.available)?.[0];
    // Without a real allocator the program still runs up to the display and the fd check, with a
    // memfd: that proves the plumbing here, and it must then say it cannot import.
    const allocator = real ?? 'memfd';
    const pipeline = (f) => `videotestsrc pattern=smpte num-buffers=1 ! video/x-raw,format=${f},width=320,height=240`;
    const reference = await firstFrame({ pipeline: pipeline('RGBA') }, (f) =>
      rgbaRows(f.data, f.width, f.height, f.layout[0].stride, f.layout[0].offset),
    );
    const result = await firstFrame({ pipeline: pipeline(format), backend: 'dmabuf', dmabufAllocator: allocator }, (f) =>
      runEglImport(program, f),
    );
    if (result.code === 77) {
      const why = /^SKIP: (.*)$/m.exec(result.stderr)?.[1] ?? 'the program could not check here';
      skip(real ? why : `${why}; and no real DMA-BUF allocator here (${probes.map(([a, p]) => `${a}: ${p.reason}`).join('; ')})`);
    }
    if (result.code !== 0) throw new Error(`egl-import exited with ${result.signal ?? result.code}`);
    if (result.stdout.length !== reference.length)
      throw new Error(`egl-import wrote ${result.stdout.length} bytes, expected ${reference.length}`);
    if (!result.stdout.equals(reference)) {
      let i = 0;
      while (result.stdout[i] === reference[i]) i++;
      throw new Error(`pixels read back through EGL differ from the cpu frame, first at byte ${i} (row ${Math.floor(i / 1280)})`);
    }
    return `${reference.length} bytes identical (allocator ${allocator})`;
  });
}

// CUDA frames (issue 11): test/gpu/cuda.test.ts against the GPU, and the IPC example.
const cudaDevice = Number(process.env.FRAME_SOURCE_TEST_CUDA_DEVICE ?? 0);
const cudaEnv = { FRAME_SOURCE_TEST_CUDA: '1', FRAME_SOURCE_TEST_CUDA_DEVICE: String(cudaDevice) };
async function cudaProbe() {
  const cuda = (await backendsFor()).find((b) => b.name === 'cuda');
  if (!cuda.available) skip(cuda.reason);
  if (cudaDevice >= (cuda.devices?.length ?? 0))
    skip(`FRAME_SOURCE_TEST_CUDA_DEVICE=${cudaDevice}, but there are ${cuda.devices?.length ?? 0} CUDA devices`);
  return cuda;
}
function have(cmd, argv = ['--version']) {
  return !spawnSync(cmd, argv, { stdio: 'ignore' }).error;
}

await check(
  'cuda: cudaupload frames (NV12/RGBA/I420) downloaded = cpu frames, pointer/pitch fit the caps, memory held until release',
  async () => {
    await cudaProbe();
    await jest(['test/gpu/cuda.test.ts'], 'cudaupload|holds the memory', cudaEnv);
  },
);
await check(
  "cuda: H.264/H.265/VP9 through nvh264dec/nvh265dec/nvvp9dec = the software decoders' bytes, 'auto' picks cuda, seeks land on the frame asked for",
  async () => {
    await cudaProbe();
    if (!process.env.FRAME_SOURCE_TEST_CLIPS && !have('ffmpeg'))
      skip(
        'no ffmpeg to make the clips: make them elsewhere with scripts/gpu-clips.mjs and set FRAME_SOURCE_TEST_CLIPS (scripts/gpu-bundle.sh does)',
      );
    await jest(['test/gpu/cuda.test.ts'], 'through nv|picks cuda|seeks on', cudaEnv);
  },
);
await check('cuda: 10,000 frames, and 200 random seeks holding frames, at flat GPU memory (cuMemGetInfo) and RSS', async () => {
  await cudaProbe();
  if (!have('python3')) skip('no python3 (cuMemGetInfo is read by test/gpu/cuda_meminfo.py with ctypes)');
  if (!process.env.FRAME_SOURCE_TEST_CLIPS && !have('ffmpeg')) skip('no ffmpeg to make the counter clip (see FRAME_SOURCE_TEST_CLIPS)');
  await jest(['test/gpu/cuda.test.ts'], '10,000 frames|random seeks', { ...cudaEnv, FRAME_SOURCE_TEST_CUDA_SOAK: '1' });
});
await check('cuda: IPC handle opened by a second process (examples/cuda-ipc), bytes = download()', async () => {
  await cudaProbe();
  if (!have('python3')) skip('no python3 for the example child (examples/cuda-ipc/child.py)');
  for (const format of ['NV12', 'RGBA']) {
    const status = await run(process.execPath, [
      'examples/cuda-ipc/main.mjs',
      '--frames',
      '10',
      '--device',
      String(cudaDevice),
      '--format',
      format,
    ]);
    if (status !== 0) throw new Error(`examples/cuda-ipc/main.mjs --format ${format} exited with ${status}`);
  }
});

// ---------------------------------------------------------------------------------------------

rmSync(work, { recursive: true, force: true });
const count = (s) => results.filter((r) => r.status === s).length;
console.log('\n==================== test:gpu summary ====================');
for (const r of results)
  console.log(
    `${r.status === 'SKIP' ? 'SKIPPED' : r.status}  ${r.name}${r.status === 'PASS' ? '' : `\n         ${r.note.split('\n')[0]}`}`,
  );
console.log('-----------------------------------------------------------');
console.log(`${count('PASS')} passed, ${count('FAIL')} failed, ${count('SKIP')} SKIPPED`);
if (count('SKIP') > 0)
  console.log(`!!! ${count('SKIP')} hardware check(s) did NOT run on this machine: the reasons are above. A skip is not a pass.`);
if (args.json)
  writeFileSync(args.json, JSON.stringify({ platform: `${process.platform}-${process.arch}`, node: process.version, results }, null, 2));
process.exit(count('FAIL') > 0 ? 1 : 0);
