#!/usr/bin/env node
// npm's install step for frame-source. A prebuild that exists is not enough: it must load here
// (glibc, libstdc++ and the GStreamer libraries it links to). So: load the addon node-gyp-build
// would pick, in a child process; if that fails, build from source; if the build cannot work,
// stop with one message that names the packages to install on this system.
// FRAME_SOURCE_BUILD_FROM_SOURCE=1 (or npm's --build-from-source) skips the prebuild.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const GST_MODULES = ['gstreamer-1.0', 'gstreamer-base-1.0', 'gstreamer-video-1.0', 'gstreamer-app-1.0', 'gstreamer-pbutils-1.0'];

function log(line) {
  console.log(`frame-source: ${line}`);
}

/** Loads the addon node-gyp-build picks in a fresh process: { file, gstreamer } or { error }. */
function tryLoad() {
  let file;
  try {
    file = require(require.resolve('node-gyp-build', { paths: [ROOT] })).resolve(ROOT);
  } catch (err) {
    return { error: String(err.message).split('\n')[0] };
  }
  // A separate process: a damaged file can crash the loader (SIGBUS), not just throw.
  const script = 'const v = require(process.argv[1]).gstreamerVersion; console.log(v.major + "." + v.minor + "." + v.micro)';
  const r = spawnSync(process.execPath, ['-e', script, file], { encoding: 'utf8' });
  const rel = path.relative(ROOT, file);
  if (r.status === 0) return { file, gstreamer: r.stdout.trim() };
  if (r.signal) return { error: `loading ${rel} killed the process with ${r.signal}` };
  const line = (r.stderr || '').split('\n').find((l) => /Error|error:|not found/.test(l)) || `exit ${r.status}`;
  return { error: line.replace(/^\s*(\w*Error: )?/, '') };
}

function works(cmd, args) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

function distro() {
  if (process.platform === 'darwin') return 'mac';
  try {
    const osRelease = readFileSync('/etc/os-release', 'utf8');
    const ids = (osRelease.match(/^(ID|ID_LIKE)=(.*)$/gm) || []).join(' ');
    if (/debian|ubuntu/.test(ids)) return 'debian';
    if (/fedora|rhel|centos/.test(ids)) return 'fedora';
    if (/alpine/.test(ids)) return 'alpine';
    if (/arch/.test(ids)) return 'arch';
  } catch {
    // no os-release: name the Debian packages, the most common case
  }
  return 'debian';
}

// What each missing piece is called by each package manager.
const PACKAGES = {
  debian: {
    install: 'apt-get install',
    cxx: 'g++',
    make: 'make',
    python: 'python3',
    pkgconfig: 'pkg-config',
    gst: ['libgstreamer1.0-dev', 'libgstreamer-plugins-base1.0-dev'],
  },
  fedora: {
    install: 'dnf install',
    cxx: 'gcc-c++',
    make: 'make',
    python: 'python3',
    pkgconfig: 'pkgconf-pkg-config',
    gst: ['gstreamer1-devel', 'gstreamer1-plugins-base-devel'],
  },
  alpine: {
    install: 'apk add',
    cxx: 'g++',
    make: 'make',
    python: 'python3',
    pkgconfig: 'pkgconf',
    gst: ['gstreamer-dev', 'gst-plugins-base-dev'],
  },
  arch: { install: 'pacman -S', cxx: 'gcc', make: 'make', python: 'python', pkgconfig: 'pkgconf', gst: ['gstreamer', 'gst-plugins-base'] },
  mac: { install: 'brew install', cxx: null, make: null, python: 'python3', pkgconfig: 'pkg-config', gst: ['gstreamer'] },
};

/** The packages a source build lacks here, named for this system's package manager. */
function missingForBuild() {
  const p = PACKAGES[distro()];
  const missing = [];
  const cxx = process.env.CXX || 'c++';
  if (!works(cxx, ['--version'])) missing.push(p.cxx || 'the Xcode command line tools (xcode-select --install)');
  if (!works('make', ['--version'])) missing.push(p.make || 'the Xcode command line tools (xcode-select --install)');
  if (!works(process.env.PYTHON || 'python3', ['--version'])) missing.push(p.python);
  if (!works('pkg-config', ['--version'])) {
    missing.push(p.pkgconfig, ...p.gst);
  } else if (!works('pkg-config', ['--exists', ...GST_MODULES])) {
    missing.push(...p.gst);
  }
  return { missing: [...new Set(missing)], install: p.install };
}

function nodeGyp() {
  // npm hands its own node-gyp to install scripts; a checkout has the devDependency.
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp))
    return [process.execPath, process.env.npm_config_node_gyp];
  try {
    return [process.execPath, require.resolve('node-gyp/bin/node-gyp.js', { paths: [ROOT] })];
  } catch {
    return ['node-gyp'];
  }
}

function fail(message) {
  console.error(`frame-source: ${message}`);
  process.exit(1);
}

function main() {
  const target = `${process.platform}-${process.arch}`;
  const fromSource = process.env.FRAME_SOURCE_BUILD_FROM_SOURCE === '1' || process.env.npm_config_build_from_source === 'true';
  let why = 'building from source was asked for';
  if (!fromSource) {
    const loaded = tryLoad();
    if (!loaded.error) {
      log(`using ${path.relative(ROOT, loaded.file)} (GStreamer ${loaded.gstreamer})`);
      return;
    }
    why = loaded.error;
    log(`no addon that loads here for ${target} (${why}); building from source`);
  }
  const { missing, install } = missingForBuild();
  if (missing.length) {
    fail(
      `cannot install on ${target}: ${fromSource ? why : `the prebuilt addon does not load (${why})`}, ` +
        `and building from source needs ${missing.join(', ')}. Install them with: ${install} ${missing.filter((m) => !/ /.test(m)).join(' ')} ` +
        `(GStreamer 1.16 or newer), then run: npm rebuild frame-source`,
    );
  }
  const [cmd, ...args] = nodeGyp();
  const r = spawnSync(cmd, [...args, 'rebuild'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) fail(`building the addon from source failed (node-gyp exit ${r.status}); the compiler's messages are above.`);
  const built = tryLoad();
  if (built.error) fail(`the addon built from source does not load: ${built.error}`);
  log(`built ${path.relative(ROOT, built.file)} from source (GStreamer ${built.gstreamer})`);
}

main();
