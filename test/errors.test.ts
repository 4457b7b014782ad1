// Every bad input and failure is a typed error with a stable code; nothing crashes the process.
import {
  FrameSource,
  FrameSourceError,
  MissingElementError,
  OptionRangeError,
  OptionTypeError,
  PipelineError,
  debianPackageFor,
} from '../lib/index';
import { within } from './helpers';

describe('options', () => {
  it.each([
    [{ ringSize: '8' }, OptionTypeError, 'ringSize'],
    [{ ringSize: 1 }, OptionRangeError, 'ringSize'],
    [{ ringSize: 65 }, OptionRangeError, 'ringSize'],
    [{ ringSize: 2.5 }, OptionRangeError, 'ringSize'],
    [{ ringSize: NaN }, OptionTypeError, 'ringSize'],
    [{ maxQueued: 0 }, OptionRangeError, 'maxQueued'],
    [{ drop: 'yes' }, OptionTypeError, 'drop'],
    [{ sharedMemory: 1 }, OptionTypeError, 'sharedMemory'],
    [{ statsInterval: -1 }, OptionRangeError, 'statsInterval'],
    [{ pipeline: 42 }, OptionTypeError, 'pipeline'],
    [{ pipeline: '   ' }, OptionRangeError, 'pipeline'],
    [{ pipeline: 'videotestsrc !' }, OptionRangeError, 'pipeline'],
    [{ backend: 'opengl' }, OptionTypeError, 'backend'],
    [{ pipelin: 'videotestsrc' }, OptionTypeError, 'pipelin'],
    // latency is an integer option like the others: a fraction or Infinity is out of range, not a wrong type.
    [{ uri: 'rtsp://127.0.0.1:1/x', latency: 1.5 }, OptionRangeError, 'latency'],
    [{ uri: 'rtsp://127.0.0.1:1/x', latency: Infinity }, OptionRangeError, 'latency'],
    [{ uri: 'rtsp://127.0.0.1:1/x', latency: -1 }, OptionRangeError, 'latency'],
    [{ uri: 'rtsp://127.0.0.1:1/x', latency: '200' }, OptionTypeError, 'latency'],
    [{ uri: 'rtsp://127.0.0.1:1/x', latency: NaN }, OptionTypeError, 'latency'],
  ])('%j throws a typed error naming the option', (options, Class, option) => {
    let caught: unknown;
    try {
      new FrameSource(options as never);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(Class);
    expect(caught).toMatchObject({ code: 'ERR_INVALID_OPTION', option });
    expect((caught as Error).message).toContain(`'${option}'`);
    expect((caught as Error).message).toMatch(/received/);
  });

  it('rejects options that are not an object', () => {
    expect(() => new FrameSource('videotestsrc' as never)).toThrow(OptionTypeError);
  });

  it.each(['dmabuf', 'cuda', 'iosurface'])('says backend %s is unavailable', (backend) => {
    expect(() => new FrameSource({ backend: backend as never })).toThrow(
      expect.objectContaining({ code: 'ERR_BACKEND_UNAVAILABLE', message: expect.stringContaining(backend) }),
    );
  });
});

describe('pipeline descriptions', () => {
  it('reports a description that does not parse', () => {
    expect(() => new FrameSource({ pipeline: 'videotestsrc ! ! videoconvert' })).toThrow(
      expect.objectContaining({ code: 'ERR_PIPELINE_PARSE' }),
    );
  });

  it('names a missing element and the package that usually provides it', () => {
    let caught: unknown;
    try {
      new FrameSource({ pipeline: 'videotestsrc ! nosuchelement42 ! videoconvert' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MissingElementError);
    expect(caught).toBeInstanceOf(FrameSourceError);
    expect(caught).toMatchObject({ code: 'ERR_MISSING_ELEMENT', elements: ['nosuchelement42'] });
    expect((caught as Error).message).toContain('nosuchelement42');
    expect((caught as Error).message).toContain('gst-inspect-1.0');
  });

  it('maps well-known elements to their Debian packages', () => {
    expect(new MissingElementError(['x264enc']).packages).toEqual(['gstreamer1.0-plugins-ugly']);
    const both = new MissingElementError(['avdec_h264', 'qtdemux']).message;
    expect(both).toContain('apt-get install gstreamer1.0-libav gstreamer1.0-plugins-good');
    expect(both).toContain('dnf install gstreamer1-libav gstreamer1-plugins-good');
    expect(both).toContain('brew install gstreamer');
    expect(debianPackageFor('videoconvert')).toBe('gstreamer1.0-plugins-base');
    expect(debianPackageFor('nosuchelement42')).toBeUndefined();
  });

  it('rejects a description without a source', () => {
    expect(() => new FrameSource({ pipeline: 'videoconvert' })).toThrow(
      expect.objectContaining({ code: 'ERR_PIPELINE_PARSE', message: expect.stringContaining('no source element') }),
    );
  });

  it('rejects an output that cannot be raw video', () => {
    expect(() => new FrameSource({ pipeline: 'audiotestsrc' })).toThrow(expect.objectContaining({ code: 'ERR_NOT_NEGOTIATED' }));
  });

  it('rejects caps that can never be produced when the pipeline is built', () => {
    const pipeline = 'videotestsrc ! video/x-raw,format=RGBA,width=320,height=240 ! videoconvert ! video/x-raw,width=16';
    expect(() => new FrameSource({ pipeline })).toThrow(expect.objectContaining({ code: 'ERR_NOT_NEGOTIATED' }));
  });

  it("rejects an appsink of its own (nothing reads it: its end of stream, and so the pipeline's, never came)", () => {
    // Found by fuzzing (20x the runs): a read() that never settled, on a pipeline whose own appsink
    // waited forever for its buffers to be pulled before it would pass on end of stream.
    for (const pipeline of [
      'videotestsrc num-buffers=3 ! appsink name=t videotestsrc num-buffers=2 is-live=true',
      'videotestsrc num-buffers=3 ! videoscale ! appsink name=t fakesrc num-buffers=2',
      'videotestsrc ! tee name=t ! queue ! appsink t. ! queue',
    ]) {
      expect(() => new FrameSource({ pipeline })).toThrow(
        expect.objectContaining({
          code: 'ERR_PIPELINE_PARSE',
          message: expect.stringMatching(/^'(t|appsink\d+)' is an appsink: nothing would read it/),
        }),
      );
    }
    // A branch that ends in fakesink is fine.
    const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=2 ! tee name=t ! queue ! fakesink t. ! queue' });
    return source.close();
  });

  it('rejects a description that takes the sink name for itself', () => {
    expect(() => new FrameSource({ pipeline: 'videotestsrc ! identity name=frame-source-sink' })).toThrow(
      expect.objectContaining({ code: 'ERR_PIPELINE_PARSE' }),
    );
  });
});

describe('runtime errors', () => {
  it('rejects the iterator, fires error with GStreamer message and debug, and frees everything', async () => {
    const source = new FrameSource({
      pipeline: 'filesrc location=/nonexistent/frame-source/video.raw ! rawvideoparse width=64 height=64 format=rgba',
    });
    const events: Error[] = [];
    source.on('error', (e) => events.push(e));
    let caught: unknown;
    try {
      for await (const _frame of source) throw new Error('no frame expected');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PipelineError);
    // Element numbers are per process: other suites in the same jest worker make filesrcs too.
    expect(caught).toMatchObject({
      code: 'ERR_PIPELINE',
      element: expect.stringMatching(/^filesrc\d+$/),
      domain: 'gst-resource-error-quark',
    });
    expect((caught as PipelineError).debug.length).toBeGreaterThan(0);
    expect(events).toEqual([caught]);
    await within(3000, source.close(), 'close() after an error');
    expect(source.state).toBe('closed');
    await expect(source.read()).rejects.toBe(caught);
  });

  it('rejects the read without an error listener, and the process lives on', async () => {
    const source = new FrameSource({ pipeline: 'filesrc location=/nonexistent/frame-source/a.raw ! rawvideoparse' });
    expect(source.listenerCount('error')).toBe(0);
    await expect(source.read()).rejects.toMatchObject({ code: 'ERR_PIPELINE', name: 'PipelineError' });
    await source.close();
  });
});
