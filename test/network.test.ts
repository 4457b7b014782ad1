// Network sources against servers the test starts on 127.0.0.1: HTTP (Node's http) and RTSP
// (gst-rtsp-server). A server killed mid-stream surfaces as ERR_CONNECTION, or is reconnected to.
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { FrameSource } from '../lib/index';
import { tempDir, within } from './helpers';
import { FRAMES, ffmpegLavfi, makeWebm } from './media';

const RTSP_SERVER = path.join(__dirname, 'fixtures', 'rtsp-server.py');
let dir: string;
let webm: string;

beforeAll(() => {
  dir = tempDir();
  webm = makeWebm(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function startRtsp(port = 0): Promise<{ server: ChildProcess; port: number }> {
  // Debian's python3 (PyGObject lives there), not whatever python3 is first on PATH.
  const server = spawn('/usr/bin/python3', [RTSP_SERVER, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    server.once('error', reject);
    server.once('exit', (code) => reject(new Error(`RTSP server exited (${code}) before it was ready: ${out}`)));
    server.stdout.on('data', (d: Buffer) => {
      out += String(d);
      const m = /ready (\d+)/.exec(out);
      if (m) resolve({ server, port: Number(m[1]) });
    });
  });
}

function stop(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.once('exit', () => resolve());
    server.kill('SIGKILL');
  });
}

it('reads a file served over HTTP', async () => {
  const size = statSync(webm).size;
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'video/webm', 'Content-Length': size });
    createReadStream(webm).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const source = new FrameSource({ uri: `http://127.0.0.1:${port}/video.webm`, format: 'RGBA', width: 320, height: 180 });
    let n = 0;
    for await (const frame of source) {
      expect([frame.width, frame.height]).toEqual([320, 180]);
      n++;
    }
    expect(n).toBe(FRAMES);
    expect(source.stats.zeroCopyFrames).toBe(FRAMES);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

it('an HTTP server that drops the connection mid-file (no Range support to resume) is ERR_CONNECTION', async () => {
  // souphttpsrc asks again from where it stopped and is refused: that was ERR_PIPELINE ("Server
  // does not support seeking"), though the connection was lost.
  const whole = readFileSync(webm);
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'video/webm', 'Content-Length': whole.length });
    res.write(whole.subarray(0, Math.floor(whole.length / 3)), () => res.socket?.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const source = new FrameSource({ uri: `http://127.0.0.1:${port}/video.webm` });
    await expect(
      within(
        20000,
        (async () => {
          for await (const _frame of source);
        })(),
        'the stream',
      ),
    ).rejects.toMatchObject({ code: 'ERR_CONNECTION', message: expect.stringContaining('could not read') });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

it("a file over HTTP with no video stream is ERR_UNSUPPORTED_MEDIA, and the message does not repeat the URI's password", async () => {
  const audio = readFileSync(ffmpegLavfi(path.join(dir, 'audio-only.m4a'), ['sine=frequency=440'], ['-t', '0.5', '-c:a', 'aac']));
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'audio/mp4', 'Content-Length': audio.length });
    res.end(audio);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const source = new FrameSource({ uri: `http://viewer:s3cret@127.0.0.1:${port}/a.m4a` });
    const err = await within(
      20000,
      source.read().catch((e: Error) => e),
      'read()',
    );
    expect(err).toMatchObject({
      code: 'ERR_UNSUPPORTED_MEDIA',
      message: expect.stringContaining(`http://viewer:***@127.0.0.1:${port}/a.m4a has no video stream`),
    });
    expect((err as Error).message).not.toContain('s3cret');
    await source.close();
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

it('a reconnect goes on counting sequence numbers and marks its first frame as a discontinuity', async () => {
  // The sequence restarted at 0 after a reconnect (a "gap" of minus the frames so far) and the
  // jump was not marked.
  const whole = readFileSync(webm);
  let requests = 0;
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'video/webm', 'Content-Length': whole.length });
    if (++requests > 1) return void res.end(whole);
    // Cut after the reader has had time to take the first half's frames.
    res.write(whole.subarray(0, Math.floor(whole.length / 2)), () => setTimeout(() => res.socket?.destroy(), 500));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const source = new FrameSource({ uri: `http://127.0.0.1:${port}/video.webm`, reconnect: { attempts: 1, delay: 50 } });
    let reconnects = 0;
    source.on('reconnect', () => reconnects++);
    const frames: Array<{ sequence: number; discontinuity: boolean; timestamp: number | null }> = [];
    await within(
      20000,
      (async () => {
        for await (const frame of source) {
          frames.push({ sequence: frame.sequence, discontinuity: frame.discontinuity, timestamp: frame.timestamp });
        }
      })(),
      'the stream',
    );
    expect(reconnects).toBe(1);
    // The new connection starts the file again: its first frame is where the timestamps go back.
    const reconnectedAfter = frames.findIndex((f, i) => i > 0 && f.timestamp! < frames[i - 1]!.timestamp!);
    expect(reconnectedAfter).toBeGreaterThan(0);
    expect(frames.map((f) => f.sequence)).toEqual([...frames.keys()]);
    expect(frames[reconnectedAfter]!.discontinuity).toBe(true);
    expect(frames.filter((f) => f.discontinuity)).toHaveLength(1);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

describe('RTSP', () => {
  it('streams from an RTSP server, live and zero-copy after conversion', async () => {
    const { server, port } = await startRtsp();
    try {
      const source = new FrameSource({ uri: `rtspt://127.0.0.1:${port}/test`, latency: 50, format: 'RGBA' });
      const formats: string[] = [];
      source.on('format', (f) => formats.push(`${f.decoder} ${f.width}x${f.height}`));
      let n = 0;
      for await (const frame of source) {
        expect(frame.format).toBe('RGBA');
        if (++n === 10) break;
      }
      expect(formats).toEqual(['jpegdec 320x240']);
      expect(source.stats.live).toBe(true);
      expect(source.stats.zeroCopyFrames).toBeGreaterThanOrEqual(10);
    } finally {
      await stop(server);
    }
  });

  it('rejects with ERR_CONNECTION when the server dies mid-stream', async () => {
    const { server, port } = await startRtsp();
    try {
      const source = new FrameSource({ uri: `rtspt://127.0.0.1:${port}/test` });
      let n = 0;
      const run = (async () => {
        for await (const _frame of source) if (++n === 5) await stop(server);
      })();
      await expect(within(20000, run, 'the stream')).rejects.toMatchObject({ code: 'ERR_CONNECTION', name: 'PipelineError' });
      expect(n).toBeGreaterThanOrEqual(5);
      expect(source.state).not.toBe('open');
    } finally {
      await stop(server);
    }
  });

  it('reconnects when asked, emitting reconnect, and the iterator goes on', async () => {
    const { server, port } = await startRtsp();
    const servers = [server];
    try {
      const source = new FrameSource({ uri: `rtspt://127.0.0.1:${port}/test`, reconnect: { delay: 200, attempts: 50 } });
      const reconnects: Array<{ attempt: number; code: string }> = [];
      source.on('reconnect', ({ attempt, error }) => {
        reconnects.push({ attempt, code: error.code });
        // Bring the server back after the first failed attempt.
        if (attempt === 2) void startRtsp(port).then((s) => servers.push(s.server));
      });
      let n = 0;
      await within(
        30000,
        (async () => {
          for await (const _frame of source) {
            n++;
            if (n === 5) await stop(servers[0]!);
            if (n === 15) break;
          }
        })(),
        'the stream across a reconnect',
      );
      expect(n).toBe(15);
      expect(reconnects.length).toBeGreaterThanOrEqual(2);
      expect(reconnects[0]).toEqual({ attempt: 1, code: 'ERR_CONNECTION' });
      expect(source.stats.reconnects).toBe(reconnects.length);
      expect(source.stats.deliveredFrames).toBe(15);
      expect(source.stats.frames).toBeGreaterThanOrEqual(15);
    } finally {
      for (const s of servers) await stop(s);
    }
  });
});
