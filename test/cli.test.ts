// The `frame-source` command as a user runs it: a spawned `node dist/cli.cjs` (built by
// `npm test`'s build:js step), real GStreamer, real terminal output (under a pseudo-terminal from
// util-linux `script` for the progress line), and snapshots decoded with pngjs.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PNG } from 'pngjs';
import { ROOT, tempDir } from './helpers';

const CLI = path.join(ROOT, 'dist', 'cli.cjs');
let dir: string;

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build:js (npm test does)`);
  dir = tempDir('frame-source-cli-');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], cwd?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30000, cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function readPng(file: string): PNG {
  return PNG.sync.read(readFileSync(file));
}

function pixel(png: PNG, x: number, y: number): number[] {
  const i = (y * png.width + x) * 4;
  return [...png.data.subarray(i, i + 4)];
}

const small = (format: string, extra = '') =>
  `videotestsrc num-buffers=5 ${extra} ! video/x-raw,format=${format},width=64,height=48,framerate=30/1`;

describe('flags', () => {
  it('--help documents every flag and exits 0', () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--pipeline',
      '--uri',
      '--camera',
      '--test',
      '--format',
      '--width',
      '--height',
      '--frames',
      '--duration',
      '--json',
      '--snapshot',
      '--snapshot-every',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--frames', 'ten'], /--frames needs a positive integer; got 'ten'/],
    [['--frames', '0'], /--frames needs a positive integer/],
    [['--duration', '-1'], /--duration/],
    [['--pipeline', 'videotestsrc', '--uri', 'file:///a.mp4'], /give one source, not --pipeline and --uri/],
    [['--snapshot', 'out.jpg'], /ending in \.png/],
    [['--snapshot-every', '3'], /--snapshot-every needs --snapshot/],
    [['--frame', '10'], /Unknown option '--frame'; did you mean --frames\?/],
    [['--jsno'], /did you mean --json\?/],
    [['videotestsrc', '--test'], /give one source, not 'videotestsrc' and --test/],
    [['--snapshot', '/proc/nope/x.png'], /--snapshot cannot write into \/proc\/nope: no such folder/],
    [['--test', '--start=-1'], /--start needs a number of seconds from 0 to \d+; got '-1'/],
    // Told in the seconds typed, not in FrameSource's µs.
    [['--test', '--end', '0.0000001'], /--end must be later than --start \(0 s\), by 0\.000001 s at least; got '0\.0000001'/],
    [['--test', '--start', '2.5', '--end', '2'], /--end must be later than --start \(2\.5 s\)/],
    [
      ['--test', 'ball', '--live', '--start', '1.5'],
      /--start must be given only for files and other seekable, non-live sources; got 1\.5 s$/m,
    ],
  ])('%j: clear message, exit 2', (args, message) => {
    const r = cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("Run 'frame-source --help'");
    expect(r.stdout).toBe('');
  });

  it.each(['0', '0.0', '0.25'])('--start %s is a position in seconds like any other', (start) => {
    const r = cli(['--test', '--start', start, '--frames', '2', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stoppedBy: 'frames', frames: 2 });
  });

  it('an option FrameSource rejects exits 2 with its message and code', () => {
    const r = cli(['--ring-size', '1000', '--frames', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ringSize.*ERR_INVALID_OPTION/);
  });

  it('a pipeline that cannot run exits 1 and says why', () => {
    const r = cli(['--pipeline', 'nosuchelement-xyz']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nosuchelement-xyz.*ERR_MISSING_ELEMENT/);
  });

  it.each([
    [['--json', '--snapshot', '/proc/nope/x.png'], 2, 'ERR_USAGE', /\/proc\/nope: no such folder/],
    [['--json', '--bogus'], 2, 'ERR_USAGE', /Unknown option '--bogus'/],
    [['--json', '--ring-size', '1000'], 2, 'ERR_INVALID_OPTION', /ringSize/],
    [['--json', '--pipeline', 'nosuchelement-xyz'], 1, 'ERR_MISSING_ELEMENT', /nosuchelement-xyz/],
    [['--json', '--uri', 'nonexistent-dir/clip.mp4'], 1, 'ERR_FILE_NOT_FOUND', /nonexistent-dir\/clip\.mp4/],
    [['--json', 'nonexistent-dir/clip.mp4'], 1, 'ERR_FILE_NOT_FOUND', /no such file: .*nonexistent-dir\/clip\.mp4/],
  ])('with --json, %j prints a JSON error object and exits %d', (args, exit, code, message) => {
    const r = cli(args);
    expect(r.code).toBe(exit);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ exitCode: exit, error: { code } });
    expect(out.error.message).toMatch(message);
    expect(r.stderr).toMatch(message);
  });
});

describe('sources as a gst-launch user types them', () => {
  let clip: string;
  beforeAll(() => {
    clip = path.join(dir, 'clip.webm');
    execFileSync('gst-launch-1.0', [
      '-q',
      'videotestsrc',
      'num-buffers=6',
      '!',
      'video/x-raw,width=64,height=48',
      '!',
      'vp8enc',
      '!',
      'webmmux',
      '!',
      'filesink',
      `location=${clip}`,
    ]);
  });

  it('takes a gst-launch pipeline as plain arguments', () => {
    const r = cli(['videotestsrc', 'num-buffers=3', '!', 'video/x-raw,format=I420,width=64,height=48', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({
      frames: 3,
      pipeline: 'videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=64,height=48',
      format: { format: 'I420' },
    });
    expect(s.elements).toContain('videotestsrc');
  });

  it.each([
    ['--uri with a relative path', ['--uri', './clip.webm']],
    ['a plain file name', ['clip.webm']],
  ])('%s opens the file, and the output names the pipeline and the decoder', (_, args) => {
    const json = cli([...args, '--json'], dir);
    expect(json.code).toBe(0);
    const s = JSON.parse(json.stdout);
    expect(s).toMatchObject({ frames: 6, source: pathToFileURL(clip).href, decoder: 'vp8dec' });
    expect(s.pipeline).toMatch(/^uridecodebin/);
    expect(s.elements).toEqual(expect.arrayContaining(['uridecodebin', 'vp8dec']));
    const human = cli(args, dir);
    expect(human.code).toBe(0);
    expect(human.stderr).toMatch(/^pipeline: uridecodebin/m);
    expect(human.stderr).toMatch(/^format: I420 64x48 .*decoder vp8dec/m);
    expect(human.stdout).toMatch(/decoder: vp8dec/);
  });

  it.each(['nonexistent.mp4', 'clips/nonexistent.webm'])('a mistyped file name (%s) is "no such file", not a parse error', (name) => {
    const r = cli([name], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no such file: ${path.join(dir, name)} (ERR_FILE_NOT_FOUND)`);
  });

  it('one word without a dot or a slash is still a pipeline', () => {
    const r = cli(['videotestsrc', '--frames', '2', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ pipeline: 'videotestsrc', frames: 2 });
  });

  it('--test without a format gives RGBA (not 16-bit ABGR64), so snapshots work', () => {
    const file = path.join(dir, 'ball.png');
    const r = cli(['--test', 'ball', '--frames', '2', '--json', '--snapshot', file]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).format.format).toBe('RGBA');
    expect(readPng(file).width).toBe(1280);
  });
});

describe('the main job', () => {
  it('runs the default source and prints a JSON summary on stdout', () => {
    const r = cli(['--frames', '30', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({
      source: 'default test source',
      format: { format: 'RGBA', width: 1280, height: 720, framerate: 30 },
      stoppedBy: 'frames',
      frames: 30,
      copiedFrames: 0,
      zeroCopyPercent: 100,
      memory: 'shared',
    });
    expect(s.cpuMsPerFrame).toBeGreaterThan(0);
    expect(s.fps).toBeGreaterThan(0);
    expect(s.peakRssBytes).toBeGreaterThan(0);
    expect(s.versions.gstreamer).toMatch(/^1\.\d+\.\d+$/);
  });

  it("a --duration past setTimeout's limit (about 24.8 days) waits instead of stopping at once", () => {
    const r = cli(['--duration', '2200000', '--frames', '3', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stoppedBy: 'frames', frames: 3 });
    expect(r.stderr).not.toContain('TimeoutOverflowWarning');
  });

  it('runs a pipeline to its end and reports the copy fallback', () => {
    const r = cli(['--json', '--pipeline', `${small('RGBA')} ! identity drop-allocation=true`]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ stoppedBy: 'eos', frames: 5, copiedFrames: 5, zeroCopyPercent: 0, bytesCopied: 5 * 64 * 48 * 4 });
  });

  it('without a terminal, prints plain progress lines (no \\r) and a human summary', () => {
    const r = cli([
      '--duration',
      '1.6',
      '--pipeline',
      'videotestsrc is-live=true ! video/x-raw,format=RGBA,width=160,height=120,framerate=30/1',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('\r');
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('frames '));
    expect(lines.length).toBeGreaterThanOrEqual(2); // one a second, plus the final one
    expect(lines.at(-1)).toMatch(
      /^frames \d+ {2}fps [\d.]+ {2}zero-copy 100\.0% {2}cpu\/frame [\d.]+ ms {2}lag p50\/p99 [\d.]+\/[\d.]+ ms {2}dropped \d+$/,
    );
    expect(r.stdout).toMatch(/stopped by duration/);
    expect(r.stdout).toMatch(/zero-copy (\d+)\/\1, copied 0/);
  });

  it('the progress line and the summary measure lag the same way', () => {
    const r = cli([
      '--json',
      '--duration',
      '2.2',
      '--pipeline',
      'videotestsrc is-live=true ! video/x-raw,format=RGBA,width=160,height=120,framerate=30/1',
    ]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout).lagMs;
    const live = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('frames '))
      .map((l) => Number(/lag p50\/p99 ([\d.]+)\//.exec(l)![1]));
    expect(live.length).toBeGreaterThanOrEqual(2);
    // Both subtract the smallest (arrival - timestamp): the clocks' constant offset never shows.
    for (const p50 of live) {
      expect(p50).toBeLessThan(25);
      expect(Math.abs(p50 - summary.p50)).toBeLessThan(25);
    }
  });

  it('Ctrl-C (SIGINT) stops the default source cleanly and still prints the summary', async () => {
    const child = spawn(process.execPath, [CLI, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    const code = await new Promise<number | null>((resolve) => {
      // Interrupt once the first progress line shows frames are flowing.
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/^frames \d+/m.test(stderr) && child.signalCode === null && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code).toBe(0);
    const s = JSON.parse(stdout);
    expect(s.stoppedBy).toBe('signal');
    expect(s.frames).toBeGreaterThan(0);
    expect(s.zeroCopyPercent).toBe(100);
  });

  it('on a terminal, rewrites one progress line with \\r', () => {
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} --duration 1.2 --pipeline 'videotestsrc is-live=true ! video/x-raw,format=RGBA,width=160,height=120,framerate=30/1'`;
    const out = execFileSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 30000 });
    const rewrites = out.split('\r\x1b[Kframes ').length - 1;
    expect(rewrites).toBeGreaterThanOrEqual(3); // every 250 ms
    // Between rewrites there is no newline: it is one line, redrawn.
    const progress = out.slice(out.indexOf('\r\x1b[Kframes '), out.lastIndexOf('\r\x1b[Kframes '));
    expect(progress).not.toContain('\n');
    expect(out).toMatch(/stopped by duration/);
  });
});

describe('snapshots', () => {
  it.each([
    ['RGBA', 'pattern=solid-color foreground-color=0xff00ff00', [0, 255, 0, 255]],
    ['BGRx', 'pattern=solid-color foreground-color=0xff3366cc', [0x33, 0x66, 0xcc, 255]],
    ['RGBA', 'pattern=red', [255, 0, 0, 255]],
  ])("%s %s: the PNG holds the frame's colour", (format, props, rgba) => {
    const file = path.join(dir, `${format}-${rgba.join('-')}.png`);
    const r = cli(['--pipeline', small(format, props), '--snapshot', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`snapshot: ${file}`);
    const png = readPng(file);
    expect([png.width, png.height]).toEqual([64, 48]);
    for (const [x, y] of [
      [0, 0],
      [63, 47],
      [31, 20],
    ] as const)
      expect(pixel(png, x, y)).toEqual(rgba);
  });

  it.each([
    ['I420', 64, 48, 'BT.601'],
    ['NV12', 64, 48, 'BT.601'],
    ['I420', 1280, 720, 'BT.709'],
  ])('%s at %dx%d is converted with its %s colorimetry (colour bars within 3 levels of RGBA)', (format, width, height) => {
    // videotestsrc's 75% bars in RGBA are the reference for the converted YUV frame.
    const caps = (f: string) => `videotestsrc num-buffers=1 pattern=smpte75 ! video/x-raw,format=${f},width=${width},height=${height}`;
    const ref = path.join(dir, `bars-rgba-${format}-${width}.png`);
    const yuv = path.join(dir, `bars-${format}-${width}.png`);
    expect(cli(['--pipeline', caps('RGBA'), '--snapshot', ref]).code).toBe(0);
    expect(cli(['--pipeline', caps(format), '--snapshot', yuv]).code).toBe(0);
    const a = readPng(ref);
    const b = readPng(yuv);
    for (let bar = 0; bar < 7; bar++) {
      const x = Math.floor((bar + 0.5) * (width / 7));
      const pa = pixel(a, x, height / 4);
      const pb = pixel(b, x, height / 4);
      for (let c = 0; c < 3; c++) expect(Math.abs(pa[c]! - pb[c]!)).toBeLessThanOrEqual(3);
    }
  });

  it('--snapshot-every N writes numbered files for every Nth frame', () => {
    const base = path.join(dir, 'every.png');
    const r = cli(['--json', '--pipeline', small('RGBA', 'pattern=blue'), '--snapshot', base, '--snapshot-every', '2']);
    expect(r.code).toBe(0);
    const files = ['every-0000.png', 'every-0001.png', 'every-0002.png'].map((f) => path.join(dir, f));
    expect(JSON.parse(r.stdout).snapshots).toEqual(files); // frames 0, 2, 4 of 5
    for (const f of files) expect(pixel(readPng(f), 5, 5)).toEqual([0, 0, 255, 255]);
    expect(existsSync(path.join(dir, 'every-0003.png'))).toBe(false);
  });

  it('a format it cannot convert is refused with the fix', () => {
    const r = cli(['--pipeline', small('YUY2'), '--snapshot', path.join(dir, 'yuy2.png')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot convert YUY2.*videoconvert/);
  });
});

describe('--serve as a one-off run', () => {
  it('with --json, prints one JSON object on stdout; the address goes to stderr and into it', () => {
    const r = cli(['--serve', '0', '--json', '--pipeline', small('RGBA')]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ stoppedBy: 'eos', frames: 5, pagesServed: 0 });
    expect(r.stderr).toContain(`serving ${s.served}`);
  });

  it('a port in use is a usage error (exit 2) that says so, also as --json, not an unhandled error event', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const r = cli(['--serve', String(port), '--duration', '1']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--serve: port ${port} on 127.0.0.1 is in use`);
      expect(r.stderr).not.toMatch(/Unhandled|EADDRINUSE/);
      const j = cli(['--serve', String(port), '--duration', '1', '--json']);
      expect(j.code).toBe(2);
      expect(JSON.parse(j.stdout)).toMatchObject({ error: { code: 'ERR_USAGE' }, exitCode: 2 });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('refuses a format the page cannot draw, saying which it can', () => {
    const r = cli(['--serve', '0', '--pipeline', small('Y444')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--serve draws RGBA, RGBX, BGRA, BGRX, I420, NV12, GRAY8, not Y444: add --format RGBA/);
  });

  it('writes --snapshot files as the main job does', () => {
    const file = path.join(dir, 'served.png');
    const r = cli(['--serve', '0', '--pipeline', small('RGBA', 'pattern=red'), '--snapshot', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`snapshot: ${file}`);
    expect(pixel(readPng(file), 10, 10)).toEqual([255, 0, 0, 255]);
  });
});

describe('examples', () => {
  it.each(['basic.mjs', 'worker-handoff.mjs'])('%s refuses a frame count that is not a number, and exits 2', (example) => {
    // Before, NaN frames: basic.mjs never stopped on the endless default source.
    const r = spawnSync(process.execPath, [path.join(ROOT, 'examples', example), 'abc'], { encoding: 'utf8', timeout: 15000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`usage: node examples/${example}`);
    expect(r.stderr).toContain("frames must be a positive integer; got 'abc'");
  });

  it('handoff-worker.mjs run on its own says which script to run instead of a TypeError, and exits 2', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'examples', 'handoff-worker.mjs')], { encoding: 'utf8', timeout: 15000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('run: node examples/worker-handoff.mjs');
    expect(r.stderr).not.toContain('TypeError');
  });
});
