// The only place that loads the native addon. A failure is turned into one error that says which
// of the likely causes it is, and how to fix it on this platform.
import * as path from 'node:path';
import nodeGypBuild from 'node-gyp-build';
import { FrameSourceError } from './errors';
import type { NativeBinding } from '../types/binding';

const MIN_GSTREAMER = { major: 1, minor: 16 };

let cached: NativeBinding | undefined;

/** The package root: dist/ or lib/ sit one level below it. */
function packageRoot(): string {
  return path.resolve(__dirname, '..');
}

export function loadBinding(): NativeBinding {
  if (cached) return cached;
  let binding: NativeBinding;
  try {
    binding = nodeGypBuild(packageRoot()) as NativeBinding;
  } catch (err) {
    throw explainLoadFailure(err);
  }
  checkGStreamerVersion(binding.gstreamerVersion);
  cached = binding;
  return binding;
}

/** @internal Throws ERR_GSTREAMER_VERSION for a GStreamer older than frame-source supports. */
export function checkGStreamerVersion(v: { major: number; minor: number; micro: number }): void {
  if (v.major < MIN_GSTREAMER.major || (v.major === MIN_GSTREAMER.major && v.minor < MIN_GSTREAMER.minor)) {
    throw new FrameSourceError(
      'ERR_GSTREAMER_VERSION',
      `GStreamer ${v.major}.${v.minor}.${v.micro} is too old: frame-source needs ${MIN_GSTREAMER.major}.${MIN_GSTREAMER.minor} or newer. ` +
        installHint(),
    );
  }
}

function installHint(): string {
  switch (process.platform) {
    case 'darwin':
      return 'Install it with: brew install gstreamer';
    case 'win32':
      return 'Install the GStreamer MSVC runtime from gstreamer.freedesktop.org and add its bin/ to PATH';
    default:
      return (
        'Install it with: apt-get install libgstreamer1.0-0 libgstreamer-plugins-base1.0-0 gstreamer1.0-plugins-base ' +
        '(Fedora: dnf install gstreamer1 gstreamer1-plugins-base)'
      );
  }
}

/** @internal Turns what node-gyp-build threw into the error that names the fix. */
export function explainLoadFailure(err: unknown): FrameSourceError {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof FrameSourceError) return err as FrameSourceError;
  const code = (err as { code?: string } | null)?.code;
  if (code === 'ERR_GSTREAMER_INIT') {
    return new FrameSourceError('ERR_GSTREAMER_MISSING', `${message}. ${installHint()}`, { cause: err });
  }
  if (/libgst[\w.-]*\.(so|dylib)\b|gst[\w.-]*\.dll/i.test(message)) {
    return new FrameSourceError(
      'ERR_GSTREAMER_MISSING',
      `frame-source's native addon is installed but the GStreamer libraries it links to are not (${message}). ${installHint()}`,
      { cause: err },
    );
  }
  const needs = /version `((?:GLIBC|GLIBCXX|CXXABI)_[\d.]+)' not found/.exec(message);
  if (needs) {
    return new FrameSourceError(
      'ERR_BINDING_LOAD',
      `frame-source's native addon needs ${needs[1]}, newer than this system's C/C++ runtime (${message}). ` +
        `Build it here instead: install a C++ toolchain, pkg-config and the GStreamer development packages ` +
        `(Debian: apt-get install build-essential pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev), ` +
        `then run 'npm rebuild frame-source --build-from-source'.`,
      { cause: err },
    );
  }
  if (/No native build was found/i.test(message)) {
    return new FrameSourceError(
      'ERR_BINDING_LOAD',
      `frame-source has no prebuilt addon for ${process.platform}-${process.arch} and none was built here. ` +
        `Install a C++ toolchain, pkg-config and the GStreamer development packages ` +
        `(Debian: apt-get install build-essential pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev), ` +
        `then run 'npm rebuild frame-source'.`,
      { cause: err },
    );
  }
  return new FrameSourceError('ERR_BINDING_LOAD', `frame-source's native addon failed to load: ${message}`, {
    cause: err,
  });
}
