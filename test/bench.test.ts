// `npm run bench` itself: a short run of every suite that this machine can run goes end to end
// (its tables, JSON and chart), with the figures that are not timings checked (frames, copies,
// zero-copy share, which variants ran); it says when another process was busy beside it; and the
// chart draws values where they belong, below 0 included. No timing is asserted: performance lives
// in the bench's own output, not in tests.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from './helpers';
import { runNode, type NodeRun } from './run-node';

interface Row {
  suite: string;
  variant: string;
  frames: number;
  size: string;
  codec?: string;
  cpuMsPerFrame: number | null;
  ratioToFloor: number | null;
  zeroCopyPercent: number | null;
  copiedFrames: number | null;
  droppedFrames: number | null;
  decoder: string | null;
  decoderFrames: number | null;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  otherCpuPercentMax: number | null;
}

// The variants measured as gst-launch is (bench/run.mjs FLOORS).
const FLOORS = ['floor', 'queue-floor', 'reader-floor'];

let dir: string;
beforeAll(() => {
  dir = tempDir('frame-source-bench-test-');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run bench, one short round of each suite', () => {
  let run: NodeRun;
  let rows: Row[];
  beforeAll(async () => {
    run = await runNode([
      path.join(ROOT, 'bench', 'run.mjs'),
      '--quick',
      '--rounds',
      '1',
      '--sizes',
      '720p',
      '--formats',
      'I420',
      '--frames',
      '40',
      '--suites',
      'synthetic,decode,streams,latency',
      '--out',
      path.join(dir, 'out'),
    ]);
    if (run.status === 0) rows = JSON.parse(readFileSync(path.join(dir, 'out', 'latest.json'), 'utf8')).rows;
  }, 240_000);

  it('finishes, and prints a table per suite', () => {
    expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({ status: 0, stderr: '' });
    for (const suite of ['synthetic', 'decode', 'streams', 'latency']) expect(run.stdout).toMatch(new RegExp(`^${suite}$`, 'm'));
    expect(run.stdout).toMatch(/\| 720p \| I420 \| zero-copy \| [\d.]+ \|/);
    // A floor is a run of N frames minus one of 20: with this short round's 40 frames on a busy
    // machine the difference can come out below 0 (seen on a clean CI run), which is noise, not a
    // missing row.
    expect(run.stdout).toMatch(/\| 720p \| I420 \| reader-floor \| -?[\d.]+ \|/);
  });

  // The reader floor is a program of the bench's own (bench/appsink-copy/reader_floor.c), measured
  // from outside: it must fail loudly rather than be measured doing nothing.
  it('has a reader floor that reads frames, and fails when it gets none or cannot run', () => {
    const program = path.join(ROOT, 'bench', 'appsink-copy', 'build', 'Release', 'reader_floor');
    const readerFloor = (description: string) => spawnSync(program, [description], { encoding: 'utf8' });
    expect(readerFloor('videotestsrc num-buffers=3 ! video/x-raw,width=64,height=64')).toMatchObject({ status: 0, stderr: '' });
    expect(readerFloor('videotestsrc num-buffers=0')).toMatchObject({ status: 1, stderr: expect.stringMatching(/before any frame/) });
    expect(readerFloor('videotestsrc ! nosuchelement')).toMatchObject({ status: 1, stderr: expect.stringMatching(/nosuchelement/) });
  });

  it('runs every variant of each suite, each with a CPU figure', () => {
    const variants = (suite: string) => [...new Set(rows.filter((r) => r.suite === suite).map((r) => r.variant))].sort();
    expect(variants('synthetic')).toEqual(['appsink-copy', 'copy-fallback', 'floor', 'queue-floor', 'reader-floor', 'zero-copy']);
    expect(variants('decode')).toEqual(['floor', 'frame-source', 'node-av', 'queue-floor', 'reader-floor']);
    expect(variants('streams')).toEqual(['floor', 'frame-source']);
    expect(variants('latency')).toEqual(['appsink-copy', 'frame-source', 'frame-source-busy', 'wake-floor']);
    for (const r of rows) {
      // A gst-launch floor is the difference of two whole runs (N frames minus 20): with 20 frames
      // measured, beside the other test files, that difference can come out at or just below 0.
      if (FLOORS.includes(r.variant)) expect(Number.isFinite(r.cpuMsPerFrame)).toBe(true);
      else expect(r.cpuMsPerFrame).toBeGreaterThan(0);
      expect(r.otherCpuPercentMax).toBeGreaterThanOrEqual(0);
      if (r.variant === 'floor') expect(r.ratioToFloor).toBe(1);
    }
    // One decode row per codec and variant: H.264 and VP9 at the one size asked for.
    expect(
      rows
        .filter((r) => r.suite === 'decode' && r.variant === 'frame-source')
        .map((r) => `${r.codec} ${r.size}`)
        .sort(),
    ).toEqual(['h264 720p', 'vp9 720p']);
  });

  it('reports what each variant did with the frames: zero-copy, copied, decoded into the ring', () => {
    const one = (suite: string, variant: string) => rows.find((r) => r.suite === suite && r.variant === variant)!;
    expect(one('synthetic', 'zero-copy')).toMatchObject({ frames: 40, zeroCopyPercent: 100, copiedFrames: 0, droppedFrames: 0 });
    expect(one('synthetic', 'copy-fallback')).toMatchObject({ zeroCopyPercent: 0, copiedFrames: 40 });
    expect(one('synthetic', 'appsink-copy')).toMatchObject({ copiedFrames: 40 });
    for (const r of rows.filter((x) => x.suite === 'decode' && x.variant === 'frame-source')) {
      expect(r).toMatchObject({ zeroCopyPercent: 100, copiedFrames: 0, decoderFrames: r.frames });
      expect(r.decoder).toBe(r.codec === 'h264' ? 'avdec_h264' : 'vp9dec');
    }
    expect(one('streams', 'frame-source')).toMatchObject({ zeroCopyPercent: 100, copiedFrames: 0 });
    for (const variant of ['wake-floor', 'frame-source', 'frame-source-busy', 'appsink-copy']) {
      const r = one('latency', variant);
      expect(r.latencyP50Ms).toBeGreaterThan(0);
      expect(r.latencyP99Ms).toBeGreaterThanOrEqual(r.latencyP50Ms!);
    }
  });

  it('draws the chart: a panel per format and the other suites as bars', () => {
    const svg = readFileSync(path.join(dir, 'out', 'latest.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('I420: CPU ms per frame (log scale)');
    expect(svg).toContain('I420: CPU over the floor');
    expect(svg).toContain('Decoding a file: CPU × the gst-launch floor');
    expect(svg).toContain('8 streams at once');
    expect(svg).toContain('Live 30 fps: sink-to-JS latency, ms');
    // Under jest other test files run beside the bench: the footer may count disturbed runs, and
    // says so only when the JSON lists them.
    const disturbed = JSON.parse(readFileSync(path.join(dir, 'out', 'latest.json'), 'utf8')).disturbed.length;
    expect(svg.includes('disturbed by other processes')).toBe(disturbed > 0);
    // Every bar of the decode panel: H.264 and VP9, each variant but the floor.
    for (const label of ['h264 720p frame-source', 'h264 720p node-av', 'vp9 720p queue-floor']) expect(svg).toContain(`>${label}<`);
  });
});

// A process of someone else's that is busy while the bench runs makes its figures wrong: the bench
// must say so. A CPU hog runs beside a short floor-only run.
describe('npm run bench beside a busy process', () => {
  it('names the process and the runs it disturbed', async () => {
    const hog = spawn(process.execPath, ['-e', 'process.title = "frame-source-hog"; for (;;) {}'], { stdio: 'ignore' });
    try {
      const run = await runNode([
        path.join(ROOT, 'bench', 'run.mjs'),
        '--rounds',
        '2',
        '--sizes',
        '720p',
        '--formats',
        'I420',
        '--frames',
        '60',
        '--suites',
        'synthetic',
        '--variants',
        'floor',
        '--out',
        path.join(dir, 'busy'),
      ]);
      expect(run.status).toBe(0);
      // Already in the second before the runs, and then during each.
      // The hog is among the busiest named: under npm test other test files (a compiler, say) can
      // be busier still in a run.
      expect(run.stderr).toMatch(/bench: WARNING: other processes use \d+% of a core before the run \([^)]*(frame-source-ho|node) \d+%/);
      expect(run.stdout).toMatch(/WARNING: other processes were busy during 2 of 2 runs/);
      const result = JSON.parse(readFileSync(path.join(dir, 'busy', 'latest.json'), 'utf8'));
      expect(result.disturbed).toHaveLength(2);
      for (const d of result.disturbed) {
        expect(d.percent).toBeGreaterThan(50);
        // comm is cut at 15 characters
        expect(d.top.map(([name]: [string, number]) => name)).toContainEqual(expect.stringMatching(/^(frame-source-ho|node)/));
      }
      expect(result.rows[0].otherCpuPercentMax).toBeGreaterThan(50);
      expect(readFileSync(path.join(dir, 'busy', 'latest.svg'), 'utf8')).toContain('; 2 runs disturbed by other processes<');
    } finally {
      hog.kill('SIGKILL');
    }
  }, 60_000);
});

// The chart alone, from figures made up for it: a variant cheaper than the floor (a negative
// "+ms per frame") must be drawn inside its panel, under the 0 line, not past the panel's edge.
describe('the chart', () => {
  it('draws a value below 0 under the 0 line and inside the panel', async () => {
    const row = (size: string, width: number, height: number, variant: string, cpu: number, over: number) => ({
      suite: 'synthetic',
      size,
      format: 'RGBA',
      width,
      height,
      variant,
      cpuMsPerFrame: cpu,
      overheadMsPerFrame: over,
    });
    const result = {
      machine: { cpu: 'test', cores: 2, gstreamer: '1.22.0', node: '20' },
      settings: { rounds: 1 },
      date: '2026-12-01T00:00:00Z',
      rows: [
        row('720p', 1280, 720, 'floor', 0.4, 0),
        row('720p', 1280, 720, 'zero-copy', 0.5, 0.1),
        row('2160p', 3840, 2160, 'floor', 4.5, 0),
        row('2160p', 3840, 2160, 'zero-copy', 4.3, -0.2),
      ],
    };
    const input = path.join(dir, 'chart-input.json');
    writeFileSync(input, JSON.stringify(result));
    const chart = path.join(ROOT, 'bench', 'chart.mjs');
    const render = await runNode([
      '--input-type=module',
      '-e',
      `import { renderChart } from ${JSON.stringify(chart)}; import { readFileSync } from 'node:fs';` +
        `process.stdout.write(renderChart(JSON.parse(readFileSync(${JSON.stringify(input)}, 'utf8'))));`,
    ]);
    expect(render.stderr).toBe('');
    const svg = render.stdout;
    // The second panel (oy 30 + 320, height 240): its plot area runs from y 378 to y 550.
    const top = 30 + 320 + 28;
    const bottom = 30 + 320 + 240 - 40;
    const point = (title: string) => {
      const m = new RegExp(`<circle cx="[\\d.]+" cy="([\\d.-]+)"[^>]*><title>${title}`).exec(svg);
      expect(m).not.toBeNull();
      return Number(m![1]);
    };
    const below = point('zero-copy 2160p RGBA: -0.200');
    const above = point('zero-copy 720p RGBA: 0.100');
    // The 0 line of that panel is drawn darker when the scale goes below 0; its label is "0".
    const zero = /<line x1="[\d.]+" x2="[\d.]+" y1="([\d.]+)" y2="[\d.]+" stroke="#999999"\/>/.exec(svg);
    expect(zero).not.toBeNull();
    const zeroY = Number(zero![1]);
    expect(below).toBeGreaterThan(zeroY);
    expect(below).toBeLessThanOrEqual(bottom);
    expect(above).toBeLessThan(zeroY);
    expect(above).toBeGreaterThanOrEqual(top);
    expect(svg).toMatch(/text-anchor="end">-0\.2<\/text>/);
  });
});
