// Type checks against other packages' own declarations: toSharedTextureInfo() and the Electron
// shared-texture example against the electron package's electron.d.ts (Electron's binary cannot be
// downloaded here, so nothing Electron-side runs; the types are what can be checked).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './helpers';

const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function tsc(project: string): string {
  try {
    execFileSync(process.execPath, [TSC, '-p', project, '--noEmit'], { cwd: ROOT, encoding: 'utf8' });
    return '';
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}

it("toSharedTextureInfo() is assignable to Electron's SharedTextureImportTextureInfo", () => {
  expect(tsc('test/electron-types')).toBe('');
});

it('the Electron shared-texture example type-checks against Electron and frame-source', () => {
  expect(tsc('examples/electron-shared-texture')).toBe('');
});
