// PNG snapshots: a frame's visible pixels as tightly packed RGBA, converted with the frame's own
// colorimetry (the formula web/colorimetry.ts gives the browser module's shader too).
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import type { Frame } from '../frame';
import { yuvToRgbForColorimetry } from '../../web/colorimetry';
import { UsageError } from './arguments';

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** The frame's visible pixels as tightly packed RGBA, or a UsageError naming what to do instead. */
export function toRgba(frame: Frame): Buffer {
  const { width: w, height: h, format } = frame;
  const d = frame.data;
  const out = Buffer.alloc(w * h * 4);
  const plane = (i: number) => frame.layout[i]!;
  switch (format) {
    case 'RGBA':
    case 'RGBX':
    case 'BGRA':
    case 'BGRX': {
      const { offset, stride } = plane(0);
      const bgr = format[0] === 'B';
      const alpha = format[3] === 'A';
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const s = offset + y * stride + x * 4;
          const t = (y * w + x) * 4;
          out[t] = d[bgr ? s + 2 : s]!;
          out[t + 1] = d[s + 1]!;
          out[t + 2] = d[bgr ? s : s + 2]!;
          out[t + 3] = alpha ? d[s + 3]! : 255;
        }
      }
      return out;
    }
    case 'GRAY8': {
      const { offset, stride } = plane(0);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const g = d[offset + y * stride + x]!;
          out.fill(g, (y * w + x) * 4, (y * w + x) * 4 + 3);
          out[(y * w + x) * 4 + 3] = 255;
        }
      }
      return out;
    }
    case 'I420':
    case 'NV12': {
      const m = yuvToRgbForColorimetry(frame.videoFormat.colorimetry, h);
      const Y = plane(0);
      const nv12 = format === 'NV12';
      const U = plane(1);
      const V = nv12 ? plane(1) : plane(2);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const cy = y >> 1;
          const cx = x >> 1;
          const yy = (d[Y.offset + y * Y.stride + x]! - m.yOffset) * m.yScale;
          const u = d[nv12 ? U.offset + cy * U.stride + cx * 2 : U.offset + cy * U.stride + cx]! - 128;
          const v = d[nv12 ? V.offset + cy * V.stride + cx * 2 + 1 : V.offset + cy * V.stride + cx]! - 128;
          const t = (y * w + x) * 4;
          out[t] = clamp(yy + m.rv * v);
          out[t + 1] = clamp(yy - m.gu * u - m.gv * v);
          out[t + 2] = clamp(yy + m.bu * u);
          out[t + 3] = 255;
        }
      }
      return out;
    }
    default:
      throw new UsageError(
        `--snapshot cannot convert ${frame.videoFormat.gstFormat} frames; ask for RGBA (e.g. end the pipeline with '! videoconvert ! video/x-raw,format=RGBA')`,
      );
  }
}

export function writePng(file: string, frame: Frame): void {
  const png = new PNG({ width: frame.width, height: frame.height });
  png.data = toRgba(frame);
  writeFileSync(file, PNG.sync.write(png));
}

/** FILE.png -> FILE-0003.png for the fourth snapshot. */
export function snapshotName(base: string, index: number): string {
  const ext = path.extname(base);
  return `${base.slice(0, base.length - ext.length)}-${String(index).padStart(4, '0')}${ext}`;
}

/** --snapshot and --snapshot-every, for the main job and --serve alike: which frames become files. */
export class Snapshots {
  /** The files written so far, in order. */
  readonly files: string[] = [];

  constructor(
    private readonly base: string | null,
    private readonly every: number,
  ) {}

  /** Writes the frame if it is one to keep; `index` counts the frames seen, from 0. */
  take(frame: Frame, index: number): void {
    if (this.base === null) return;
    if (this.every > 0) {
      if (index % this.every !== 0) return;
      const file = snapshotName(this.base, this.files.length);
      writePng(file, frame);
      this.files.push(file);
    } else if (index === 0) {
      writePng(this.base, frame);
      this.files.push(this.base);
    }
  }
}
