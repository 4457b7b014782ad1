// Runs in an Electron utility process (utilityProcess.fork in main.ts): the only process that
// loads frame-source's native addon. GStreamer's threads, decoders and any crash stay here, away
// from the window (main) and from the page (renderer, sandboxed, no Node). Frames reach the page
// over a MessagePort: one copy per frame (processes share no SharedArrayBuffer), one in flight.
import type { MessagePortMain } from 'electron';
import { FrameSource, isFrameSourceError } from 'frame-source';
import type { AckMessage, EndMessage, FrameMessage } from './messages';

function run(port: MessagePortMain): void {
  const source = new FrameSource({ test: { pattern: 'ball', live: true }, format: 'I420', width: 1280, height: 720 });
  let waitingFor: number | null = null;
  port.on('message', (event) => {
    const msg = event.data as AckMessage;
    if (msg.type === 'ack' && msg.sequence === waitingFor) waitingFor = null;
  });
  port.start();

  void (async () => {
    try {
      for await (const frame of source) {
        // The page is still drawing the last frame: skip this one (a live source drops anyway).
        if (waitingFor !== null) continue;
        const bytes = frame.data.slice().buffer; // the copy that crosses the process boundary
        const message: FrameMessage = { type: 'frame', sequence: frame.sequence, init: frame.toVideoFrameInit(), bytes };
        waitingFor = frame.sequence;
        port.postMessage(message, [bytes] as never);
      }
      port.postMessage({ type: 'end', reason: 'end of stream' } satisfies EndMessage);
    } catch (err) {
      const end: EndMessage = { type: 'end', reason: String((err as Error).message) };
      if (isFrameSourceError(err)) end.code = err.code;
      port.postMessage(end);
    }
  })();

  process.parentPort.once('message', (event) => {
    if (event.data === 'stop') void source.close();
  });
}

// main.ts sends the port once, right after forking.
process.parentPort.once('message', (event) => {
  const [port] = event.ports;
  if (port) run(port);
});
