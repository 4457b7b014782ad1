// A consumer slower than the source: non-live sources wait (nothing lost), live ones drop the
// oldest undelivered frame (counted).
import { FrameSource } from '../lib/index';
import { sleep } from './helpers';

it('loses nothing from a non-live source when the consumer is slow', async () => {
  const source = new FrameSource({ pipeline: 'videotestsrc num-buffers=15 ! video/x-raw,format=RGBA,width=64,height=64', ringSize: 3 });
  const sequences: number[] = [];
  for await (const frame of source) {
    sequences.push(frame.sequence);
    await sleep(15);
  }
  expect(sequences).toEqual([...Array(15).keys()]);
  expect(source.stats.droppedFrames).toBe(0);
  expect(source.stats.live).toBe(false);
});

it('drops the oldest undelivered frames of a live source, counts them, and shows the gaps', async () => {
  const source = new FrameSource({
    pipeline: 'videotestsrc is-live=true ! video/x-raw,format=RGBA,width=64,height=64,framerate=200/1',
    ringSize: 4,
  });
  const sequences: number[] = [];
  for await (const frame of source) {
    sequences.push(frame.sequence);
    if (sequences.length === 8) break;
    await sleep(40);
  }
  const stats = source.stats;
  expect(stats.live).toBe(true);
  expect(stats.droppedFrames).toBeGreaterThan(0);
  const gaps = sequences.slice(1).filter((s, i) => s - sequences[i]! > 1);
  expect(gaps.length).toBeGreaterThan(0);
  expect(stats.frames).toBeGreaterThanOrEqual(stats.droppedFrames + sequences.length);
});

it('waits instead of dropping for a live source when drop is false', async () => {
  const source = new FrameSource({
    pipeline: 'videotestsrc is-live=true ! video/x-raw,format=RGBA,width=64,height=64,framerate=200/1',
    ringSize: 4,
    drop: false,
  });
  const sequences: number[] = [];
  for await (const frame of source) {
    sequences.push(frame.sequence);
    if (sequences.length === 6) break;
    await sleep(30);
  }
  expect(source.stats.droppedFrames).toBe(0);
  expect(sequences).toEqual([0, 1, 2, 3, 4, 5]);
});
