// Loading the addon where it cannot work says why and what to do; the Electron constraints hold.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { checkGStreamerVersion, explainLoadFailure } from '../lib/binding';
import { ROOT, tempDir } from './helpers';

const DIST = path.join(ROOT, 'dist', 'index.cjs');

it('says there is no prebuild and no build, and how to build one, when the addon is absent', () => {
  // A real package directory with the JS but neither build/ nor prebuilds/.
  const dir = tempDir();
  try {
    mkdirSync(path.join(dir, 'dist'));
    cpSync(DIST, path.join(dir, 'dist', 'index.cjs'));
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'frame-source', version: '0.0.0' }));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const script = `
      const { FrameSource } = require(${JSON.stringify(path.join(dir, 'dist', 'index.cjs'))});
      try { new FrameSource(); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
    expect(out.code).toBe('ERR_BINDING_LOAD');
    expect(out.message).toContain(`${process.platform}-${process.arch}`);
    expect(out.message).toContain('npm rebuild frame-source');
    expect(out.message).toContain('libgstreamer1.0-dev');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('tells a missing GStreamer library apart from a missing build, and says what to install', () => {
  // What dlopen reports when libgstreamer is not installed.
  const dlopen = new Error(
    '/app/node_modules/frame-source/prebuilds/linux-x64/frame-source.node: libgstreamer-1.0.so.0: cannot open shared object file: No such file or directory',
  );
  const err = explainLoadFailure(dlopen);
  expect(err.code).toBe('ERR_GSTREAMER_MISSING');
  expect(err.message).toMatch(/install/i);
  expect(err.message).toContain('libgstreamer1.0-0');
  expect(explainLoadFailure(new Error('No native build was found for platform=linux arch=x64')).code).toBe('ERR_BINDING_LOAD');
  // What Debian 11's loader said about an addon built on Debian 12 (before the sysroot prebuilds).
  const glibc = explainLoadFailure(
    new Error(
      "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.32' not found (required by /app/node_modules/frame-source/prebuilds/linux-x64/frame-source.napi.glibc.node)",
    ),
  );
  expect(glibc.code).toBe('ERR_BINDING_LOAD');
  expect(glibc.message).toContain('needs GLIBC_2.32');
  expect(glibc.message).toContain('npm rebuild frame-source --build-from-source');
  expect(explainLoadFailure(Object.assign(new Error('GStreamer failed to initialise: x'), { code: 'ERR_GSTREAMER_INIT' })).code).toBe(
    'ERR_GSTREAMER_MISSING',
  );
});

it('refuses GStreamer older than 1.16 and accepts 1.16 and later', () => {
  expect(() => checkGStreamerVersion({ major: 1, minor: 14, micro: 5 })).toThrow(
    expect.objectContaining({ code: 'ERR_GSTREAMER_VERSION', message: expect.stringContaining('1.14.5') }),
  );
  expect(() => checkGStreamerVersion({ major: 0, minor: 10, micro: 36 })).toThrow(
    expect.objectContaining({ code: 'ERR_GSTREAMER_VERSION' }),
  );
  expect(() => checkGStreamerVersion({ major: 1, minor: 16, micro: 0 })).not.toThrow();
  expect(() => checkGStreamerVersion({ major: 1, minor: 22, micro: 0 })).not.toThrow();
});

it('falls back to ArrayBuffer, still zero-copy, where SharedArrayBuffer does not exist (non-isolated Electron renderer)', () => {
  const script = `
    const { FrameSource } = require(${JSON.stringify(DIST)});
    (async () => {
      let refused = null;
      try { new FrameSource({ sharedMemory: true }); } catch (e) { refused = e.code; }
      const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=5 ! video/x-raw,format=RGBA,width=64,height=64' });
      const kinds = [];
      for await (const f of source) kinds.push(f.data.buffer.constructor.name);
      const s = source.stats;
      console.log(JSON.stringify({ sab: typeof SharedArrayBuffer, refused, kinds, memory: s.memory, zeroCopy: s.zeroCopyFrames, frames: s.frames }));
    })();`;
  const r = spawnSync(process.execPath, ['--no-harmony-sharedarraybuffer', '-e', script], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({
    sab: 'undefined',
    refused: 'ERR_INVALID_OPTION',
    kinds: Array(5).fill('ArrayBuffer'),
    memory: 'arraybuffer',
    zeroCopy: 5,
    frames: 5,
  });
});

it('builds with external ArrayBuffers compiled out, as Electron requires', () => {
  const gyp = readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8');
  expect(gyp).toContain('"NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED"');
  // With that define, any use of the forbidden call is a compile error against these headers.
  const dir = tempDir();
  try {
    const src = path.join(dir, 'probe.cc');
    writeFileSync(
      src,
      '#include <node_api.h>\nvoid f(napi_env e, napi_value* r) { napi_create_external_arraybuffer(e, nullptr, 0, nullptr, nullptr, r); }\n',
    );
    const include = path.join(path.dirname(process.execPath), '..', 'include', 'node');
    const compile = (defines: string[]) => spawnSync('g++', ['-fsyntax-only', `-I${include}`, ...defines, src], { encoding: 'utf8' });
    expect(compile([]).status).toBe(0);
    const forbidden = compile(['-DNODE_API_NO_EXTERNAL_BUFFERS_ALLOWED']);
    expect(forbidden.status).not.toBe(0);
    expect(forbidden.stderr).toContain('napi_create_external_arraybuffer');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
