// The package as users get it: prebuilt with prebuildify, packed with npm pack, installed into a
// fresh project (no compiler step: the prebuild is loaded), used through import and require.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from './helpers';

const PACKED = ['package.json', 'package-lock.json', 'binding.gyp', 'README.md', 'csrc', 'lib', 'types', 'dist', 'prebuilds/README.md'];
let work: string;

beforeAll(() => {
  work = tempDir('frame-source-pack-');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sh(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } });
}

it('packs with a prebuild, installs into a fresh project without building, and gives frames via import and require', () => {
  // Build in a copy, so the suites running beside this one keep the addon they loaded.
  const pkg = path.join(work, 'pkg');
  mkdirSync(path.join(pkg, 'prebuilds'), { recursive: true });
  for (const entry of PACKED) cpSync(path.join(ROOT, entry), path.join(pkg, entry), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
  sh('npm', ['run', 'prebuild'], pkg);
  const platformDir = `${process.platform}-${process.arch}`;
  expect(readdirSync(path.join(pkg, 'prebuilds', platformDir)).some((f) => f.endsWith('.node'))).toBe(true);

  const tarball = sh('npm', ['pack', '--silent', '--pack-destination', work], pkg).trim().split('\n').pop()!;
  const app = path.join(work, 'app');
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, tarball)], app);
  const installed = path.join(app, 'node_modules', 'frame-source');
  expect(existsSync(path.join(installed, 'prebuilds', platformDir))).toBe(true);
  expect(existsSync(path.join(installed, 'build'))).toBe(false); // nothing was compiled

  const body = `
    const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=4 ! video/x-raw,format=I420,width=64,height=48' });
    let n = 0;
    for await (const f of source) { if (!(f.data.buffer instanceof SharedArrayBuffer)) throw new Error('not shared'); n++; }
    console.log(JSON.stringify({ n, zeroCopy: source.stats.zeroCopyFrames, isFrameSourceError: typeof FrameSourceError === 'function' }));`;
  const esm = sh(process.execPath, ['--input-type=module', '-e', `import { FrameSource, FrameSourceError } from 'frame-source';\n${body}`], app);
  const cjs = sh(process.execPath, ['-e', `const { FrameSource, FrameSourceError } = require('frame-source');\n(async () => {${body}})();`], app);
  for (const out of [esm, cjs]) expect(JSON.parse(out.trim())).toEqual({ n: 4, zeroCopy: 4, isFrameSourceError: true });
  // Types ship for both module systems.
  expect(existsSync(path.join(installed, 'dist', 'index.d.ts'))).toBe(true);
  expect(existsSync(path.join(installed, 'dist', 'index.d.mts'))).toBe(true);
}, 240000);

it('ships the examples and the browser module (frame-source/web) in the package', () => {
  const [pack] = JSON.parse(sh('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT));
  const files = (pack.files as Array<{ path: string }>).map((f) => f.path);
  expect(files).toEqual(expect.arrayContaining(['examples/basic.mjs', 'examples/electron/main.ts', 'dist/web.mjs', 'dist/web.d.mts', 'dist/web.cjs', 'dist/web.d.ts']));
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  expect(pkg.exports['./web']).toEqual({
    import: { types: './dist/web.d.mts', default: './dist/web.mjs' },
    require: { types: './dist/web.d.ts', default: './dist/web.cjs' },
  });
});
