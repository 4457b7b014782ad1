// Type-level promises, checked by the real compiler: frame-source's published declarations used
// from browser-side code (TypeScript's DOM library), and the examples that ship with the package.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from './helpers';

function tsc(project: string): string {
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return '';
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

it('browser-side code compiles with lib ["dom", "esnext"] against dist/*.d.ts', () => {
  expect(tsc('test/types')).toBe('');
}, 60000);

it("the Electron example type-checks against the electron package's types (not run: no Electron binary here)", () => {
  expect(tsc('examples/electron')).toBe('');
}, 60000);

it('the Electron example builds as its README says: tsc to CommonJS, esbuild bundles the page with frame-source/web', () => {
  // Before, its tsconfig mapped frame-source/web to a .d.mts file: esbuild bundled the declarations
  // ("No matching export") and tsc refused --module commonjs with moduleResolution bundler.
  const out = tempDir('frame-source-electron-');
  try {
    const dir = path.join('examples', 'electron');
    const tscArgs = ['-p', dir, '--module', 'node16', '--moduleResolution', 'node16', '--noEmit', 'false', '--rootDir', dir];
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), ...tscArgs, '--outDir', out], {
      cwd: ROOT,
      stdio: 'pipe',
    });
    for (const f of ['main.js', 'preload.js', 'frames-utility.js']) expect(readFileSync(path.join(out, f), 'utf8')).toContain('require(');
    const esbuild = path.join(ROOT, 'node_modules', 'esbuild', 'bin', 'esbuild');
    const page = path.join(out, 'page', 'renderer.js');
    execFileSync(esbuild, [path.join(dir, 'renderer.ts'), '--bundle', '--format=esm', `--outfile=${page}`], { cwd: ROOT, stdio: 'pipe' });
    expect(existsSync(page)).toBe(true);
    expect(readFileSync(page, 'utf8')).toMatch(/WebGLFrameRenderer = class/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 60000);
