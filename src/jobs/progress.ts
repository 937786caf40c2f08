import type { ExportProgress } from '../core/export.js';

/**
 * Turns the pipeline's counters into WorkMail's `EstimatedProgress`: a whole percent from
 * bytes read (items when the store announced no sizes), held below 100 until the job has
 * ended so that 100 always means COMPLETED, and never lower than a value already shown.
 */
export class ProgressGauge {
  #shown = 0;

  /** The new percent if it rose, otherwise undefined. */
  update(progress: ExportProgress): number | undefined {
    const percent = Math.min(99, Math.floor(fraction(progress) * 100));
    if (percent <= this.#shown) return undefined;
    this.#shown = percent;
    return percent;
  }

  get shown(): number {
    return this.#shown;
  }
}

function fraction(progress: ExportProgress): number {
  if (progress.bytesTotal > 0) return Math.min(1, progress.bytesDone / progress.bytesTotal);
  if (progress.itemsTotal > 0) return Math.min(1, progress.itemsDone / progress.itemsTotal);
  return 0;
}

/**
 * Writes the latest progress to the store at most once per interval: a value that arrives
 * too soon is written when the interval has passed, so that the stored value never lags
 * behind for long while the export is busy with a large item.
 */
export class ProgressWriter {
  readonly #intervalMs: number;
  readonly #write: (value: number) => Promise<void>;
  readonly #onError: (error: unknown) => void;
  #latest: number | undefined;
  #written: number | undefined;
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #stopped = false;

  constructor(
    intervalMs: number,
    write: (value: number) => Promise<void>,
    onError: (error: unknown) => void,
  ) {
    this.#intervalMs = intervalMs;
    this.#write = write;
    this.#onError = onError;
  }

  push(value: number): void {
    this.#latest = value;
    this.#schedule();
  }

  /** Drops what is not yet written and waits for a write under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  #schedule(): void {
    if (this.#stopped || this.#timer !== undefined || this.#inFlight !== undefined) return;

    const wait = this.#lastWriteAt + this.#intervalMs - Date.now();
    if (wait <= 0) {
      this.#flush();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, wait);
    this.#timer.unref();
  }

  #flush(): void {
    const value = this.#latest;
    if (this.#stopped || value === undefined || value === this.#written) return;

    this.#lastWriteAt = Date.now();
    this.#written = value;
    this.#inFlight = this.#write(value)
      .catch(this.#onError)
      .finally(() => {
        this.#inFlight = undefined;
        if (this.#latest !== this.#written) this.#schedule();
      });
  }
}
