// Test media for playback control: a frame counter burned into the picture, so a test can tell
// which frame it got without trusting timestamps. Frame n is a flat grey picture of luma
// 16 + 3n (read back within ±1 after lossy coding), at 30 fps with a keyframe every 10 frames.
import { ffmpegLavfi } from './media';
import * as path from 'node:path';
import type { Frame } from '../lib/index';

export const COUNTER_FRAMES = 60;
export const FPS = 30;
export const GOP = 10;
export const WIDTH = 160;
export const HEIGHT = 120;

/** µs at which frame n starts. */
export function frameTime(n: number): number {
  return Math.round((n * 1_000_000) / FPS);
}

const SOURCE = `color=c=gray:size=${WIDTH}x${HEIGHT}:rate=${FPS},format=yuv420p,geq=lum='16+N*3':cb=128:cr=128`;
// The counter source, `frames` long, keyframes exactly every `gop` frames, encoded by `codec` into `out`.
function encodeCounter(out: string, frames: number, gop: number, codec: string[]): string {
  return ffmpegLavfi(out, [SOURCE], ['-frames:v', String(frames), '-g', String(gop), '-keyint_min', String(gop), ...codec]);
}

/** H.264 (with B-frames) in MP4; keyframes exactly every `gop` frames (no scene-cut keyframes). */
export function makeCounterMp4(dir: string, frames = COUNTER_FRAMES, gop = GOP): string {
  const name = gop === GOP ? `counter-${frames}.mp4` : `counter-${frames}-gop${gop}.mp4`;
  return encodeCounter(path.join(dir, name), frames, gop, ['-sc_threshold', '0', '-c:v', 'libx264', '-pix_fmt', 'yuv420p']);
}

/** VP9 in WebM, with a cluster (and so a cue) at every keyframe: keyframe seeks can land on each. */
export function makeCounterWebm(dir: string, frames = COUNTER_FRAMES, gop = GOP): string {
  const name = gop === GOP ? `counter-${frames}.webm` : `counter-${frames}-gop${gop}.webm`;
  return encodeCounter(path.join(dir, name), frames, gop, ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cluster_time_limit', '300']);
}

/** The counter in a GRAY8 (or I420: luma plane first) frame. */
export function counterOf(frame: Frame): number {
  const { offset, stride } = frame.layout[0]!;
  const y = frame.data[offset + stride * (HEIGHT >> 1) + (WIDTH >> 1)]!;
  return Math.round((y - 16) / 3);
}
