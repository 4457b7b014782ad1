// GStreamer's leaks tracer over playback control: seeks with frames held across them, pause, step,
// a looping range, close while a seek is pending. After round 1 (plugins loaded, caches filled)
// every further round must leave no new GStreamer object alive.
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from './helpers';
import { makeCounterWebm } from './playback-media';
import { killChildren, runNode } from './run-node';

const DIST = path.join(ROOT, 'dist', 'index.cjs');
const CHILD = path.join(__dirname, 'fixtures', 'playback-leaks-child.js');
let dir: string;
let file: string;

beforeAll(() => {
  dir = tempDir();
  file = makeCounterWebm(dir);
});
afterAll(() => {
  killChildren();
  rmSync(dir, { recursive: true, force: true });
});

it('seeking, pausing and stepping leave zero GStreamer objects behind (leaks tracer)', async () => {
  const r = await runNode(['--expose-gc', CHILD, DIST, file, '3'], { ...process.env, GST_TRACERS: 'leaks', GST_DEBUG: '' });
  expect(r.stderr).not.toMatch(/CRITICAL|error/i);
  expect(r.status).toBe(0);
  expect(r.reports).toHaveLength(3);
  expect(r.reports[0].alive).toBeGreaterThan(0);
  for (const round of r.reports.slice(1)) expect(round.added).toEqual({});
});
