// Preload for the window (contextIsolation on, sandboxed): it exposes nothing of Node or
// Electron to the page. Its one job is to hand the page the MessagePort that main.ts sends, which
// is how a sandboxed page receives a port (contextBridge cannot carry one).
import { ipcRenderer } from 'electron';

ipcRenderer.once('frames-port', (event) => {
  // Same-origin only: the page runs at app://frame-source.
  window.postMessage('frames-port', window.location.origin, event.ports);
});
