// Compiled, never run, by test/types.test.ts: the README's lines must type-check against
// TypeScript's DOM library and frame-source's published declarations.
import { FrameSource, Frame, isFrameSourceError, type AnyFrameSourceError, type VideoFrameBufferInit as FsInit } from 'frame-source';
import { WebGLFrameRenderer, drawVideoFrame, hasVideoFrame, type FrameInit } from 'frame-source/web';

export async function draw(ctx: CanvasRenderingContext2D): Promise<void> {
  const source = new FrameSource({ test: true, format: 'I420' });
  for await (const frame of source) {
    // The README's own line: TS2769 before VideoFrameBufferInit.format was WebCodecs' format type.
    const vf = new VideoFrame(frame.data, frame.toVideoFrameInit());
    const init: VideoFrameBufferInit = frame.toVideoFrameInit();
    const cs: VideoColorSpaceInit | undefined = init.colorSpace;
    void cs;
    ctx.drawImage(vf, 0, 0);
    vf.close();
    // Not public: frames are made by FrameSource, their slot id is internal.
    // @ts-expect-error Frame has no public constructor
    new Frame();
    // @ts-expect-error id is internal
    void frame.id;
  }
}

export function explain(err: unknown): string {
  if (!isFrameSourceError(err)) return String(err);
  const e: AnyFrameSourceError = err;
  switch (e.code) {
    case 'ERR_MISSING_ELEMENT':
      return `install ${e.packages.join(' ')} for ${e.elements.join(', ')}`;
    case 'ERR_INVALID_OPTION':
      return `fix option ${e.option}`;
    case 'ERR_RING_EXHAUSTED':
      return e.message;
    default:
      return e.code;
  }
}

export function listen(source: FrameSource): void {
  source.on('error', (err) => {
    // The 'error' event carries the union too.
    if (err.code === 'ERR_MISSING_ELEMENT') console.log(err.elements);
  });
}

// The browser module takes what toVideoFrameInit() gives, from any thread or process.
export function show(canvas: HTMLCanvasElement, bytes: Uint8Array, init: FsInit): void {
  const asWeb: FrameInit = init;
  new WebGLFrameRenderer(canvas).draw(bytes, asWeb);
  const ctx = canvas.getContext('2d');
  if (ctx && hasVideoFrame()) drawVideoFrame(ctx, new Uint8Array(new SharedArrayBuffer(bytes.length)), init);
}

// A preference list kept in a constant (`as const`) is a valid `backend`: TS2322 before, when the
// option took only a mutable array.
const preferences = ['dmabuf', 'cpu'] as const;
export const withPreferences = (): FrameSource => new FrameSource({ backend: preferences });
