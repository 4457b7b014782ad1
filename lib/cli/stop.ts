// When the main job and the server stop: Ctrl-C (SIGINT), SIGTERM or --duration close the source,
// which ends their `for await` loop; the reason is kept for the summary.
export type StopReason = 'eos' | 'frames' | 'duration' | 'signal' | 'error';

// setTimeout fires at once (with a TimeoutOverflowWarning) past 2^31-1 ms, about 24.8 days: a longer
// --duration waits in steps of at most that.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class Stopper {
  reason: StopReason = 'eos';
  #timer: ReturnType<typeof setTimeout> | null;
  #onSignal = (): void => this.stop('signal');

  constructor(
    private readonly source: { close(): Promise<void> },
    durationMs: number,
  ) {
    process.once('SIGINT', this.#onSignal);
    process.once('SIGTERM', this.#onSignal);
    this.#timer = Number.isFinite(durationMs) ? this.#stopAfter(durationMs) : null;
  }

  #stopAfter(ms: number): ReturnType<typeof setTimeout> {
    if (ms <= MAX_TIMEOUT_MS) return setTimeout(() => this.stop('duration'), ms);
    return setTimeout(() => (this.#timer = this.#stopAfter(ms - MAX_TIMEOUT_MS)), MAX_TIMEOUT_MS);
  }

  stop(why: StopReason): void {
    this.reason = why;
    void this.source.close();
  }

  /** Call once the loop is over: the process's signals go back to their defaults. */
  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
  }
}
