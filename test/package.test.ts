// The package as users get it: prebuilt by `npm run prebuild:all`, packed with npm pack, installed
// into a fresh project, used through import and require. The install step tells the truth: it
// uses a prebuild only if it loads here, else builds from source, else names what to install.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from './helpers';

const PACKED = [
  'package.json',
  'package-lock.json',
  'binding.gyp',
  'README.md',
  'LICENSE',
  'csrc',
  'lib',
  'types',
  'dist',
  'examples',
  'scripts/install.js',
  'prebuilds/README.md',
];
const PLATFORM = `${process.platform}-${process.arch}`;
const ADDON = 'frame-source.napi.glibc.node';
let work: string;
let good: string; // tarball with the real prebuild
let broken: string; // tarball whose prebuild cannot load (a truncated file, like a cut download)

beforeAll(() => {
  work = tempDir('frame-source-pack-');
  // Build in a copy, so the suites running beside this one keep the addon they loaded.
  const pkg = path.join(work, 'pkg');
  mkdirSync(path.join(pkg, 'prebuilds'), { recursive: true });
  for (const entry of PACKED) cpSync(path.join(ROOT, entry), path.join(pkg, entry), { recursive: true });
  // What `npm run prebuild:all` makes, for this platform (cached in .cache/ while csrc/ is unchanged).
  sh(process.execPath, [path.join(ROOT, 'scripts', 'prebuild.mjs'), '--target', PLATFORM, '--out', path.join(pkg, 'prebuilds')], ROOT);
  good = path.join(work, sh('npm', ['pack', '--silent', '--pack-destination', work], pkg).trim().split('\n').pop()!);
  const addon = path.join(pkg, 'prebuilds', PLATFORM, ADDON);
  truncateSync(addon, Math.floor(statSync(addon).size / 2));
  mkdirSync(path.join(work, 'broken'));
  broken = path.join(
    work,
    'broken',
    sh('npm', ['pack', '--silent', '--pack-destination', path.join(work, 'broken')], pkg)
      .trim()
      .split('\n')
      .pop()!,
  );
}, 600000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', ...env },
  });
}

function freshApp(name: string): string {
  const app = path.join(work, name);
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  return app;
}

const BODY = `
  const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=4 ! video/x-raw,format=I420,width=64,height=48' });
  let n = 0;
  let frameClass = '';
  for await (const f of source) { if (!(f.data.buffer instanceof SharedArrayBuffer)) throw new Error('not shared'); n++; frameClass = f.constructor.name; }
  const names = [FrameSource.name, FrameSourceError.name, frameClass];
  console.log(JSON.stringify({ n, zeroCopy: source.stats.zeroCopyFrames, isFrameSourceError: typeof FrameSourceError === 'function', names }));`;

// The classes keep their names (the bundler renames a class that refers to itself: util.inspect
// and uncaught errors printed "_FrameSourceError").
const NAMES = ['FrameSource', 'FrameSourceError', 'Frame'];

it('packs with a prebuild, installs into a fresh project without building, and gives frames via import and require', () => {
  const app = freshApp('app');
  const log = sh('npm', ['install', '--prefer-offline', '--foreground-scripts', good], app);
  const installed = path.join(app, 'node_modules', 'frame-source');
  expect(log).toContain(`frame-source: using prebuilds/${PLATFORM}/${ADDON}`);
  expect(existsSync(path.join(installed, 'build'))).toBe(false); // nothing was compiled

  const esm = sh(
    process.execPath,
    ['--input-type=module', '-e', `import { FrameSource, FrameSourceError } from 'frame-source';\n${BODY}`],
    app,
  );
  const cjs = sh(
    process.execPath,
    ['-e', `const { FrameSource, FrameSourceError } = require('frame-source');\n(async () => {${BODY}})();`],
    app,
  );
  for (const out of [esm, cjs]) expect(JSON.parse(out.trim())).toEqual({ n: 4, zeroCopy: 4, isFrameSourceError: true, names: NAMES });
  // The browser module resolves through the exports map from both module systems, and the bin runs.
  const web = [
    sh(process.execPath, ['-e', `console.log(typeof require('frame-source/web').WebGLFrameRenderer)`], app),
    sh(
      process.execPath,
      ['--input-type=module', '-e', `const w = await import('frame-source/web'); console.log(typeof w.WebGLFrameRenderer)`],
      app,
    ),
  ];
  expect(web.map((out) => out.trim())).toEqual(['function', 'function']);
  expect(sh('npx', ['--no-install', 'frame-source', '--version'], app)).toMatch(/^frame-source \d+\.\d+\.\d+, GStreamer 1\.\d+/);
  // Types ship for both module systems.
  expect(existsSync(path.join(installed, 'dist', 'index.d.ts'))).toBe(true);
  expect(existsSync(path.join(installed, 'dist', 'index.d.mts'))).toBe(true);
}, 240000);

it('ships what users need and nothing else: no test media, build trees or source maps', () => {
  const files = sh('tar', ['tzf', good], work)
    .trim()
    .split('\n')
    .map((f) => f.replace(/^package\//, ''))
    .sort();
  expect(files).toEqual(
    expect.arrayContaining([
      'scripts/install.js',
      'examples/basic.mjs',
      'binding.gyp',
      'dist/index.cjs',
      'LICENSE',
      `prebuilds/${PLATFORM}/${ADDON}`,
    ]),
  );
  for (const f of files)
    expect(f).toMatch(/^(dist|csrc|types|prebuilds|examples)\/|^(scripts\/install\.js|binding\.gyp|README\.md|LICENSE|package\.json)$/);
  expect(files.filter((f) => /\.map$|^build\/|^test\/|\.(mp4|webm|png|raw)$/.test(f))).toEqual([]);
});

it('builds from source at install when the prebuild does not load, and the result gives frames', () => {
  const app = freshApp('app-broken');
  const log = sh('npm', ['install', '--prefer-offline', '--foreground-scripts', broken], app);
  expect(log).toContain(`frame-source: no addon that loads here for ${PLATFORM}`);
  expect(log).toContain('frame-source: built build/Release/frame_source.node from source');
  const installed = path.join(app, 'node_modules', 'frame-source');
  expect(existsSync(path.join(installed, 'build', 'Release', 'frame_source.node'))).toBe(true);
  const out = sh(
    process.execPath,
    ['-e', `const { FrameSource, FrameSourceError } = require('frame-source');\n(async () => {${BODY}})();`],
    app,
  );
  expect(JSON.parse(out.trim())).toEqual({ n: 4, zeroCopy: 4, isFrameSourceError: true, names: NAMES });
}, 400000);

it('fails the install with one message naming the packages when the prebuild does not load and nothing can build', () => {
  const dir = path.join(work, 'no-toolchain');
  mkdirSync(dir);
  sh('tar', ['xzf', broken], dir);
  const pkg = path.join(dir, 'package');
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
  // A machine without a C++ compiler and without GStreamer's development files.
  const r = spawnSync(process.execPath, ['scripts/install.js'], {
    cwd: pkg,
    encoding: 'utf8',
    env: { ...process.env, CXX: '/nonexistent/c++', PKG_CONFIG_LIBDIR: '/nonexistent', PKG_CONFIG_PATH: '' },
  });
  expect(r.status).toBe(1);
  const errors = r.stderr.trim().split('\n');
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain(`cannot install on ${PLATFORM}: the prebuilt addon does not load (`);
  expect(errors[0]).toContain(ADDON);
  expect(errors[0]).toContain('apt-get install g++ libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev');
  expect(errors[0]).toContain('npm rebuild frame-source');
  expect(existsSync(path.join(pkg, 'build'))).toBe(false);
  expect(readdirSync(pkg)).not.toContain('build');
});

it('does not offer the glibc prebuilds to a musl system (Alpine): it goes to the source build', () => {
  const dir = path.join(work, 'musl');
  mkdirSync(dir);
  sh('tar', ['xzf', good], dir);
  const pkg = path.join(dir, 'package');
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
  // node-gyp-build takes the C library from LIBC; no toolchain, so the install stops before compiling.
  const r = spawnSync(process.execPath, ['scripts/install.js'], {
    cwd: pkg,
    encoding: 'utf8',
    env: { ...process.env, LIBC: 'musl', CXX: '/nonexistent/c++', PKG_CONFIG_LIBDIR: '/nonexistent', PKG_CONFIG_PATH: '' },
  });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('No native build was found');
  expect(r.stderr).toContain('libc=musl');
  expect(r.stderr).toContain('libgstreamer1.0-dev');
});

it('ships the examples and the browser module (frame-source/web) in the package', () => {
  const [pack] = JSON.parse(sh('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT));
  const files = (pack.files as Array<{ path: string }>).map((f) => f.path);
  expect(files).toEqual(
    expect.arrayContaining([
      'examples/basic.mjs',
      'examples/electron/main.ts',
      'dist/web.mjs',
      'dist/web.d.mts',
      'dist/web.cjs',
      'dist/web.d.ts',
    ]),
  );
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  // dist/ is not committed: `npm publish` from a fresh clone must build it, or the package has no JS.
  expect(pkg.scripts.prepublishOnly).toMatch(/^npm run build:js && /);
  expect(pkg.exports['./web']).toEqual({
    import: { types: './dist/web.d.mts', default: './dist/web.mjs' },
    require: { types: './dist/web.d.ts', default: './dist/web.cjs' },
  });
});
