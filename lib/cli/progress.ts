// Figures for the progress line and the summary: both read the same counters and the same lag
// tracker, so the live line and the end agree.
import type { FrameSource } from '../frame-source';

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function fmt(n: number | null, digits: number, unit = ''): string {
  return n === null || !Number.isFinite(n) ? '-' : `${n.toFixed(digits)}${unit}`;
}

export function peakRssBytes(): number {
  // maxRSS is in KiB.
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * Delivery lag of live frames: (arrival - timestamp) less its minimum so far. Only the spread
 * matters: the constant between the two clocks cancels. Every reading subtracts the minimum known
 * at the time of reading, so a figure shown mid-run and the final one mean the same thing.
 */
export class LagTracker {
  #offsets: number[] = [];
  #min = Infinity;

  add(arrivalMs: number, timestampUs: number): void {
    const offset = arrivalMs - timestampUs / 1000;
    this.#offsets.push(offset);
    if (offset < this.#min) this.#min = offset;
  }

  /** p50 and p99 in ms, or null before the first timestamped frame. */
  percentiles(): { p50: number; p99: number } | null {
    if (this.#offsets.length === 0) return null;
    const sorted = this.#offsets.map((o) => o - this.#min).sort((a, b) => a - b);
    return { p50: percentile(sorted, 50)!, p99: percentile(sorted, 99)! };
  }
}

/** The one-line progress display: per-interval rates while running, whole-run rates at the end. */
export class Progress {
  #started: number;
  #cpu0: NodeJS.CpuUsage;
  #last: { t: number; n: number; cpu: number };

  constructor(
    private readonly source: FrameSource,
    private readonly lag: LagTracker,
  ) {
    this.#started = performance.now();
    this.#cpu0 = process.cpuUsage();
    this.#last = { t: this.#started, n: 0, cpu: 0 };
  }

  get started(): number {
    return this.#started;
  }

  cpuMs(): number {
    const c = process.cpuUsage(this.#cpu0);
    return (c.user + c.system) / 1000;
  }

  line(n: number, final: boolean): string {
    const now = performance.now();
    const s = this.source.stats;
    const cpuMs = this.cpuMs();
    const dn = n - this.#last.n;
    const fps = final ? (n * 1000) / (now - this.#started) : (dn * 1000) / Math.max(1, now - this.#last.t);
    const cpuPerFrame = final ? cpuMs / Math.max(1, n) : dn > 0 ? (cpuMs - this.#last.cpu) / dn : null;
    this.#last = { t: now, n, cpu: cpuMs };
    const p = s.live ? this.lag.percentiles() : null;
    const lag = p ? `${fmt(p.p50, 1)}/${fmt(p.p99, 1)} ms` : '-';
    const zc = s.frames > 0 ? (100 * s.zeroCopyFrames) / s.frames : null;
    return (
      `frames ${n}  fps ${fmt(fps, 1)}  zero-copy ${fmt(zc, 1, '%')}  cpu/frame ${fmt(cpuPerFrame, 2, ' ms')}  ` +
      `lag p50/p99 ${lag}  dropped ${s.droppedFrames}` +
      (this.source.duration !== null
        ? `  at ${fmt((this.source.position ?? 0) / 1e6, 2, ' s')}/${fmt(this.source.duration / 1e6, 2, ' s')}`
        : '')
    );
  }
}
