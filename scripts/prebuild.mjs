#!/usr/bin/env node
// Builds the addons that ship in prebuilds/: linux-x64 and linux-arm64, both compiled against a
// Debian 11 (bullseye) userland unpacked into .cache/sysroot/ (scripts/sysroot.sh), so they need
// at most glibc 2.31, GLIBCXX_3.4.28 (GCC 10's libstdc++) and the GStreamer 1.18 API, whatever
// compiler and userland this machine has. The compiler is this machine's (g++ for x64, Debian's
// g++-aarch64-linux-gnu for arm64); only headers and libraries come from the sysroot.
//
//   node scripts/prebuild.mjs [--target linux-x64,linux-arm64] [--out <dir>]
//
// Each addon is built in .cache/build/<target>/ (never in build/, which the tests load) and kept
// in .cache/prebuilds/ under a hash of everything that goes into it, so an unchanged tree costs a
// copy instead of a compile.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = process.env.FRAME_SOURCE_CACHE ?? path.join(ROOT, '.cache');
export const FILE_NAME = 'frame-source.napi.glibc.node';

// What a build needs from Debian 11: GStreamer's development files, GCC 10's libstdc++ headers
// and glibc's. gstreamer1.0-plugins-base comes along so the tests can run in the same root.
export const BUILD_PACKAGES = [
  'libgstreamer1.0-dev',
  'libgstreamer-plugins-base1.0-dev',
  'libstdc++-10-dev',
  'libc6-dev',
  'gstreamer1.0-plugins-base',
];

export const TARGETS = {
  'linux-x64': { debArch: 'amd64', triple: 'x86_64-linux-gnu', gypArch: 'x64', cxx: 'g++', strip: 'strip' },
  'linux-arm64': {
    debArch: 'arm64',
    triple: 'aarch64-linux-gnu',
    gypArch: 'arm64',
    cxx: 'aarch64-linux-gnu-g++',
    strip: 'aarch64-linux-gnu-strip',
  },
};

/** Unpacks (once) a Debian userland: `suite` bullseye or bookworm, `arch` as Debian names it. */
export function sysroot(suite, arch, packages) {
  const root = path.join(CACHE, 'sysroot', `${suite}-${arch}`);
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'sysroot.sh'), suite, arch, root, ...packages], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`sysroot: could not assemble Debian ${suite} ${arch} in ${root} (exit ${r.status})`);
  return root;
}

function tool(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
}

/** Compiler and linker flags that take headers and libraries from the sysroot S only. */
function flags(t, S) {
  const gccInclude = tool(t.cxx, ['-print-file-name=include']);
  const gccFixed = tool(t.cxx, ['-print-file-name=include-fixed']);
  const cxx10 = path.join(S, 'usr/include/c++/10');
  const includes = [
    cxx10,
    path.join(S, 'usr/include', t.triple, 'c++/10'),
    path.join(cxx10, 'backward'),
    gccInclude,
    gccFixed,
    path.join(S, 'usr/include', t.triple),
    path.join(S, 'usr/include'),
  ];
  const libDirs = [path.join(S, 'usr/lib/gcc', t.triple, '10'), path.join(S, 'usr/lib', t.triple), path.join(S, 'lib', t.triple)];
  return {
    // -nostdinc: neither this machine's headers nor the cross compiler's own glibc may be seen.
    // GCC 12 warns (-Wmaybe-uninitialized) inside GCC 10's <functional>: noise, not our code.
    cxxflags: ['--sysroot=' + S, '-Wno-maybe-uninitialized', '-nostdinc', '-nostdinc++', ...includes.flatMap((d) => ['-isystem', d])].join(
      ' ',
    ),
    // The -L order puts the sysroot's libstdc++, libc and libgcc before any the driver knows.
    ldflags: ['--sysroot=' + S, ...libDirs.map((d) => '-L' + d), '-Wl,-rpath-link=' + libDirs.slice(1).join(':'), '-Wl,--as-needed'].join(
      ' ',
    ),
  };
}

function hashInputs(target, S, f) {
  const h = createHash('sha256');
  const files = ['binding.gyp', 'package-lock.json', 'scripts/prebuild.mjs'];
  const walk = (dir) => {
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else files.push(rel);
    }
  };
  walk('csrc');
  for (const f of files) h.update(f).update(readFileSync(path.join(ROOT, f)));
  h.update(target)
    .update(readFileSync(path.join(S, '.sysroot-stamp')))
    .update(f.cxxflags)
    .update(f.ldflags);
  h.update(tool(TARGETS[target].cxx, ['--version']));
  return h.digest('hex').slice(0, 16);
}

/** The Node headers node-gyp compiles against: those beside this node, else node-gyp's own download. */
function nodeDir() {
  const dir = path.resolve(path.dirname(process.execPath), '..');
  return existsSync(path.join(dir, 'include', 'node', 'node_api.h')) ? dir : undefined;
}

export function buildTarget(target, outDir) {
  const t = TARGETS[target];
  if (!t) throw new Error(`unknown target ${target}: one of ${Object.keys(TARGETS).join(', ')}`);
  for (const cmd of [t.cxx, t.strip]) {
    if (spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status !== 0) {
      throw new Error(`${target}: ${cmd} is missing (Debian: apt-get install ${t.debArch === 'arm64' ? 'g++-aarch64-linux-gnu' : 'g++'})`);
    }
  }
  const S = sysroot('bullseye', t.debArch, BUILD_PACKAGES);
  const f = flags(t, S);
  const key = hashInputs(target, S, f);
  const cached = path.join(CACHE, 'prebuilds', `${target}-${key}`, FILE_NAME);
  const started = Date.now();
  if (!existsSync(cached)) {
    // Per process: two test workers may build the same target at once.
    const work = path.join(CACHE, 'build', `${target}-${process.pid}`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    cpSync(path.join(ROOT, 'binding.gyp'), path.join(work, 'binding.gyp'));
    cpSync(path.join(ROOT, 'csrc'), path.join(work, 'csrc'), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(work, 'node_modules'), 'dir');
    const pcDirs = [path.join(S, 'usr/lib', t.triple, 'pkgconfig'), path.join(S, 'usr/share/pkgconfig')];
    const env = {
      ...process.env,
      CXX: t.cxx,
      CC: t.cxx.replace(/g\+\+$/, 'gcc'),
      LINK: t.cxx,
      CXXFLAGS: f.cxxflags,
      CFLAGS: f.cxxflags.replace(/ -nostdinc\+\+/, ''),
      LDFLAGS: f.ldflags,
      PKG_CONFIG_SYSROOT_DIR: S,
      PKG_CONFIG_LIBDIR: pcDirs.join(':'),
      PKG_CONFIG_PATH: '',
    };
    const gyp = path.join(ROOT, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    const args = [gyp, 'rebuild', `--arch=${t.gypArch}`, '--loglevel=warn'];
    const nd = nodeDir();
    if (nd) args.push(`--nodedir=${nd}`);
    const r = spawnSync(process.execPath, args, { cwd: work, env, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`${target}: node-gyp failed (exit ${r.status})`);
    mkdirSync(path.dirname(cached), { recursive: true });
    const partial = `${cached}.${process.pid}`;
    execFileSync(t.strip, ['--strip-unneeded', '-o', partial, path.join(work, 'build', 'Release', 'frame_source.node')]);
    renameSync(partial, cached);
    rmSync(work, { recursive: true, force: true });
  }
  const dest = path.join(outDir, target);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  copyFileSync(cached, path.join(dest, FILE_NAME));
  const kb = Math.round(statSync(cached).size / 1024);
  const how = Date.now() - started > 2000 ? `built in ${((Date.now() - started) / 1000).toFixed(0)} s` : 'unchanged, from the cache';
  console.log(`prebuild: ${target}: ${path.relative(process.cwd(), path.join(dest, FILE_NAME)) || dest} (${kb} KiB, ${how})`);
  return path.join(dest, FILE_NAME);
}

function main(argv) {
  let targets = Object.keys(TARGETS);
  let out = path.join(ROOT, 'prebuilds');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--target') targets = argv[++i].split(',');
    else if (argv[i] === '--out') out = path.resolve(argv[++i]);
    else throw new Error(`prebuild: unknown argument ${argv[i]}`);
  }
  for (const target of targets) buildTarget(target, out);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
