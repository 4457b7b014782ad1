// Shared test helpers: reference dumps made by gst-launch-1.0 itself, plane geometry, and frame
// collection. Nothing here is mocked: every helper runs real GStreamer.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Frame, FrameSource, PlaneLayout, VideoFormat } from '../lib/index';

export const ROOT = path.resolve(__dirname, '..');

export function tempDir(prefix = 'frame-source-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** The bytes `gst-launch-1.0 <description> ! filesink` writes: every frame, back to back. */
export function gstDump(description: string): Buffer {
  const dir = tempDir();
  try {
    const out = path.join(dir, 'dump.raw');
    const args = [...splitDescription(description), '!', 'filesink', `location=${out}`];
    execFileSync('gst-launch-1.0', ['-q', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// gst-launch-1.0 joins argv with spaces; our descriptions contain no quoted spaces.
function splitDescription(d: string): string[] {
  return d.split(/\s+/).filter(Boolean);
}

/** Bytes per row and rows of each plane, for the formats the tests use. */
export function planeGeometry(format: string, width: number, height: number): Array<{ rowBytes: number; rows: number }> {
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  switch (format) {
    case 'RGBA':
    case 'BGRA':
    case 'RGBX':
    case 'BGRX':
      return [{ rowBytes: width * 4, rows: height }];
    case 'GRAY8':
      return [{ rowBytes: width, rows: height }];
    case 'I420':
      return [
        { rowBytes: width, rows: height },
        { rowBytes: cw, rows: ch },
        { rowBytes: cw, rows: ch },
      ];
    case 'NV12':
      return [
        { rowBytes: width, rows: height },
        { rowBytes: cw * 2, rows: ch },
      ];
    default:
      throw new Error(`test helper has no geometry for ${format}`);
  }
}

/** A frame's visible pixels, plane by plane, row by row: padding bytes excluded. */
export function visibleBytes(data: Uint8Array, format: string, width: number, height: number, layout: readonly PlaneLayout[]): Buffer {
  const parts: Buffer[] = [];
  planeGeometry(format, width, height).forEach((g, p) => {
    const { offset, stride } = layout[p]!;
    for (let r = 0; r < g.rows; r++) {
      parts.push(Buffer.from(data.buffer, data.byteOffset + offset + r * stride, g.rowBytes));
    }
  });
  return Buffer.concat(parts);
}

export interface Collected {
  frames: Array<{ bytes: Buffer; visible: Buffer; sequence: number; copied: boolean; format: VideoFormat; layout: readonly PlaneLayout[] }>;
  formats: VideoFormat[];
}

/** Iterates a source to its end, copying each frame's bytes (so the slots can be reused). */
export async function collect(source: FrameSource): Promise<Collected> {
  const formats: VideoFormat[] = [];
  source.on('format', (f) => formats.push(f));
  const frames: Collected['frames'] = [];
  for await (const frame of source) frames.push(snapshot(frame));
  return { frames, formats };
}

export function snapshot(frame: Frame): Collected['frames'][number] {
  const f = frame.videoFormat;
  return {
    bytes: Buffer.from(frame.data),
    visible: visibleBytes(frame.data, f.format, f.width, f.height, frame.layout),
    sequence: frame.sequence,
    copied: frame.copied,
    format: f,
    layout: frame.layout,
  };
}

/** Splits a gst-launch dump into frames of the format's default layout, visible bytes only. */
export function referenceFrames(dump: Buffer, format: VideoFormat): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off + format.byteLength <= dump.length; off += format.byteLength) {
    const frame = new Uint8Array(dump.buffer, dump.byteOffset + off, format.byteLength);
    out.push(visibleBytes(frame, format.format, format.width, format.height, format.layout));
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with what `promise` gives, or rejects if it takes longer than `ms`. */
export function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The visible bytes of the first `n` frames `source` delivers (then it is closed), for comparisons. */
export async function cpuFrames(source: FrameSource, n: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const f of source) {
    out.push(visibleBytes(f.data, f.format, f.width, f.height, f.layout));
    if (out.length === n) break;
  }
  await source.close();
  return out;
}
