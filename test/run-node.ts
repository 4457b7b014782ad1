// Runs a Node.js child and collects what it printed. Asynchronous on purpose: the test runner's
// timeout stays the only clock, and a child that hangs fails the test instead of blocking it.
import { spawn, type ChildProcess } from 'node:child_process';

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
