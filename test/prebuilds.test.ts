// The prebuilds where they will run: `npm run prebuild:all`'s addons, packed with npm pack and
// extracted (no build/), loaded on a Debian 11 userland (glibc 2.31, GStreamer 1.18) through its
// own loader, and on arm64 Debian 12 and 11 under qemu-user, each with its own GStreamer and the
// official Node binary (scripts/foreign.mjs). Userlands and Node are downloaded once into .cache/.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from './helpers';
import { killChildren, runNode, type NodeRun } from './run-node';

const FOREIGN = path.join(ROOT, 'scripts', 'foreign.mjs');
const CHILD = path.join(__dirname, 'fixtures', 'prebuild-child.js');
const PACKED = ['package.json', 'package-lock.json', 'binding.gyp', 'README.md', 'csrc', 'lib', 'types', 'dist', 'prebuilds/README.md'];
const ADDON = 'frame-source.napi.glibc.node';

// Decided before any test runs, and said out loud: a skipped check must never look like a pass.
function cannotRun(userland: string): string | null {
  const out = execFileSync(process.execPath, [FOREIGN, '--check', userland], { encoding: 'utf8' }).trim();
  return out || null;
}
const noDebian = cannotRun('bullseye-amd64');
const noArm64 = noDebian ?? cannotRun('bookworm-arm64');
for (const why of [noDebian, noArm64]) {
  if (why) console.warn(`\n*** prebuilds.test: SKIPPING checks: ${why} ***\n`);
}
const withDebian = noDebian ? it.skip : it;
const withArm64 = noArm64 ? it.skip : it;

let work: string;
let pkg: string; // the extracted tarball

beforeAll(() => {
  work = tempDir('frame-source-prebuilds-');
  if (noDebian) return;
  const src = path.join(work, 'src');
  mkdirSync(path.join(src, 'prebuilds'), { recursive: true });
  for (const entry of PACKED) cpSync(path.join(ROOT, entry), path.join(src, entry), { recursive: true });
  // Both targets, as `npm run prebuild:all` makes them (from .cache/ while csrc/ is unchanged).
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'prebuild.mjs'), '--out', path.join(src, 'prebuilds')], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: src, encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()!;
  execFileSync('tar', ['xzf', path.join(work, tarball)], { cwd: work });
  pkg = path.join(work, 'package');
  // Its dependencies are plain JS: this checkout's serve every architecture.
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
}, 900000);
afterAll(() => {
  killChildren();
  rmSync(work, { recursive: true, force: true });
});

function checks(r: NodeRun): Record<string, any> {
  if (r.status !== 0) throw new Error(`child exited ${r.status}: ${r.stderr}`);
  return Object.fromEntries(r.reports.map((o) => [o.check, o]));
}

function symbolVersions(file: string): string[] {
  const out = execFileSync('readelf', ['-W', '--dyn-syms', file], { encoding: 'utf8' });
  return [...new Set(out.match(/@(GLIBC|GLIBCXX|CXXABI)_[\d.]+/g) ?? [])].map((v) => v.slice(1));
}

function newest(versions: string[], prefix: string): number[] {
  return versions
    .filter((v) => v.startsWith(prefix + '_'))
    .map((v) =>
      v
        .slice(prefix.length + 1)
        .split('.')
        .map(Number),
    )
    .reduce((a, b) => (compare(a, b) >= 0 ? a : b), [0]);
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

withDebian(
  'packs stripped linux-x64 and linux-arm64 addons that need at most glibc 2.28 (RHEL 8) and GLIBCXX_3.4.28, and no build/',
  () => {
    expect(existsSync(path.join(pkg, 'build'))).toBe(false);
    expect(readdirSync(path.join(pkg, 'prebuilds')).sort()).toEqual(['README.md', 'linux-arm64', 'linux-x64']);
    for (const [target, machine] of [
      ['linux-x64', 'Advanced Micro Devices X86-64'],
      ['linux-arm64', 'AArch64'],
    ]) {
      const file = path.join(pkg, 'prebuilds', target!, ADDON);
      const header = execFileSync('readelf', ['-h', '-S', file], { encoding: 'utf8' });
      expect(header).toContain(machine!);
      expect(header).not.toContain('.symtab'); // stripped
      const versions = symbolVersions(file);
      expect(versions.length).toBeGreaterThan(0);
      expect(compare(newest(versions, 'GLIBC'), [2, 28])).toBeLessThanOrEqual(0);
      expect(compare(newest(versions, 'GLIBCXX'), [3, 4, 28])).toBeLessThanOrEqual(0);
      // Loaded at run time (GStreamer 1.18+), never linked: the addon must load on 1.16.
      expect(execFileSync('readelf', ['-W', '--dyn-syms', file], { encoding: 'utf8' })).not.toContain('gst_tracing_get_active_tracers');
    }
  },
);

/** Every GStreamer function the addon imports, with the release that added it (GStreamer's own .gir). */
function gstreamerSince(file: string): Record<string, string> {
  const gir = path.join(
    process.env.FRAME_SOURCE_CACHE ?? path.join(ROOT, '.cache'),
    'sysroot',
    'bullseye-amd64',
    'usr',
    'share',
    'gir-1.0',
  );
  const since = new Map<string, string>();
  for (const f of readdirSync(gir).filter((n) => /^Gst\w*-1\.0\.gir$/.test(n))) {
    const xml = readFileSync(path.join(gir, f), 'utf8');
    for (const [, attrs] of xml.matchAll(/<(?:function|method|constructor)\s([^>]*)>/g)) {
      const id = /c:identifier="([^"]+)"/.exec(attrs!)?.[1];
      if (id) since.set(id, /\bversion="([^"]+)"/.exec(attrs!)?.[1] ?? '1.0');
    }
    for (const [, id] of xml.matchAll(/glib:get-type="([^"]+)"/g)) if (!since.has(id!)) since.set(id!, '1.0');
  }
  const imported = execFileSync('readelf', ['-W', '--dyn-syms', file], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[6] === 'UND' && /^gst_/.test(f[7] ?? ''))
    .map((f) => f[7]!.replace(/@.*/, ''));
  return Object.fromEntries(imported.map((id) => [id, since.get(id) ?? 'unknown']));
}

withDebian('links no GStreamer function newer than 1.16 (the README minimum), per GStreamer 1.18 introspection data', () => {
  for (const target of ['linux-x64', 'linux-arm64']) {
    const since = gstreamerSince(path.join(pkg, 'prebuilds', target, ADDON));
    expect(Object.keys(since).length).toBeGreaterThan(50);
    const newer = Object.entries(since).filter(([, v]) => v === 'unknown' || compare(v.split('.').map(Number), [1, 16]) > 0);
    expect(newer).toEqual([]);
  }
});

withDebian(
  'loads the packed x64 prebuild on Debian 11 (glibc 2.31, GStreamer 1.18) and gives the same bytes as here',
  async () => {
    const [there, here] = await Promise.all([runNode([FOREIGN, 'bullseye-amd64', CHILD, pkg, 'frames']), runNode([CHILD, pkg, 'frames'])]);
    const old = checks(there);
    const now = checks(here);
    expect(old.loaded).toMatchObject({
      arch: 'x64',
      gstreamer: expect.stringMatching(/^1\.18\./),
      addons: [path.join(pkg, 'prebuilds', 'linux-x64', ADDON)],
    });
    expect(now.loaded.addons).toEqual([path.join(pkg, 'prebuilds', 'linux-x64', ADDON)]);
    expect(old.loaded.gstreamer).not.toBe(now.loaded.gstreamer);
    for (const name of ['i420', 'rgba']) {
      expect(old.frames[name].hashes).toHaveLength(4);
      expect(old.frames[name].zeroCopy).toBe(4);
      expect(old.frames[name].hashes).toEqual(now.frames[name].hashes);
    }
  },
  300000,
);

withArm64(
  'runs the packed arm64 prebuild under qemu on Debian 12 arm64: zero-copy iteration, release, renegotiation, close with held frames, errors',
  async () => {
    const c = checks(await runNode([FOREIGN, 'bookworm-arm64', CHILD, pkg, 'smoke']));
    expect(c.loaded).toMatchObject({
      arch: 'arm64',
      gstreamer: expect.stringMatching(/^1\.22\./),
      addons: [path.join(pkg, 'prebuilds', 'linux-arm64', ADDON)],
    });
    expect(c.iteration).toEqual({ check: 'iteration', frames: 10, zeroCopy: 10, shared: true });
    expect(c.release).toMatchObject({ frames: 12, releasedThrows: true });
    expect(c.renegotiation).toMatchObject({
      formats: [
        [64, 48],
        [32, 24],
      ],
      sizes: [...Array(3).fill([64, 48]), ...Array(3).fill([32, 24])],
      heldIntact: true,
      zeroCopy: 6,
    });
    expect(c['close-held']).toMatchObject({ state: 'closed', heldAfterClose: 3, intact: true, heldAfterRelease: 0 });
    expect(c.errors).toMatchObject({ runtime: 'ERR_PIPELINE', missing: 'ERR_MISSING_ELEMENT', state: 'closed' });
  },
  300000,
);

withArm64(
  'runs the packed arm64 prebuild on Debian 11 arm64 (glibc 2.31, GStreamer 1.18) with the same bytes as x64 here',
  async () => {
    const [there, here] = await Promise.all([runNode([FOREIGN, 'bullseye-arm64', CHILD, pkg, 'frames']), runNode([CHILD, pkg, 'frames'])]);
    const old = checks(there);
    expect(old.loaded).toMatchObject({ arch: 'arm64', gstreamer: expect.stringMatching(/^1\.18\./) });
    expect(old.frames).toEqual(checks(here).frames);
  },
  300000,
);
