// The cuda backend on a machine without NVIDIA's driver or a GPU: the probe and its reasons (also with
// a libcuda.so.1 that is present but fails, finds no device, or finds one while nvcodec registered
// nothing: a fake library built here, first on a child's LD_LIBRARY_PATH), the choice among backends,
// option checks, and the JS side of CUDA frames (descriptor shape, lifetime, download accounting).
// What this cannot prove: that GStreamer's CUDA memory is described right (device pointer, pitch,
// IPC handle) and that its bytes download correctly. Those checks need a GPU: test/gpu/cuda.test.ts,
// run by `npm run test:gpu`.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { FrameSource, Frame, type VideoFormat } from '../lib/index';
import { chooseBackend, cudaDescriptor, type BackendInfo } from '../lib/backends';
import { normalizeOptions, toNativeOptions, type Environment } from '../lib/options';
import { ROOT, tempDir } from './helpers';
import { runNode } from './run-node';

const DIST = path.join(ROOT, 'dist', 'index.cjs');

describe('here, without libcuda.so.1', () => {
  it('reports cuda unavailable with a reason a user can act on', async () => {
    const cuda = (await FrameSource.backends()).find((b) => b.name === 'cuda')!;
    expect(cuda.available).toBe(false);
    expect(cuda.reason).toMatch(/libcuda\.so\.1 not found: install NVIDIA's driver/);
    expect(cuda.devices).toBeUndefined();
  });

  it('examples/cuda-ipc/main.mjs says the cuda backend is missing and exits 2, without a stack trace or its child', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'examples/cuda-ipc/main.mjs')], { encoding: 'utf8', timeout: 20000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^examples\/cuda-ipc needs the cuda backend: .*libcuda\.so\.1 not found/),
    ]);
  });

  it('refuses an explicit cuda request with ERR_BACKEND_UNAVAILABLE; auto and lists fall back to cpu, saying why', async () => {
    for (const backend of ['cuda', ['cuda']] as const) {
      expect(() => new FrameSource({ test: true, backend: backend as never })).toThrow(
        expect.objectContaining({ code: 'ERR_BACKEND_UNAVAILABLE', message: expect.stringMatching(/cuda: libcuda\.so\.1 not found/) }),
      );
    }
    const source = new FrameSource({ test: { width: 32, height: 24 }, backend: ['cuda', 'cpu'], cudaDevice: 0 });
    const format = new Promise<VideoFormat>((r) => source.once('format', r));
    const frame = (await source.read())!;
    expect(frame.backend).toBe('cpu');
    expect(frame.cuda).toBeNull();
    expect((await format).skippedBackends).toEqual([{ name: 'cuda', reason: expect.stringMatching(/libcuda\.so\.1/) }]);
    frame.release();
    await source.close();
  });

  it('checks cudaDevice: an integer from 0, and only where cuda may be chosen', () => {
    for (const cudaDevice of [-1, 1.5, 1024]) {
      expect(() => new FrameSource({ test: true, backend: ['cuda', 'cpu'], cudaDevice })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/cudaDevice/) }),
      );
    }
    expect(() => new FrameSource({ test: true, backend: 'auto', cudaDevice: '0' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
    expect(() => new FrameSource({ test: true, cudaDevice: 0 })).toThrow(/cudaDevice.*given only with backend 'cuda'/);
  });
});

// A libcuda.so.1 of our own, so that "present but broken" runs for real in a child process.
describe('with a libcuda.so.1 that is present but cannot be used (fake library, child process)', () => {
  let dir: string;
  let registry: string | undefined;
  beforeAll(() => {
    dir = tempDir('frame-source-fake-cuda-');
    for (const [sub, defines] of [
      ['full', []],
      ['no-ipc', ['-DOMIT_IPC']],
    ] as const) {
      execFileSync('mkdir', ['-p', path.join(dir, sub)]);
      execFileSync('cc', [
        '-shared',
        '-fPIC',
        '-O1',
        ...defines,
        '-Wl,-soname,libcuda.so.1',
        '-o',
        path.join(dir, sub, 'libcuda.so.1'),
        path.join(ROOT, 'test/fixtures/fake-libcuda.c'),
      ]);
    }
    // The child may rescan plugins with the fake library visible: never in the user's own registry.
    const cache = process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache');
    const own = path.join(cache, 'gstreamer-1.0', `registry.${process.arch === 'x64' ? 'x86_64' : process.arch}.bin`);
    if (existsSync(own)) {
      registry = path.join(dir, 'registry.bin');
      copyFileSync(own, registry);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function child(mode: string, lib = 'full') {
    const env = {
      ...process.env,
      FAKE_LIBCUDA: mode,
      LD_LIBRARY_PATH: path.join(dir, lib),
      GST_REGISTRY: registry ?? path.join(dir, 'registry.bin'),
    };
    const run = await runNode([path.join(ROOT, 'test/fixtures/cuda-child.js'), DIST], env);
    expect(run.reports.find((r) => r.report === 'crash')).toBeUndefined();
    expect({ status: run.status, signal: run.signal }).toEqual({ status: 0, signal: null });
    return Object.fromEntries(run.reports.map((r) => [r.report === 'fallback' ? `fallback ${JSON.stringify(r.asked)}` : r.report, r]));
  }

  function expectFallbacks(r: Record<string, any>, reason: RegExp) {
    expect(r.explicit).toMatchObject({ code: 'ERR_BACKEND_UNAVAILABLE', message: expect.stringMatching(reason) });
    for (const key of ['fallback "auto"', 'fallback ["cuda","cpu"]']) {
      expect(r[key]).toMatchObject({ backend: 'cpu', bytes: expect.any(Number) });
      expect(r[key].skipped[0]).toEqual({ name: 'cuda', reason: expect.stringMatching(reason) });
    }
  }

  it('cuInit fails: no crash, the driver error is named, and the fix is suggested', async () => {
    const r = await child('init-fails');
    expect(r.probe.cuda).toMatchObject({ available: false });
    expect(r.probe.cuda.reason).toMatch(/libcuda\.so\.1 is present but cuInit failed: CUDA_ERROR_NO_DEVICE \(100\).*kernel module/);
    expectFallbacks(r, /cuInit failed/);
  });

  it('cuInit works but there is no device', async () => {
    const r = await child('no-device');
    expect(r.probe.cuda.reason).toMatch(/found no CUDA device.*nvidia-smi/);
    expectFallbacks(r, /found no CUDA device/);
  });

  it('a device, but nvcodec registered nothing: the device is listed with its compute capability, and the reason names the packages', async () => {
    const r = await child('one-device');
    expect(r.probe.cuda).toMatchObject({
      available: false,
      devices: [{ index: 0, name: 'Fake CUDA Device', computeCapability: '8.6', memory: 8 * 2 ** 30 }],
      detail: 'CUDA driver 12.4; 0: Fake CUDA Device (compute 8.6)',
    });
    // gstreamer1.0-plugins-bad is installed here, and its nvcodec registered no element.
    expect(r.probe.cuda.reason).toMatch(/nvcodec plugin registered no CUDA element.*libnvcuvid\.so\.1.*registry/);
    expectFallbacks(r, /nvcodec/);
  });

  it('examples/cuda-ipc/child.py hands the driver the whole 64-byte handle, zero bytes included', () => {
    // The fake's cuIpcOpenMemHandle "maps" the handle's bytes four times over: the child's digest of
    // two 64-byte rows is that of the handle twice only if every byte reached the driver.
    const handle = Buffer.alloc(64);
    handle.write('503e622400000000b00100000000000001', 'hex');
    handle[63] = 0x7f;
    const request = { handle: handle.toString('hex'), planes: [{ offset: 64, stride: 128, rows: 2, rowBytes: 64 }] };
    const out = execFileSync('python3', [path.join(ROOT, 'examples/cuda-ipc/child.py'), '0'], {
      input: `${JSON.stringify(request)}\n`,
      env: { ...process.env, FAKE_LIBCUDA: 'one-device', LD_LIBRARY_PATH: path.join(dir, 'full') },
      encoding: 'utf8',
    });
    const answer = JSON.parse(out.trim());
    expect(answer.error).toBeUndefined();
    expect(answer.sha256).toBe(createHash('sha256').update(handle).update(handle).digest('hex'));
  });

  it('a libcuda.so.1 without cuIpcGetMemHandle is refused by name', async () => {
    const r = await child('one-device', 'no-ipc');
    expect(r.probe.cuda.reason).toMatch(/libcuda\.so\.1 has no cuIpcGetMemHandle: the NVIDIA driver is too old/);
    expectFallbacks(r, /cuIpcGetMemHandle/);
  });
});

// The choice and the pipeline, as they would be on a machine where cuda is available. The probes are
// given (this machine cannot produce an available cuda probe); everything else runs as it is.
describe('choosing cuda where it is available (given probes)', () => {
  const probes = (devices = 2): BackendInfo[] => [
    { name: 'cpu', available: true },
    { name: 'dmabuf', available: false, reason: 'no dmabuf here' },
    {
      name: 'cuda',
      available: true,
      devices: Array.from({ length: devices }, (_, i) => ({ index: i, name: `GPU ${i}`, computeCapability: '8.6', memory: 0 })),
    },
    { name: 'iosurface', available: false, reason: 'macOS only' },
  ];
  const env: Environment = { uriSchemeSupported: () => true, hardwareDecoders: () => ['nvh264dec'], backends: () => probes() };
  const URI = 'rtsp://camera.invalid/stream';

  it("'auto' prefers cuda for a uri NVIDIA's decoders may decode, and not for frames made in system memory", () => {
    expect(chooseBackend('auto', probes(), { nvidiaDecodable: true })).toEqual({ backend: 'cuda', skipped: [] });
    const other = chooseBackend('auto', probes(), { nvidiaDecodable: false });
    expect(other.backend).toBe('cpu');
    expect(other.skipped[0]).toEqual({ name: 'cuda', reason: expect.stringMatching(/'auto' uses cuda only for a uri/) });
    expect(normalizeOptions({ uri: URI, backend: 'auto' }, env).backend).toBe('cuda');
    expect(normalizeOptions({ uri: URI, backend: 'auto', decoder: 'software' }, env).backend).toBe('cpu');
    expect(normalizeOptions({ test: true, backend: 'auto' }, env).backend).toBe('cpu');
    // Asked for by name, cuda is used for any source.
    expect(normalizeOptions({ test: true, backend: 'cuda' }, env).backend).toBe('cuda');
  });

  it('ends the pipeline with cudaupload on the chosen device (NVIDIA decoders pass through it)', () => {
    const test = toNativeOptions(normalizeOptions({ test: true, format: 'NV12', backend: 'cuda', cudaDevice: 1 }, env));
    expect(test.pipeline).toMatch(/videotestsrc .* ! videoconvert ! video\/x-raw,format=NV12 ! cudaupload cuda-device-id=1$/);
    expect(test.backend).toBe('cuda');
    const uri = toNativeOptions(normalizeOptions({ uri: URI, backend: 'cuda', decoder: 'hardware' }, env));
    expect(uri.pipeline).toBe('uridecodebin name=fs-src ! cudaupload cuda-device-id=0');
    expect(toNativeOptions(normalizeOptions({ test: true, backend: 'cpu' }, env)).pipeline).not.toMatch(/cudaupload/);
  });

  it('refuses a device index the machine does not have, and formats cudaupload does not take', () => {
    expect(() => normalizeOptions({ test: true, backend: 'cuda', cudaDevice: 2 }, env)).toThrow(/cudaDevice.*below 2/);
    expect(() => normalizeOptions({ test: true, backend: 'cuda', format: 'GRAY8' }, env)).toThrow(
      /format.*NV12, I420, RGBA, BGRA with the cuda backend/,
    );
  });
});

// The JS side of a CUDA frame, from a native frame item's handles. The item is written here; on
// hardware the addon writes it (test/gpu/cuda.test.ts checks that against the device).
describe('the JS side of CUDA frames', () => {
  const handles = {
    fourcc: 0,
    importable: true,
    planes: [-1, 0, 512, 512 * 240, -1, 512 * 240, 512, 512 * 120],
    cuda: { device: 1, pointer: 0x7f0012340000n, ipcHandle: Buffer.alloc(64, 7) },
  };
  const format = { format: 'NV12', width: 320, height: 240, colorimetry: 'bt601', layout: [] } as unknown as VideoFormat;

  it('describes the allocation: device, base pointer as a bigint, plane offsets and pitches, the IPC handle', () => {
    const d = cudaDescriptor(handles);
    expect(d).toEqual({
      device: 1,
      pointer: 0x7f0012340000n,
      planes: [
        { offset: 0, stride: 512 },
        { offset: 512 * 240, stride: 512 },
      ],
      ipcHandle: Buffer.alloc(64, 7),
    });
    expect(Object.isFrozen(d) && Object.isFrozen(d.planes)).toBe(true);
    expect(cudaDescriptor({ ...handles, cuda: { device: 0, pointer: 1n } }).ipcHandle).toBeNull();
    expect(() => cudaDescriptor({ planes: [] })).toThrow(/internal error/);
  });

  it('a cuda frame has no CPU bytes, downloads on request, is not a shared texture, and is unusable after release', async () => {
    const released: number[] = [];
    const bytes = new Uint8Array(320 * 240 * 1.5);
    let downloads = 0;
    const frame = Frame.create({
      release: (f) => released.push(f.id),
      id: 9,
      data: null,
      videoFormat: format,
      layout: [],
      timestamp: 0,
      duration: null,
      sequence: 0,
      copied: false,
      kept: false,
      backend: 'cuda',
      download: () => {
        downloads++;
        return Promise.resolve(bytes);
      },
      cuda: cudaDescriptor(handles),
    });
    expect(frame.backend).toBe('cuda');
    expect(frame.dmabuf).toBeNull();
    expect(frame.cuda!.pointer).toBe(0x7f0012340000n);
    expect(() => frame.data).toThrow(expect.objectContaining({ code: 'ERR_NO_CPU_MEMORY', message: expect.stringMatching(/frame\.cuda/) }));
    expect(() => frame.toSharedTextureInfo()).toThrow(expect.objectContaining({ code: 'ERR_NOT_IMPORTABLE' }));
    expect(await frame.download()).toBe(bytes);
    frame.release();
    frame.release();
    expect(released).toEqual([9]);
    expect(() => frame.cuda).toThrow(expect.objectContaining({ code: 'ERR_FRAME_RELEASED' }));
    await expect(frame.download()).rejects.toMatchObject({ code: 'ERR_FRAME_RELEASED' });
    expect(downloads).toBe(1);
  });
});
