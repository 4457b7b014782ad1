// Scenarios that need a process of their own: GC of kept frames, and exits mid-stream.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './helpers';

const DIST = path.join(ROOT, 'dist', 'index.cjs');
const CHILD = path.join(__dirname, 'fixtures', 'child.js');

function run(mode: string, flags: string[] = []) {
  const r = spawnSync(process.execPath, [...flags, CHILD, DIST, mode], { encoding: 'utf8', timeout: 30000 });
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  return { status: r.status, signal: r.signal, stderr: r.stderr, reports: lines.map((l) => JSON.parse(l)) };
}

it('returns kept frames that are garbage-collected unreleased to the ring, and counts them', () => {
  const r = run('gc', ['--expose-gc']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const { before, after, more } = r.reports[0];
  expect(before.heldFrames).toBe(2);
  expect(after.heldFrames).toBe(0);
  expect(after.gcReleasedFrames).toBe(2);
  expect(more).toBe(4);
});

it('exits cleanly with process.exit() mid-stream while frames are held', () => {
  const r = run('exit');
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(r.reports).toEqual([{ held: 2 }]);
});

it('dies of an uncaught error mid-stream like any Node process: exit code 1, no crash', () => {
  const r = run('throw');
  expect(r.signal).toBeNull();
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('deliberate uncaught error mid-stream');
});

it('lets the process exit by itself after end of stream, without close()', () => {
  const r = run('end');
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(r.reports).toEqual([{ frames: 5 }]);
});

it("exits promptly when close() is called from a 'reconnect' listener, not after the reconnect delay", () => {
  // A port that refuses connections: listened on, then closed.
  const script = `
    const net = require('node:net');
    const { FrameSource } = require(${JSON.stringify(DIST)});
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => {
        const source = new FrameSource({ uri: 'http://127.0.0.1:' + port + '/v.webm', reconnect: { attempts: 5, delay: 60000 } });
        source.once('reconnect', ({ attempt }) => {
          source.close().then(() => console.log(JSON.stringify({ attempt, state: source.state })));
        });
      });
    });`;
  const started = Date.now();
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15000 });
  expect({ signal: r.signal, status: r.status, stderr: r.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
  expect(r.stdout.trim()).toBe(JSON.stringify({ attempt: 1, state: 'closed' }));
  expect(Date.now() - started).toBeLessThan(10000);
}, 30000);
