// The page (bundle it with frame-source/web, e.g. `esbuild renderer.ts --bundle --format=esm`).
// No Node, no Electron API: it gets frames over a MessagePort and draws them with WebGL2.
import { WebGLFrameRenderer } from 'frame-source/web';
import type { AckMessage, EndMessage, FrameMessage } from './messages';

const canvas = document.querySelector('canvas')!;
const status = document.querySelector('#status')!;
const renderer = new WebGLFrameRenderer(canvas);

window.addEventListener('message', (event) => {
  if (event.source !== window || event.data !== 'frames-port') return;
  const [port] = event.ports;
  if (!port) return;
  port.onmessage = (e: MessageEvent<FrameMessage | EndMessage>) => {
    const msg = e.data;
    if (msg.type === 'end') {
      status.textContent = `ended: ${msg.reason}${msg.code ? ` (${msg.code})` : ''}`;
      return;
    }
    renderer.draw(msg.bytes, msg.init);
    const ack: AckMessage = { type: 'ack', sequence: msg.sequence };
    port.postMessage(ack);
    status.textContent = `frame ${msg.sequence} ${msg.init.codedWidth}x${msg.init.codedHeight} ${msg.init.format}`;
  };
});
