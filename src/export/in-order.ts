/**
 * Steps taken one after the other in the order they were added, each once what it waits for
 * has settled: items are read and handed to the zip in order, and their outcomes, some known
 * only once the entry threads answer, go into the manifest in that same order. After a step
 * fails, none runs again.
 */
export class InOrder {
  #last: Promise<void> = Promise.resolve();
  #failure: { readonly error: unknown } | undefined;

  /** A step that runs in its turn, with nothing else to wait for. */
  run(step: () => void): void {
    this.add(Promise.resolve(), step);
  }

  add<T>(pending: Promise<T>, take: (value: T) => void): void {
    pending.catch(() => undefined);
    this.#last = this.#last.then(async () => take(await pending));
    this.#last.catch((error: unknown) => {
      this.#failure ??= { error };
    });
  }

  /** Throws what made a step fail, once one has. */
  check(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  /** Whether `error` is what made a step fail: it comes from a step, not from where it showed. */
  caused(error: unknown): boolean {
    return this.#failure !== undefined && this.#failure.error === error;
  }

  /** Settles once every step added so far has run. */
  async drain(): Promise<void> {
    await this.#last;
  }
}
