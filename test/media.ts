// Test media made at test time with GStreamer and ffmpeg: nothing is checked in.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

export const FRAMES = 20;

/** VP8 in WebM (by default at an odd size, FRAMES frames), by GStreamer. */
export function makeWebm(
  dir: string,
  name = 'vp8-1278x719.webm',
  { width = 1278, height = 719, frames = FRAMES }: { width?: number; height?: number; frames?: number } = {},
): string {
  const out = path.join(dir, name);
  execFileSync('gst-launch-1.0', [
    '-q',
    'videotestsrc',
    `num-buffers=${frames}`,
    'pattern=ball',
    '!',
    `video/x-raw,width=${width},height=${height},framerate=30/1`,
    '!',
    'vp8enc',
    'deadline=1',
    '!',
    'webmmux',
    '!',
    'filesink',
    `location=${out}`,
  ]);
  return out;
}

/** H.264 in MP4 (with B-frames), by ffmpeg's libx264. */
export function makeMp4(dir: string, name = 'h264-640x360.mp4'): string {
  return ffmpegTestsrc(path.join(dir, name), '640x360', ['-c:v', 'libx264', '-pix_fmt', 'yuv420p']);
}

/**
 * 4:2:0 H.264 or H.265 (MP4), VP8 or VP9 (WebM), or AV1 (MP4 or WebM), at any size, by ffmpeg;
 * `extra` adds encoder options.
 */
export function makeEncoded(
  dir: string,
  name: string,
  size: string,
  codec: 'libx264' | 'libx265' | 'libvpx' | 'libvpx-vp9' | 'libaom-av1',
  extra: string[] = [],
  frames = FRAMES,
): string {
  const speed =
    codec === 'libvpx' || codec === 'libvpx-vp9'
      ? ['-deadline', 'realtime']
      : codec === 'libaom-av1'
        ? ['-usage', 'realtime', '-cpu-used', '8']
        : ['-preset', 'veryfast'];
  return ffmpegTestsrc(path.join(dir, name), size, ['-c:v', codec, ...speed, '-pix_fmt', 'yuv420p', ...extra], frames);
}

/** VP9 in WebM, by ffmpeg's libvpx. */
export function makeVp9(dir: string, name = 'vp9-320x240.webm'): string {
  return ffmpegTestsrc(path.join(dir, name), '320x240', ['-c:v', 'libvpx-vp9', '-deadline', 'realtime']);
}

/** H.264 video with an AAC audio track in MP4: decodebin exposes an audio pad nothing links. */
export function makeAvMp4(dir: string, name = 'h264-aac.mp4'): string {
  return ffmpegLavfi(
    path.join(dir, name),
    ['testsrc=size=320x240:rate=30', 'sine=frequency=440'],
    ['-frames:v', String(FRAMES), '-t', String(FRAMES / 30), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac'],
  );
}

/** Runs ffmpeg quietly on lavfi `inputs` (filter graphs) with `args`, writing `out`; returns `out`. */
export function ffmpegLavfi(out: string, inputs: string[], args: string[]): string {
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', ...inputs.flatMap((i) => ['-f', 'lavfi', '-i', i]), ...args, out]);
  return out;
}

function ffmpegTestsrc(out: string, size: string, codec: string[], frames = FRAMES): string {
  return ffmpegLavfi(out, [`testsrc=size=${size}:rate=30`], ['-frames:v', String(frames), ...codec]);
}
