// The soak in small: scripts/soak.mjs (the script behind `npm run soak`) over 20,000 frames, in a
// process of its own with --expose-gc. The full run is 1,000,000 frames (see README).
import * as path from 'node:path';
import { ROOT } from './helpers';
import { killChildren, runNode } from './run-node';

const SOAK = path.join(ROOT, 'scripts', 'soak.mjs');
const DIST = path.join(ROOT, 'dist', 'index.cjs');

afterAll(killChildren);

it('pulls 20,000 frames through a random hold/release/forget/GC mix with flat RSS and every slot back', async () => {
  // Asynchronous, so that a soak that hangs fails at the runner's timeout instead of blocking it.
  const r = await runNode(['--expose-gc', SOAK, '--frames', '20000', '--dist', DIST]);
  expect(r.stderr).toBe('');
  const report = JSON.parse(r.stdout.trim());
  expect(report.failures).toEqual([]);
  expect(r.status).toBe(0);
  expect(report.frames).toBe(20000);
  expect(report.zeroCopyFrames).toBe(20000);
  // Every kind of step happened, and the garbage collector gave back every frame it was left.
  for (const kind of ['passed', 'held', 'released', 'forgotten', 'gcRuns']) expect(report.mix[kind]).toBeGreaterThan(0);
  expect(report.gcReleasedFrames).toBe(report.mix.forgotten);
  expect(report.slotsInUse).toBe(0);
  expect(report.rssGrowthMb).toBeLessThanOrEqual(report.boundMb);
});
