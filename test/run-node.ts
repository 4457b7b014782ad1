// Runs a Node.js child and collects what it printed. Asynchronous on purpose: the test runner's
// timeout stays the only clock, and a child that hangs fails the test instead of blocking it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export interface NodeRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout's lines parsed as JSON (lines that are not JSON are skipped). */
  reports: any[];
}

const running = new Set<ChildProcess>();

export function runNode(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<NodeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      running.delete(child);
      const reports: any[] = [];
      for (const line of stdout.split('\n')) {
        try {
          if (line.trim()) reports.push(JSON.parse(line));
        } catch {
          // not a report
        }
      }
      resolve({ status, signal, stdout, stderr, reports });
    });
  });
}

/** Kills children a timed-out test left behind (call from afterEach/afterAll). */
export function killChildren(): void {
  for (const c of running) c.kill('SIGKILL');
}

/**
 * Runs test/fixtures/NAME with the built package (dist/index.cjs) and ARGS, expects it to exit 0
 * with no 'crash' report (else the failure shows its status, signal and stderr), and returns its
 * reports by name.
 */
export async function runFixture(root: string, name: string, ...args: string[]): Promise<Record<string, any>> {
  const run = await runNode([path.join(root, 'test', 'fixtures', name), path.join(root, 'dist', 'index.cjs'), ...args]);
  const reports = Object.fromEntries(run.reports.map((x) => [x.report, x]));
  expect({ crash: reports.crash, status: run.status, signal: run.signal, stderr: run.status === 0 ? '' : run.stderr }).toEqual({
    crash: undefined,
    status: 0,
    signal: null,
    stderr: '',
  });
  return reports;
}
