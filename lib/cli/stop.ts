// When the main job and the server stop: Ctrl-C (SIGINT), SIGTERM or --duration close the source,
// which ends their `for await` loop; the reason is kept for the summary.
export type StopReason = 'eos' | 'frames' | 'duration' | 'signal' | 'error';

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
    this.#timer = Number.isFinite(durationMs) ? setTimeout(() => this.stop('duration'), durationMs) : null;
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
