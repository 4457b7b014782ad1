// Test media made at test time with GStreamer and ffmpeg: nothing is checked in.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

export const FRAMES = 20;

/** VP8 in WebM at an odd size, by GStreamer. */
export function makeWebm(dir: string, name = 'vp8-1278x719.webm'): string {
  const out = path.join(dir, name);
  execFileSync('gst-launch-1.0', [
    '-q',
    'videotestsrc',
    `num-buffers=${FRAMES}`,
    'pattern=ball',
    '!',
    'video/x-raw,width=1278,height=719,framerate=30/1',
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

/** 4:2:0 H.264 or H.265 (MP4), or VP9 (WebM), at any size, by ffmpeg; `extra` adds encoder options. */
export function makeEncoded(
  dir: string,
  name: string,
  size: string,
  codec: 'libx264' | 'libx265' | 'libvpx-vp9',
  extra: string[] = [],
  frames = FRAMES,
): string {
  const speed = codec === 'libvpx-vp9' ? ['-deadline', 'realtime'] : ['-preset', 'veryfast'];
  return ffmpegTestsrc(path.join(dir, name), size, ['-c:v', codec, ...speed, '-pix_fmt', 'yuv420p', ...extra], frames);
}

/** VP9 in WebM, by ffmpeg's libvpx. */
export function makeVp9(dir: string, name = 'vp9-320x240.webm'): string {
  return ffmpegTestsrc(path.join(dir, name), '320x240', ['-c:v', 'libvpx-vp9', '-deadline', 'realtime']);
}

/** H.264 video with an AAC audio track in MP4: decodebin exposes an audio pad nothing links. */
export function makeAvMp4(dir: string, name = 'h264-aac.mp4'): string {
  const out = path.join(dir, name);
  execFileSync('ffmpeg', [
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=320x240:rate=30',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440',
    '-frames:v',
    String(FRAMES),
    '-t',
    String(FRAMES / 30),
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    out,
  ]);
  return out;
}

function ffmpegTestsrc(out: string, size: string, codec: string[], frames = FRAMES): string {
  execFileSync('ffmpeg', [
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc=size=${size}:rate=30`,
    '-frames:v',
    String(frames),
    ...codec,
    out,
  ]);
  return out;
}
