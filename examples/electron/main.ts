// Electron's main process: the window, the app:// protocol the page is served from, and the
// utility process that holds frame-source. Main never loads the addon: a stalled or crashed
// pipeline must not freeze the UI thread.
import { app, BrowserWindow, MessageChannelMain, net, protocol, utilityProcess } from 'electron';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

// A standard, secure scheme: the page gets a real origin (secure context: WebCodecs works).
protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

const PAGE_DIR = path.join(__dirname, 'page'); // index.html and the bundled renderer.js

function serveApp(): void {
  protocol.handle('app', async (request) => {
    const file = path.join(PAGE_DIR, decodeURIComponent(new URL(request.url).pathname));
    if (!file.startsWith(PAGE_DIR + path.sep)) return new Response('not found', { status: 404 });
    const response = await net.fetch(pathToFileURL(file).href);
    // Cross-origin isolation: the page may then use SharedArrayBuffer (e.g. with workers of its own).
    const headers = new Headers(response.headers);
    headers.set('Cross-Origin-Opener-Policy', 'same-origin');
    headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
    headers.set('Content-Security-Policy', "default-src 'self'; script-src 'self'");
    return new Response(response.body, { status: response.status, headers });
  });
}

async function createWindow(): Promise<void> {
  const win = new BrowserWindow({
    width: 1320,
    height: 800,
    webPreferences: {
      // Electron's defaults, spelled out: the page has no Node and no direct Electron access.
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      preload: path.join(__dirname, 'preload.js'),
    },
  });

  // frame-source runs here, in its own process (see frames-utility.ts for why).
  const frames = utilityProcess.fork(path.join(__dirname, 'frames-utility.js'), [], { serviceName: 'frame-source' });
  const { port1, port2 } = new MessageChannelMain();
  frames.postMessage(null, [port1]);
  frames.on('exit', (code) => {
    if (code !== 0 && !win.isDestroyed()) win.setTitle(`frame-source stopped (exit ${code})`);
  });
  win.on('closed', () => frames.postMessage('stop'));

  await win.loadURL('app://frame-source/index.html');
  win.webContents.postMessage('frames-port', null, [port2]);
}

void app.whenReady().then(() => {
  serveApp();
  return createWindow();
});
app.on('window-all-closed', () => app.quit());
