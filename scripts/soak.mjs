// Soak: pulls many small frames from a non-live source while holding, releasing, dropping (for the
// garbage collector) and collecting frames in a seeded random mix, and checks that memory stays
// flat and every slot comes back. Used by `npm run soak` (1,000,000 frames) and by
// test/soak.test.ts (20,000). Needs --expose-gc. Prints one JSON line; exits 1 when a check fails.
//   node --expose-gc scripts/soak.mjs [--frames N] [--bound-mb MB] [--seed S] [--dist path]
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
const FRAMES = Number(args.frames ?? 1_000_000);
// RSS may grow this much from the first sample (taken after warm-up) to the last.
const BOUND_MB = Number(args['bound-mb'] ?? 32);
const SEED = Number(args.seed ?? 20261123);
const RING = 8;
const { FrameSource } = createRequire(import.meta.url)(args.dist ?? path.join(here, '..', 'dist', 'index.cjs'));

if (typeof globalThis.gc !== 'function') {
  console.error('soak.mjs needs node --expose-gc');
  process.exit(2);
}

// mulberry32: a small seeded generator, so a failing mix can be replayed with --seed.
let state = SEED >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const rssMb = () => Math.round((process.memoryUsage().rss / 1048576) * 10) / 10;
const tick = () => new Promise((r) => setImmediate(r));

async function main() {
  const source = new FrameSource({
    pipeline: `videotestsrc num-buffers=${FRAMES} pattern=ball ! video/x-raw,format=RGBA,width=32,height=24,framerate=1000/1`,
    ringSize: RING,
  });
  const held = []; // kept frames we release later, in random order
  let forgotten = 0; // kept frames dropped without release: only the GC gives them back
  const counts = { passed: 0, held: 0, released: 0, forgotten: 0, gcRuns: 0 };
  const rss = {};
  let n = 0;
  let lastSequence = -1;
  const failures = [];
  const warmup = Math.min(10_000, Math.floor(FRAMES / 10));

  for await (const frame of source) {
    if (frame.sequence !== lastSequence + 1) failures.push(`sequence ${frame.sequence} after ${lastSequence}`);
    lastSequence = frame.sequence;
    if (frame.data[0] === undefined) failures.push(`frame ${n} has no data`);
    n++;
    if (n === warmup) {
      globalThis.gc();
      rss.start = rssMb();
    } else if (n === Math.floor(FRAMES / 2)) {
      globalThis.gc();
      rss.middle = rssMb();
    }

    const r = random();
    if (r < 0.6) {
      counts.passed++; // the loop releases it when it asks for the next one
    } else if (r < 0.75) {
      held.push(frame.keep());
      counts.held++;
    } else if (r < 0.85) {
      frame.release();
      counts.released++;
    } else {
      frame.keep(); // and forget it
      forgotten++;
      counts.forgotten++;
    }
    // Give back held frames at random, and never hold so many that the ring runs dry.
    while (held.length > 0 && (held.length > 3 || random() < 0.3)) {
      held.splice(Math.floor(random() * held.length), 1)[0].release();
    }
    if (forgotten >= 2 || random() < 0.0005) {
      // Only a full GC (and the finalization tasks after it) returns forgotten frames.
      for (let i = 0; i < 50 && source.stats.heldFrames > held.length + 1; i++) {
        globalThis.gc();
        await tick();
      }
      counts.gcRuns++;
      forgotten = 0;
    }
  }

  for (const f of held.splice(0)) f.release();
  for (let i = 0; i < 50 && source.stats.heldFrames > 0; i++) {
    globalThis.gc();
    await tick();
  }
  globalThis.gc();
  rss.end = rssMb();
  await source.close();
  // After close, the pool frees its idle buffers as they come back: wait for every slot.
  for (let i = 0; i < 500 && source.stats.slotsInUse > 0; i++) await new Promise((r) => setTimeout(r, 10));
  const stats = source.stats;

  if (n !== FRAMES) failures.push(`got ${n} frames of ${FRAMES}`);
  if (stats.droppedFrames !== 0) failures.push(`${stats.droppedFrames} frames dropped from a non-live source`);
  if (stats.heldFrames !== 0) failures.push(`${stats.heldFrames} frames still held after release and GC`);
  if (stats.slotsInUse !== 0) failures.push(`${stats.slotsInUse} slots never came back`);
  if (stats.slots > RING * 2 + 2) failures.push(`${stats.slots} slots exceed the ring's limit`);
  const growth = Math.round((rss.end - rss.start) * 10) / 10;
  if (growth > BOUND_MB) failures.push(`RSS grew ${growth} MB (bound ${BOUND_MB} MB)`);

  const report = {
    frames: n,
    seed: SEED,
    mix: counts,
    gcReleasedFrames: stats.gcReleasedFrames,
    rssMb: rss,
    rssGrowthMb: growth,
    boundMb: BOUND_MB,
    slots: stats.slots,
    slotsInUse: stats.slotsInUse,
    zeroCopyFrames: stats.zeroCopyFrames,
    failures,
  };
  console.log(JSON.stringify(report));
  process.exitCode = failures.length ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
