// `frame-source --serve`: an HTTP page that shows the source live. Frames go over a WebSocket,
// one in flight per page: the next is sent only after the page says it drew the last one, and
// frames that arrive meanwhile are skipped for that page. A slow or stalled page costs frames,
// never memory. For a source with a duration (a file) each frame's header carries position and
// duration, and a page may ask to seek. Uses frame-source's public API only, as an application would.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { FrameSource, type Frame } from '../index';
import type { CliOptions, ServeOptions } from './arguments';
import { UsageError } from './arguments';
import { PAGE } from './serve-page';
import { RENDERER_FORMATS } from '../formats';
import { Snapshots } from './snapshot';
import { Stopper } from './stop';

const MAX_PAGES = 16;

interface Page {
  socket: WebSocket;
  /** The sequence sent and not yet acknowledged, or null. */
  inFlight: number | null;
  sentAt: number;
  latencyMs: number | null;
  sent: number;
  skipped: number;
}

// [u32 LE header length][header JSON][frame bytes]: one message, one frame.
function encode(frame: Frame, page: Page, position: number | null, duration: number | null): Buffer {
  const init = frame.toFrameInit(); // serve() takes only formats the page's renderer draws
  const header = Buffer.from(
    JSON.stringify({ init, sequence: frame.sequence, latencyMs: page.latencyMs, skipped: page.skipped, position, duration }),
  );
  const out = Buffer.allocUnsafe(4 + header.length + frame.data.byteLength);
  out.writeUInt32LE(header.length, 0);
  header.copy(out, 4);
  out.set(frame.data, 4 + header.length);
  return out;
}

function webModule(): Buffer {
  // dist/cli.cjs and dist/web.mjs sit side by side.
  return readFileSync(path.join(__dirname, 'web.mjs'));
}

export async function serve(opts: CliOptions, where: ServeOptions): Promise<number> {
  const err = process.stderr;
  const source = new FrameSource(opts.sourceOptions);
  const pages = new Set<Page>();
  let web: Buffer | null = null;
  let delivered = 0;
  let pagesServed = 0;

  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PAGE);
    } else if (url.pathname === '/web.mjs') {
      web ??= webModule();
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      res.end(web);
    } else if (url.pathname === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          delivered,
          source: source.stats,
          rssBytes: process.memoryUsage().rss,
          pages: [...pages].map((p) => ({ sent: p.sent, skipped: p.skipped, latencyMs: p.latencyMs, waiting: p.inFlight !== null })),
        }),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  // Set from a seek's landing until its target frame (marked discontinuity) comes: the frame loop
  // below drops what it read before, so no page sees a stale frame after the answer.
  let afterSeek = false;
  let landedAt: number | null = null;
  source.on('seek', ({ position }) => {
    afterSeek = true;
    landedAt = position;
  });
  // A page's seek request: the answer goes back to that page only, as { seeked } or { seekError }
  // with the error's code (ERR_NOT_SEEKABLE for a live source, ERR_SEEK_SUPERSEDED when another
  // page's seek came later, ...). The page sends its next request only after this answer.
  const seekFor = (page: Page, position: unknown, accurate: boolean): void => {
    const reply = (msg: object) => {
      if (page.socket.readyState === page.socket.OPEN) page.socket.send(JSON.stringify(msg));
    };
    source.seek(position as number, { accurate }).then(
      () => reply({ seeked: landedAt }),
      (e: Error & { code?: string }) => reply({ seekError: { code: e.code ?? 'ERR_SEEK', message: e.message } }),
    );
  };
  const wss = new WebSocketServer({ server: http, path: '/frames', maxPayload: 4096 });
  // ws re-emits the HTTP server's errors here; the listen below reports them (a port in use is a
  // usage error, exit 2). Without a listener, EADDRINUSE crashed the command as an unhandled event.
  wss.on('error', () => {});
  wss.on('connection', (socket) => {
    if (pages.size >= MAX_PAGES) {
      socket.close(1013, 'too many pages');
      return;
    }
    const page: Page = { socket, inFlight: null, sentAt: 0, latencyMs: null, sent: 0, skipped: 0 };
    pages.add(page);
    pagesServed++;
    socket.on('message', (data) => {
      let msg: { ack?: unknown; seek?: unknown; accurate?: unknown };
      try {
        const text = Array.isArray(data)
          ? Buffer.concat(data).toString()
          : Buffer.isBuffer(data)
            ? data.toString()
            : Buffer.from(new Uint8Array(data)).toString();
        msg = JSON.parse(text) as typeof msg;
      } catch {
        return;
      }
      if (msg === null || typeof msg !== 'object') return;
      if (msg.seek !== undefined) {
        seekFor(page, msg.seek, msg.accurate === true);
        return;
      }
      if (msg.ack === page.inFlight) {
        page.latencyMs = performance.now() - page.sentAt;
        page.inFlight = null;
      }
    });
    socket.on('close', () => pages.delete(page));
    socket.on('error', () => pages.delete(page));
  });

  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          e.code === 'EADDRINUSE'
            ? new UsageError(`--serve: port ${where.port} on ${where.host} is in use; pick another (0 picks a free one)`)
            : e,
        ),
      );
      http.listen(where.port, where.host, resolve);
    });
  } catch (e) {
    // The source is already open and would keep the process alive: close it before reporting.
    wss.close();
    await source.close();
    throw e;
  }
  const address = http.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}/`;
  // On stderr even with --json: stdout holds the one summary object, and the address is in it too.
  err.write(`serving ${url} (Ctrl-C to stop)\n`);

  const stopper = new Stopper(source, opts.durationMs);
  const snapshots = new Snapshots(opts.snapshot, opts.snapshotEvery);

  // A file or a non-live test source would run as fast as it decodes: show it at its own pace.
  let clock: number | null = null;
  let failure: Error | null = null;
  try {
    for await (const frame of source) {
      if (!RENDERER_FORMATS.has(frame.format)) {
        throw new UsageError(`--serve draws ${[...RENDERER_FORMATS].join(', ')}, not ${frame.videoFormat.gstFormat}: add --format RGBA`);
      }
      // After a seek, frames read before it are not shown, and the pace starts again from the target.
      if (afterSeek) {
        if (!frame.discontinuity) continue;
        afterSeek = false;
        clock = null;
      }
      if (!source.stats.live && frame.timestamp !== null) {
        clock ??= performance.now() - frame.timestamp / 1000;
        const wait = clock + frame.timestamp / 1000 - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        if (afterSeek) continue;
      }
      snapshots.take(frame, delivered);
      delivered++;
      for (const page of pages) {
        // One frame in flight per page, and nothing queued in its socket.
        if (page.inFlight !== null || page.socket.bufferedAmount > 0) {
          page.skipped++;
          continue;
        }
        page.inFlight = frame.sequence;
        page.sentAt = performance.now();
        page.sent++;
        page.socket.send(encode(frame, page, source.position, source.duration));
      }
      if (delivered >= opts.frames) {
        stopper.reason = 'frames';
        break;
      }
    }
  } catch (e) {
    failure = e instanceof Error ? e : new Error(String(e));
    stopper.reason = 'error';
  } finally {
    stopper.dispose();
    await source.close();
    for (const page of pages) {
      if (page.socket.readyState === page.socket.OPEN) page.socket.send(JSON.stringify({ end: stopper.reason }));
      page.socket.close(1001);
    }
    for (const client of wss.clients) client.terminate();
    wss.close();
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  }
  if (failure) throw failure;
  const summary = { served: url, stoppedBy: stopper.reason, frames: delivered, pagesServed, snapshots: snapshots.files };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    process.stdout.write(`${delivered} frames served at ${url} to ${pagesServed} page(s), stopped by ${stopper.reason}\n`);
    for (const file of snapshots.files) process.stdout.write(`snapshot: ${file}\n`);
  }
  return 0;
}
