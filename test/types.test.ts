// Type-level promises, checked by the real compiler: frame-source's published declarations used
// from browser-side code (TypeScript's DOM library), and the examples that ship with the package.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './helpers';

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
