// Structured sources and output shaping: test patterns, files (by URI), cameras; formats, sizes,
// rates; loop; and every bad input as a typed error.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FrameSource, OptionRangeError, OptionTypeError, OUTPUT_FORMATS, type Frame } from '../lib/index';
import { collect, gstDump, referenceFrames, tempDir } from './helpers';
import { ffmpegLavfi, FRAMES, makeAvMp4, makeMp4, makeVp9, makeWebm } from './media';

let dir: string;
let webm: string;
let mp4: string;
let vp9: string;
beforeAll(() => {
  dir = tempDir();
  webm = makeWebm(dir);
  mp4 = makeMp4(dir);
  vp9 = makeVp9(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const uri = (file: string): string => pathToFileURL(file).href;

describe('test patterns in every output format', () => {
  // BT.601 limited range (what videoconvert produces for 8-bit YUV): red is Y 81, U 90, V 240;
  // blue is Y 41, U 240, V 110; white is Y 235 with neutral chroma.
  const EXPECTED: Record<string, Record<string, number[][]>> = {
    red: {
      RGBA: [[255, 0, 0, 255]],
      BGRA: [[0, 0, 255, 255]],
      RGBX: [[255, 0, 0]],
      BGRX: [[0, 0, 255]],
      I420: [[81], [90], [240]],
      NV12: [[81], [90, 240]],
      GRAY8: [[81]],
    },
    blue: {
      RGBA: [[0, 0, 255, 255]],
      BGRA: [[255, 0, 0, 255]],
      RGBX: [[0, 0, 255]],
      BGRX: [[255, 0, 0]],
      I420: [[41], [240], [110]],
      NV12: [[41], [240, 110]],
      GRAY8: [[41]],
    },
    white: {
      RGBA: [[255, 255, 255, 255]],
      BGRA: [[255, 255, 255, 255]],
      RGBX: [[255, 255, 255]],
      BGRX: [[255, 255, 255]],
      I420: [[235], [128], [128]],
      NV12: [[235], [128, 128]],
      GRAY8: [[235]],
    },
  };
  it('covers every output format', () => expect(Object.keys(EXPECTED.red!).sort()).toEqual([...OUTPUT_FORMATS].sort()));

  describe.each(Object.keys(EXPECTED))('%s', (pattern) => {
    it.each([...OUTPUT_FORMATS])('%s has the known value in every pixel of every plane', async (format) => {
      const source = new FrameSource({ test: { pattern: pattern as 'red', width: 66, height: 50 }, format });
      try {
        await checkFrame(source, pattern, format);
      } finally {
        await source.close();
      }
    });

    async function checkFrame(source: FrameSource, pattern: string, format: string): Promise<void> {
      const frame = (await source.read())!;
      expect(frame.format).toBe(format);
      expect([frame.width, frame.height]).toEqual([66, 50]);
      const expected = EXPECTED[pattern]![format]!;
      expect(frame.layout).toHaveLength(expected.length);
      const planeRows = format === 'I420' || format === 'NV12' ? [50, 25, 25] : [50];
      const rowBytes: Record<string, number[]> = { I420: [66, 33, 33], NV12: [66, 66], GRAY8: [66] };
      expected.forEach((pixel, p) => {
        const { offset, stride } = frame.layout[p]!;
        const bytes = rowBytes[format]?.[p] ?? 66 * 4;
        const step = format.startsWith('RGB') || format.startsWith('BGR') ? 4 : pixel.length;
        for (let r = 0; r < planeRows[p]!; r++) {
          for (let x = 0; x < bytes; x += step) {
            for (let c = 0; c < pixel.length; c++) expect(frame.data[offset + r * stride + x + c]).toBe(pixel[c]);
          }
        }
      });
      if (format === 'GRAY8') {
        // WebCodecs has no GRAY8; frame-source/web's WebGL renderer draws it, from toFrameInit().
        expect(() => frame.toVideoFrameInit()).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_FORMAT' }));
        expect(frame.toFrameInit()).toMatchObject({ format: 'GRAY8', codedWidth: frame.width, codedHeight: frame.height });
      } else {
        expect(frame.toVideoFrameInit().layout).toEqual(frame.layout.map((l) => ({ ...l })));
        // The same description, plus GStreamer's colorimetry for the WebGL renderer (BT.2020).
        expect(frame.toFrameInit()).toEqual({ ...frame.toVideoFrameInit(), colorimetry: frame.videoFormat.colorimetry });
      }
      expect(frame.toFrameInit().layout).toEqual(frame.layout.map((l) => ({ ...l })));
      expect(source.stats.zeroCopyFrames).toBe(source.stats.frames);
      frame.release();
    }
  });

  it('toFrameInit() refuses a format frame-source/web does not draw, which toVideoFrameInit() takes', async () => {
    const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=1 ! video/x-raw,format=Y444,width=16,height=8' });
    try {
      const frame = (await source.read())!;
      expect(frame.format).toBe('I444');
      expect(frame.toVideoFrameInit().format).toBe('I444');
      expect(() => frame.toFrameInit()).toThrow(
        expect.objectContaining({
          code: 'ERR_UNSUPPORTED_FORMAT',
          message: expect.stringMatching(/^frame-source\/web does not draw GStreamer's Y444/),
        }),
      );
      frame.release();
    } finally {
      await source.close();
    }
  });

  it('has defaults, and says what it built', async () => {
    const source = new FrameSource({ test: true });
    const frame = (await source.read())!;
    expect([frame.width, frame.height, frame.videoFormat.framerate]).toEqual([1280, 720, 30]);
    // RGBA like the default source, not videotestsrc's first choice (16-bit ABGR64_LE).
    expect(frame.format).toBe('RGBA');
    expect(frame.toVideoFrameInit().format).toBe('RGBA');
    expect(source.options.pipeline).toBe(
      'videotestsrc name=fs-src pattern=smpte is-live=false ! video/x-raw,format=RGBA,width=1280,height=720,framerate=30/1',
    );
    expect(frame.videoFormat.elements).toContain('videotestsrc');
    frame.release();
    await source.close();
  });

  it('inserts converters only when the output asks for them', () => {
    const plain = new FrameSource({ test: { width: 64, height: 48 } });
    expect(plain.options.pipeline).not.toMatch(/videoconvert|videoscale|videorate/);
    const shaped = new FrameSource({ test: { width: 64, height: 48 }, format: 'NV12', width: 32, framerate: 29.97 });
    expect(shaped.options.pipeline).toMatch(
      /! videoconvert ! videoscale ! videorate ! video\/x-raw,format=NV12,width=32,pixel-aspect-ratio=1\/1,framerate=30000\/1001$/,
    );
    return Promise.all([plain.close(), shaped.close()]);
  });

  it('keeps the aspect ratio when only one side of the output is given', async () => {
    const source = new FrameSource({ test: { width: 640, height: 360 }, width: 320 });
    const frame = (await source.read())!;
    expect([frame.width, frame.height]).toEqual([320, 180]);
    frame.release();
    await source.close();
  });

  it('makes a live test source drop by default', async () => {
    const source = new FrameSource({ test: { width: 64, height: 48, framerate: 200, live: true } });
    let n = 0;
    for await (const _f of source) {
      if (++n === 3) break;
      await new Promise((r) => setTimeout(r, 60));
    }
    expect(source.stats.live).toBe(true);
    expect(source.stats.droppedFrames).toBeGreaterThan(0);
  });
});

describe('files by URI', () => {
  it('decodes VP8/WebM at an odd size to RGBA, zero-copy, matching gst-launch-1.0, and names the decoder', async () => {
    const source = new FrameSource({ uri: uri(webm), format: 'RGBA' });
    const { frames, formats } = await collect(source);
    expect(frames).toHaveLength(FRAMES);
    expect(formats).toHaveLength(1);
    expect([formats[0]!.width, formats[0]!.height]).toEqual([1278, 719]);
    expect(formats[0]!.decoder).toBe('vp8dec');
    expect(formats[0]!.elements).toEqual(expect.arrayContaining(['uridecodebin', 'matroskademux', 'vp8dec', 'videoconvert']));
    expect(source.stats.zeroCopyFrames).toBe(FRAMES);
    const reference = referenceFrames(
      gstDump(`filesrc location=${webm} ! decodebin ! videoconvert ! video/x-raw,format=RGBA`),
      formats[0]!,
    );
    frames.forEach((f, i) => expect(f.visible.equals(reference[i]!)).toBe(true));
  });

  it("decodes H.264/MP4 in the decoder's own format, and counts what had to be copied", async () => {
    const source = new FrameSource({ uri: uri(mp4) });
    const { frames, formats } = await collect(source);
    expect(frames).toHaveLength(FRAMES);
    expect(formats[0]!.decoder).toBe('avdec_h264');
    expect(formats[0]!.format).toBe('I420');
    const s = source.stats;
    expect(s.zeroCopyFrames + s.copiedFrames).toBe(FRAMES);
    // avdec_* refuses downstream pools whose max is 1 to 31; offered one with no max it copies each
    // picture into a slot itself (test/decoders.test.ts has the details): nothing is copied by us.
    expect(s.copiedFrames).toBe(0);
    expect(s.decoderFrames).toBe(FRAMES);
    expect(formats[0]!.path).toBe('decoder');
    const reference = referenceFrames(gstDump(`filesrc location=${mp4} ! decodebin`), formats[0]!);
    frames.forEach((f, i) => expect(f.visible.equals(reference[i]!)).toBe(true));
  });

  it('decodes VP9/WebM, scales and changes the rate on request', async () => {
    const source = new FrameSource({ uri: uri(vp9), format: 'I420', width: 160, height: 120, framerate: 15 });
    const { frames, formats } = await collect(source);
    expect([formats[0]!.width, formats[0]!.height, formats[0]!.framerate]).toEqual([160, 120, 15]);
    expect(formats[0]!.decoder).toBe('vp9dec');
    // 20 frames at 30 fps last 0.67 s: at 15 fps that is 10 frames (videorate may add one at the end).
    expect(frames.length).toBeGreaterThanOrEqual(10);
    expect(frames.length).toBeLessThanOrEqual(11);
    expect(source.stats.zeroCopyFrames).toBe(source.stats.frames);
  });

  it('takes the video of a file with an audio track too, by uri and by a decodebin description', async () => {
    const av = makeAvMp4(dir);
    for (const options of [{ uri: uri(av) }, { pipeline: `filesrc location=${av} ! decodebin ! videoconvert` }]) {
      const source = new FrameSource(options);
      const warnings: string[] = [];
      source.on('warning', (w) => warnings.push(w.message));
      const { frames } = await collect(source);
      expect(frames).toHaveLength(FRAMES);
      expect(warnings).toEqual([]);
    }
  });

  it('uses only software decoders when asked', async () => {
    const source = new FrameSource({ uri: uri(mp4), decoder: 'software', format: 'RGBA' });
    const { frames, formats } = await collect(source);
    expect(frames).toHaveLength(FRAMES);
    expect(formats[0]!.decoder).toBe('avdec_h264');
  });

  it('loops a still JPEG as it loops a PNG (jpegparse has no timeline: it failed with ERR_PIPELINE)', async () => {
    for (const enc of ['jpegenc', 'pngenc']) {
      const image = path.join(dir, `still.${enc}`);
      execFileSync('gst-launch-1.0', [
        '-q',
        'videotestsrc',
        'num-buffers=1',
        '!',
        'video/x-raw,width=31,height=15',
        '!',
        enc,
        '!',
        'filesink',
        `location=${image}`,
      ]);
      const source = new FrameSource({ uri: uri(image), loop: true });
      let n = 0;
      for await (const frame of source) {
        expect([frame.width, frame.height]).toEqual([31, 15]);
        if (++n === 5) break;
      }
      expect(n).toBe(5);
    }
  });

  it('loops a file when asked: the stream restarts and the iterator goes on', async () => {
    const source = new FrameSource({ uri: uri(webm), format: 'GRAY8', width: 64, height: 36, loop: true });
    const timestamps: number[] = [];
    const sequences: number[] = [];
    for await (const frame of source) {
      timestamps.push(frame.timestamp!);
      sequences.push(frame.sequence);
      if (timestamps.length === FRAMES * 2 + 5) break;
    }
    expect(sequences).toEqual([...Array(FRAMES * 2 + 5).keys()]);
    // Timestamps go on across the two restarts: one frame interval (1/30 s) apart throughout (WebM
    // keeps milliseconds, hence the 1 ms slack).
    const steps = timestamps.slice(1).map((t, i) => t - timestamps[i]!);
    for (const step of steps) expect(Math.abs(step - 1e6 / 30)).toBeLessThanOrEqual(1000);
  });
});

describe('cameras', () => {
  it('lists cameras with GstDeviceMonitor, [] when there are none', async () => {
    const devices = await FrameSource.devices();
    expect(Array.isArray(devices)).toBe(true);
    for (const d of devices)
      expect(d).toEqual({
        id: expect.any(String),
        name: expect.any(String),
        path: expect.any(String),
        api: expect.any(String),
        caps: expect.any(String),
      });
    if (!existsSync('/dev/video0')) expect(devices).toEqual([]);
  });

  it('says clearly when there is no camera', () => {
    const noDefault = existsSync('/dev/video0') ? [] : [true];
    for (const camera of [...noDefault, '/dev/video97']) {
      expect(() => new FrameSource({ camera: camera as true })).toThrow(expect.objectContaining({ code: 'ERR_CAMERA_NOT_FOUND' }));
    }
  });

  const camera = process.env.FRAME_SOURCE_TEST_CAMERA;
  (camera ? it : it.skip)(`reads frames from the camera named by FRAME_SOURCE_TEST_CAMERA (${camera ?? 'unset: skipped'})`, async () => {
    const source = new FrameSource({ camera: camera!, format: 'RGBA', width: 320, height: 240 });
    let n = 0;
    for await (const frame of source) {
      expect(frame.format).toBe('RGBA');
      if (++n === 5) break;
    }
    expect(source.stats.live).toBe(true);
  });
  if (!camera) console.log('camera test skipped: set FRAME_SOURCE_TEST_CAMERA=/dev/videoN to run it');
});

describe('bad input', () => {
  it.each([
    [{ uri: 'foo://bar/baz' }, 'ERR_UNSUPPORTED_URI'],
    [{ uri: 'file:///nonexistent/frame-source/a.mp4' }, 'ERR_FILE_NOT_FOUND'],
    [{ uri: 'not a uri' }, 'ERR_INVALID_OPTION'],
    [{ uri: 42 }, 'ERR_INVALID_OPTION'],
    [{ camera: 0 }, 'ERR_INVALID_OPTION'],
    [{ test: { pattern: 'plaid' } }, 'ERR_INVALID_OPTION'],
    [{ test: { width: 0 } }, 'ERR_INVALID_OPTION'],
    [{ test: { fps: 30 } }, 'ERR_INVALID_OPTION'],
    [{ test: true, format: 'YUV9' }, 'ERR_INVALID_OPTION'],
    [{ test: true, width: -5 }, 'ERR_INVALID_OPTION'],
    [{ test: true, framerate: 0 }, 'ERR_INVALID_OPTION'],
    [{ test: true, uri: 'file:///x' }, 'ERR_INVALID_OPTION'],
    [{ test: true, pipeline: 'videotestsrc' }, 'ERR_INVALID_OPTION'],
    [{ test: true, decoder: 'software' }, 'ERR_INVALID_OPTION'],
    [{ test: true, latency: 100 }, 'ERR_INVALID_OPTION'],
    [{ test: { live: true }, loop: true }, 'ERR_INVALID_OPTION'],
    [{ test: true, reconnect: true }, 'ERR_INVALID_OPTION'],
    [{ test: true, decoder: 'gpu' }, 'ERR_INVALID_OPTION'],
  ])('%j -> %s', (options, code) => {
    let caught: unknown;
    try {
      new FrameSource(options as never);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code });
    if (code === 'ERR_INVALID_OPTION') expect(caught instanceof OptionTypeError || caught instanceof OptionRangeError).toBe(true);
  });

  it('fails clearly when hardware decoding is asked for and there is none', () => {
    expect(() => new FrameSource({ uri: uri(mp4), decoder: 'hardware' })).toThrow(
      expect.objectContaining({ code: 'ERR_NO_HARDWARE_DECODER', message: expect.stringContaining("decoder: 'auto'") }),
    );
  });

  // The first read() of `sourceUri` in a process of its own whose GStreamer has these feature ranks
  // (a decoder at rank NONE is one decodebin never picks): the error's code and message, or the decoder.
  function firstReadWithRanks(sourceUri: string, ranks: string): { code?: string; message?: string; decoder?: string } {
    const script = `
      const { FrameSource } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'index.cjs'))});
      const s = new FrameSource({ uri: ${JSON.stringify(sourceUri)} });
      s.read().then(
        (f) => { console.log(JSON.stringify({ decoder: f && f.videoFormat.decoder })); f && f.release(); },
        (e) => console.log(JSON.stringify({ code: e.code, message: e.message })),
      ).finally(() => s.close());`;
    const out = execFileSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      timeout: 30000,
      env: { ...process.env, GST_PLUGIN_FEATURE_RANK: ranks },
    });
    return JSON.parse(out);
  }

  it('reports a stream GStreamer has no decoder for as ERR_MISSING_PLUGIN, naming what is missing', () => {
    // A real GStreamer without a VP8 decoder: rank NONE keeps decodebin from using either one.
    const err = firstReadWithRanks(uri(webm), 'vp8dec:NONE,avdec_vp8:NONE');
    expect(err.code).toBe('ERR_MISSING_PLUGIN');
    expect(err.message).toMatch(/VP8/);
    expect(err.message).toContain('gstreamer1.0-plugins-good');
  });

  it('reports a missing video decoder as ERR_MISSING_PLUGIN when the file has an audio track too', () => {
    // decodebin exposes only the audio pad then, which nothing links: that used to be reported as
    // ERR_NOT_NEGOTIATED, telling the user to add 'videoconvert'.
    // A second of audio as long as the video (makeAvMp4's audio is shorter: uridecodebin then
    // reports the missing decoder itself).
    const av = ffmpegLavfi(
      path.join(dir, 'h264-aac-1s.mp4'),
      ['testsrc=size=64x48:rate=10', 'sine=frequency=440'],
      ['-t', '1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac'],
    );
    const err = firstReadWithRanks(uri(av), 'avdec_h264:NONE,openh264dec:NONE');
    expect(err.code).toBe('ERR_MISSING_PLUGIN');
    expect(err.message).toMatch(/H\.264/);
  });

  it('reports a file with no video stream (audio only) as ERR_UNSUPPORTED_MEDIA, not ERR_NOT_NEGOTIATED', async () => {
    const audio = ffmpegLavfi(path.join(dir, 'audio-only.m4a'), ['sine=frequency=440'], ['-t', '0.5', '-c:a', 'aac']);
    for (const options of [{ uri: uri(audio) }, { uri: uri(audio), format: 'RGBA' as const }]) {
      const source = new FrameSource(options);
      await expect(source.read()).rejects.toMatchObject({
        code: 'ERR_UNSUPPORTED_MEDIA',
        message: expect.stringContaining('has no video stream'),
      });
      await source.close();
    }
  });

  it('reports a file that is not video as ERR_UNSUPPORTED_MEDIA', async () => {
    const text = path.join(dir, 'notes.txt');
    writeFileSync(text, 'this is not a video\n'.repeat(100));
    const source = new FrameSource({ uri: uri(text) });
    await expect(source.read()).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_MEDIA', name: 'PipelineError' });
    await source.close();
  });
});

describe('hostile strings never reach pipeline syntax', () => {
  it('plays a file whose name is pipeline syntax, and writes nothing else', async () => {
    const hostile = path.join(dir, 'a" ! filesink location=pwned.raw name=x ! fakesink "b.webm');
    writeFileSync(hostile, readFileSync(webm));
    const before = readdirSync(dir).sort();
    const source = new FrameSource({ uri: uri(hostile), format: 'GRAY8' });
    expect(source.options.pipeline).toBe('uridecodebin name=fs-src ! videoconvert ! video/x-raw,format=GRAY8');
    let frames: Frame[] = [];
    for await (const frame of source) frames.push(frame);
    frames = [];
    expect(source.stats.frames).toBe(FRAMES);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(existsSync(path.join(process.cwd(), 'pwned.raw'))).toBe(false);
  });

  it.each([
    { uri: 'file:///tmp/x" ! filesink location=/tmp/frame-source-pwned' },
    { uri: "file:///tmp/x' ! filesink location=/tmp/frame-source-pwned" },
    { uri: 'file:///tmp/x\n! filesink location=/tmp/frame-source-pwned' },
    { camera: '/dev/video0 ! filesink location=/tmp/frame-source-pwned' },
    { test: { pattern: 'ball ! filesink location=/tmp/frame-source-pwned' } },
    { test: true, format: 'RGBA ! filesink location=/tmp/frame-source-pwned' },
  ])('%j is rejected or inert', (options) => {
    try {
      const s = new FrameSource(options as never);
      expect(s.options.pipeline).not.toContain('filesink');
      void s.close();
    } catch (err) {
      expect(err).toMatchObject({ code: expect.stringMatching(/^ERR_/) });
    }
    expect(existsSync('/tmp/frame-source-pwned')).toBe(false);
  });
});
