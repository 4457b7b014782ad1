// GStreamer's leaks tracer over the scenarios that stress ownership: frames, frames held across
// close, copies, a failing pipeline, close while upstream waits for a slot, a decoder, close during
// negotiation. After round 1 (plugins loaded, GStreamer's caches filled) every further round must
// leave no new GstBuffer, GstMemory, GstCaps, pool, element or any other object alive.
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from './helpers';
import { makeWebm } from './media';
import { killChildren, runNode } from './run-node';

const DIST = path.join(ROOT, 'dist', 'index.cjs');
const CHILD = path.join(__dirname, 'fixtures', 'leaks-child.js');
let dir: string;

beforeAll(() => {
  dir = tempDir();
  makeWebm(dir, 'a.webm', { width: 64, height: 48, frames: 30 });
});
afterAll(() => {
  killChildren();
  rmSync(dir, { recursive: true, force: true });
});

it('leaves zero GStreamer objects behind once sources are closed and frames released (leaks tracer)', async () => {
  const r = await runNode(['--expose-gc', CHILD, DIST, path.join(dir, 'a.webm'), '4'], {
    ...process.env,
    GST_TRACERS: 'leaks',
    GST_DEBUG: '',
  });
  expect(r.stderr).not.toMatch(/CRITICAL|error/i);
  expect(r.status).toBe(0);
  expect(r.reports).toHaveLength(4);
  // The tracer is really on: it tracks GStreamer's own caches.
  expect(r.reports[0].alive).toBeGreaterThan(0);
  for (const round of r.reports.slice(1)) expect(round.added).toEqual({});
});
