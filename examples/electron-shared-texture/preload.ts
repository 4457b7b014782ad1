// Renderer preload (isolated world, sandboxed): receives each shared texture from the main process
// and draws its VideoFrame on the page's canvas, then releases it, which lets the main process
// release the frame back to GStreamer.
import { sharedTexture } from 'electron';

window.addEventListener('DOMContentLoaded', () => {
  const canvas = document.querySelector('canvas')!;
  const ctx = canvas.getContext('2d')!;
  sharedTexture.setSharedTextureReceiver(({ importedSharedTexture }) => {
    const videoFrame = importedSharedTexture.getVideoFrame();
    canvas.width = videoFrame.displayWidth;
    canvas.height = videoFrame.displayHeight;
    ctx.drawImage(videoFrame, 0, 0);
    videoFrame.close();
    importedSharedTexture.release();
    return Promise.resolve();
  });
});
