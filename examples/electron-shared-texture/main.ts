// Electron main process: frames of the dmabuf backend go to the renderer as GPU textures, never
// through CPU memory. The addon lives here because sharedTexture.importSharedTexture() is a
// main-process API (Electron >= 40); the renderer gets each frame as a VideoFrame it can draw.
//
// Needs Linux with /dev/dma_heap/system or /dev/udmabuf (or a hardware decoder that outputs
// DMA-BUF): check `await FrameSource.backends()`. Run: npx tsc -p . && npx electron dist/main.js
import * as path from 'node:path';
import { app, BrowserWindow, sharedTexture } from 'electron';
import { FrameSource } from 'frame-source';

async function pump(win: BrowserWindow, source: FrameSource): Promise<void> {
  for await (const frame of source) {
    // Held past the loop's next step: Electron reads the dma-buf until every reference to the
    // imported texture is released, and only then may GStreamer reuse its memory.
    frame.keep();
    const imported = sharedTexture.importSharedTexture({
      textureInfo: frame.toSharedTextureInfo(),
      allReferencesReleased: () => frame.release(),
    });
    await sharedTexture.sendSharedTexture({ frame: win.webContents.mainFrame, importedSharedTexture: imported });
    imported.release(); // the renderer holds its own reference while it draws
  }
}

void app.whenReady().then(async () => {
  const win = new BrowserWindow({
    width: 1280,
    height: 760,
    // Electron's defaults, spelled out: the renderer gets no Node, and the preload is isolated.
    webPreferences: { preload: path.join(__dirname, 'preload.js'), contextIsolation: true, nodeIntegration: false, sandbox: true },
  });
  await win.loadFile(path.join(__dirname, '..', 'index.html'));
  const backends = await FrameSource.backends();
  const dmabuf = backends.find((b) => b.name === 'dmabuf')!;
  if (!dmabuf.available) {
    console.error(`no DMA-BUF here: ${dmabuf.reason}`);
    app.quit();
    return;
  }
  const uri = process.argv[2];
  const source = new FrameSource(
    uri
      ? { uri, decoder: 'hardware', backend: 'dmabuf', format: 'NV12' }
      : { test: { pattern: 'ball', width: 1280, height: 720, live: true }, backend: 'dmabuf', format: 'NV12' },
  );
  win.on('closed', () => void source.close());
  await pump(win, source);
});
