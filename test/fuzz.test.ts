// Bad input, generated: thousands of options objects and pipeline descriptions. Each one either
// works (and then closes with every slot back) or throws a typed error with a known code; none
// crashes, hangs or leaks. Reproducible: the seed is FC_SEED (default below), printed on failure.
import fc from 'fast-check';
import { FrameSource, FrameSourceError, OptionRangeError, OptionTypeError } from '../lib/index';
import { sleep } from './helpers';

const SEED = Number(process.env.FC_SEED ?? 5150);
const RUNS = Number(process.env.FC_RUNS ?? 1);
const CODES = new Set(['ERR_INVALID_OPTION', 'ERR_PIPELINE_PARSE', 'ERR_MISSING_ELEMENT', 'ERR_NOT_NEGOTIATED', 'ERR_BACKEND_UNAVAILABLE']);
const TINY = 'videotestsrc num-buffers=2 ! video/x-raw,format=GRAY8,width=16,height=8';
const tried = { options: 0, grammar: 0, strings: 0, opened: 0, frames: 0 };

afterAll(() => {
  // The figures the README quotes.
  console.log(`fuzz cases: ${JSON.stringify(tried)} (seed ${SEED})`);
});

/** Constructs; a throw must be one of ours. Returns the source when it opened. */
function construct(options: unknown): FrameSource | null {
  try {
    return new FrameSource(options as never);
  } catch (err) {
    const typed = err instanceof FrameSourceError || err instanceof OptionTypeError || err instanceof OptionRangeError;
    if (!typed || !CODES.has(err.code)) throw new Error(`untyped error for ${String(JSON.stringify(options))}: ${String(err)}`);
    return null;
  }
}

/** Reads up to `frames` frames (a pipeline error is fine: it is typed), closes, waits for every slot. */
async function exercise(source: FrameSource, frames: number): Promise<void> {
  tried.opened++;
  try {
    for (let i = 0; i < frames; i++) {
      const f = await source.read();
      if (!f) break;
      tried.frames++;
      f.release();
    }
  } catch (err) {
    expect(err).toBeInstanceOf(FrameSourceError);
  }
  await source.close();
  expect(source.state).toBe('closed');
  while (source.stats.slotsInUse > 0) await sleep(1);
  expect(source.stats.heldFrames).toBe(0);
}

const anyValue = fc.oneof(
  fc.anything(),
  fc.integer({ min: -10, max: 100 }),
  fc.double(),
  fc.constantFrom(true, false, 'auto', null, undefined, '', 'cpu', 'cuda', 'opengl', NaN, Infinity, -0, 2 ** 53),
);
const optionsArb = fc.oneof(
  fc.record(
    {
      pipeline: fc.oneof(fc.constant(TINY), anyValue, fc.string()),
      ringSize: anyValue,
      drop: anyValue,
      maxQueued: anyValue,
      backend: anyValue,
      sharedMemory: anyValue,
      statsInterval: fc.oneof(anyValue, fc.constant(0)),
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(fc.string(), anyValue),
  anyValue,
);

it('every options object either opens a source or throws a typed error', async () => {
  await fc.assert(
    fc.asyncProperty(optionsArb, async (options) => {
      tried.options++;
      // Only tiny pipelines run: without a pipeline the default is 720p, too big for thousands of runs.
      const o =
        options && typeof options === 'object' && !Array.isArray(options) && (options as { pipeline?: unknown }).pipeline === undefined
          ? { ...options, pipeline: TINY }
          : options;
      const source = construct(o);
      if (source) await exercise(source, 1);
    }),
    { seed: SEED, numRuns: 3000 * RUNS },
  );
});

// Descriptions from pieces of real gst-launch syntax: mostly plausible, often broken. Every source
// element is bounded (num-buffers) so that a pipeline that works also ends.
const element = fc.constantFrom(
  'videotestsrc num-buffers=3',
  'videotestsrc num-buffers=2 is-live=true',
  'videotestsrc num-buffers=0',
  'audiotestsrc num-buffers=2',
  'fakesrc num-buffers=2',
  'filesrc location=/nonexistent/frame-source',
  'videoconvert',
  'videoscale',
  'videorate',
  'identity',
  'identity drop-allocation=true',
  'queue',
  'queue max-size-buffers=1',
  'tee',
  'capsfilter',
  'video/x-raw,format=RGBA,width=32,height=16',
  'video/x-raw,format=I420,width=30,height=18',
  'video/x-raw,format=NV12',
  'video/x-raw,width=16',
  'video/x-raw(memory:GLMemory)',
  'image/png',
  'audio/x-raw',
  'rawvideoparse width=16 height=8',
  'pngdec',
  'nosuchelement',
  'appsink',
  'name=frame-source-sink',
);
const glue = fc.constantFrom(' ! ', ' ! ', ' ! ', ' ', ' !! ', ' , ', ' . ', ' t. ! ', ' ( ', ' ) ', ' name=t ', '"', "'", '=');
const grammarArb = fc
  .array(fc.tuple(element, glue), { minLength: 1, maxLength: 6 })
  .map((parts) => parts.map(([e, g], i) => (i === parts.length - 1 ? e : e + g)).join(''));

it('every pipeline description built from gst-launch pieces works or throws a typed error', async () => {
  await fc.assert(
    fc.asyncProperty(grammarArb, async (pipeline) => {
      tried.grammar++;
      const source = construct({ pipeline, ringSize: 3 });
      if (source) await exercise(source, 3);
    }),
    { seed: SEED, numRuns: 3000 * RUNS },
  );
});

it('arbitrary strings as pipeline descriptions throw typed errors (or, rarely, run)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 80 })),
      async (pipeline) => {
        tried.strings++;
        const source = construct({ pipeline });
        if (source) await exercise(source, 0);
      },
    ),
    { seed: SEED, numRuns: 3000 * RUNS },
  );
});
