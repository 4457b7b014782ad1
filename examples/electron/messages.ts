// What travels between the three processes of the example. Plain data: structured-clonable.
import type { VideoFrameBufferInit } from 'frame-source';

/** Utility process -> renderer, one per frame; `bytes` is transferred, not copied again. */
export interface FrameMessage {
  type: 'frame';
  sequence: number;
  init: VideoFrameBufferInit;
  bytes: ArrayBuffer;
}

/** Renderer -> utility process: the frame was drawn, send the next one. */
export interface AckMessage {
  type: 'ack';
  sequence: number;
}

/** Utility process -> renderer: the source failed or ended. */
export interface EndMessage {
  type: 'end';
  reason: string;
  code?: string;
}
