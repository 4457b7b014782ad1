// What crosses into other APIs: WebCodecs' VideoFrameBufferInit (colour space included), the error
// union, and the promise that leaving a `for await` loop, even by a rejection, closes the source.
import * as path from 'node:path';
import {
  FrameSource,
  FrameSourceError,
  MissingElementError,
  OptionRangeError,
  OptionTypeError,
  PositionRangeError,
  isFrameSourceError,
  type AnyFrameSourceError,
} from '../lib/index';
import { colorSpaceFromColorimetry, yuvToRgbForColorimetry } from '../web/colorimetry';
import { planesOf, type FrameInit } from '../web/frame-init';
import type { Frame } from '../lib/index';
import { ROOT } from './helpers';
import { killChildren, runNode } from './run-node';

afterEach(killChildren);

async function firstInit(caps: string): Promise<ReturnType<Frame['toVideoFrameInit']>> {
  const source = new FrameSource({ pipeline: `videotestsrc num-buffers=1 ! video/x-raw,${caps}` });
  try {
    const frame = (await source.read())!;
    const init = frame.toVideoFrameInit();
    frame.release();
    return init;
  } finally {
    await source.close();
  }
}

describe('toVideoFrameInit() carries the colour space', () => {
  it.each([
    ['format=I420,width=64,height=48', { matrix: 'smpte170m', primaries: 'smpte170m', transfer: 'smpte170m', fullRange: false }],
    ['format=NV12,width=1278,height=719', { matrix: 'bt709', primaries: 'bt709', transfer: 'bt709', fullRange: false }],
    [
      'format=I420,width=64,height=48,colorimetry=1:4:16:4',
      { matrix: 'smpte170m', primaries: 'smpte170m', transfer: 'smpte170m', fullRange: true },
    ],
    ['format=RGBA,width=64,height=48', { matrix: 'rgb', primaries: 'bt709', transfer: 'iec61966-2-1', fullRange: true }],
  ])('%s', async (caps, colorSpace) => {
    const init = await firstInit(caps);
    expect(init.colorSpace).toEqual(colorSpace);
    // Plain data: what goes over postMessage, IPC or JSON comes out the same.
    expect(JSON.parse(JSON.stringify(init))).toEqual(init);
  });

  it('leaves out what WebCodecs cannot name, and the CPU conversion still knows BT.2020', () => {
    expect(colorSpaceFromColorimetry('bt2020')).toEqual({ transfer: 'bt709', fullRange: false });
    expect(colorSpaceFromColorimetry('')).toEqual({});
    expect(yuvToRgbForColorimetry('bt2020', 1080).matrix).toBe('bt2020');
    // Without colorimetry, GStreamer's own default for the height.
    expect(yuvToRgbForColorimetry('', 576).matrix).toBe('bt601');
    expect(yuvToRgbForColorimetry('', 577).matrix).toBe('bt709');
  });
});

describe('frame-source/web refuses a description it cannot draw (WebGL would draw nothing, silently)', () => {
  const rgba = { format: 'RGBA', codedWidth: 4, codedHeight: 4 };
  it.each<[string, Partial<FrameInit>]>([
    ['a negative offset', { layout: [{ offset: -16, stride: 16 }] }],
    ['a fractional offset', { layout: [{ offset: 0.5, stride: 16 }] }],
    ['a NaN stride', { layout: [{ offset: 0, stride: NaN }] }],
    ['a NaN width', { codedWidth: NaN }],
    ['a negative width', { codedWidth: -4 }],
    ['a zero height', { codedHeight: 0 }],
    ['a fractional width', { codedWidth: 3.5 }],
    ['a NaN display width', { displayWidth: NaN }],
  ])('%s is a RangeError naming it', (_, change) => {
    expect(() => planesOf({ ...rgba, ...change }, 1024)).toThrow(RangeError);
  });
  it('a name from Object.prototype is an unknown format, not a TypeError', () => {
    expect(() => planesOf({ ...rgba, format: 'toString' }, 1024)).toThrow(
      /cannot draw toString frames; ask for one of RGBA, RGBX, BGRA, BGRX, GRAY8, I420, NV12$/,
    );
  });
  it('a valid description still passes', () => {
    expect(planesOf({ ...rgba, layout: [{ offset: 16, stride: 20 }] }, 16 + 20 * 3 + 16)).toHaveLength(1);
  });
});

describe('one error union, discriminated by code', () => {
  it('option errors are FrameSourceErrors too, and keep being TypeError / RangeError', () => {
    const caught: unknown[] = [];
    for (const bad of [{ ringSize: 'x' }, { ringSize: 1 }]) {
      try {
        new FrameSource(bad as never);
      } catch (err) {
        caught.push(err);
      }
    }
    const [type, range] = caught;
    expect(type).toBeInstanceOf(OptionTypeError);
    expect(type).toBeInstanceOf(TypeError);
    expect(type).toBeInstanceOf(FrameSourceError);
    expect(range).toBeInstanceOf(OptionRangeError);
    expect(range).toBeInstanceOf(RangeError);
    expect(range).toBeInstanceOf(FrameSourceError);
    expect(isFrameSourceError(type)).toBe(true);
    // Subclasses keep the ordinary instanceof.
    expect(type).not.toBeInstanceOf(MissingElementError);
    expect(isFrameSourceError(new Error('x'))).toBe(false);
  });

  it('playback errors (PositionRangeError: seek, rate, step) are FrameSourceErrors too, and keep being RangeError', async () => {
    const source = new FrameSource({ test: { width: 32, height: 32 } });
    try {
      const caught: unknown[] = [];
      await source.seek(-1).catch((err: unknown) => caught.push(err));
      try {
        source.rate = 0;
      } catch (err) {
        caught.push(err);
      }
      source.pause();
      await source.step(0).catch((err: unknown) => caught.push(err));
      expect(caught).toHaveLength(3);
      for (const err of caught) {
        expect(err).toBeInstanceOf(PositionRangeError);
        expect(err).toBeInstanceOf(RangeError);
        expect(err).toBeInstanceOf(FrameSourceError);
        expect(isFrameSourceError(err)).toBe(true);
        expect(err).toMatchObject({ code: 'ERR_OUT_OF_RANGE', argument: expect.stringMatching(/^(position|rate|frames)$/) });
      }
    } finally {
      await source.close();
    }
  });

  it('narrows in a switch (type-checked by this file) and at run time', () => {
    const describe = (e: AnyFrameSourceError): string => {
      switch (e.code) {
        case 'ERR_MISSING_ELEMENT':
          return `missing ${e.elements.join(',')} from ${e.packages.join(',')}`;
        case 'ERR_INVALID_OPTION':
          return `option ${e.option}`;
        default:
          return e.code;
      }
    };
    let err: unknown;
    try {
      new FrameSource({ pipeline: 'videotestsrc ! nosuchelement-abc' });
    } catch (e) {
      err = e;
    }
    if (!isFrameSourceError(err)) throw new Error('expected a FrameSourceError');
    expect(describe(err)).toBe('missing nosuchelement-abc from ');
  });
});

it('a for-await loop that rejects (ERR_RING_EXHAUSTED) closes the source, and the process exits', async () => {
  const script = `
    const { FrameSource } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.cjs'))});
    (async () => {
      const source = new FrameSource({ pipeline: 'videotestsrc ! video/x-raw,format=RGBA,width=32,height=32', ringSize: 3 });
      let code = null;
      try {
        for await (const frame of source) frame.keep();
      } catch (err) {
        code = err.code;
      }
      await new Promise((r) => setTimeout(r, 50));
      console.log(JSON.stringify({ code, state: source.state }));
      // Nothing else: the process must now exit by itself.
    })();`;
  const run = await runNode(['-e', script]);
  expect(run.status).toBe(0);
  expect(run.reports).toEqual([{ code: 'ERR_RING_EXHAUSTED', state: 'closed' }]);
}, 20000);
