/**
 * A counting semaphore with first-come-first-served waiters. Waiting can be given up with an
 * abort signal; the permit is then never taken.
 */
export class Semaphore {
  #available: number;
  readonly #waiters: Array<() => void> = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`a semaphore needs a capacity of at least 1, not ${capacity}`);
    }
    this.#available = capacity;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#available > 0 && this.#waiters.length === 0) {
      this.#available--;
      return;
    }

    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const at = this.#waiters.indexOf(wake);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(signal?.reason);
      };
      this.#waiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#available = Math.min(this.capacity, this.#available + 1);
  }
}

/**
 * One semaphore per key (a server's `host:port`), shared by every holder of the key and dropped
 * when the last holder lets go. The first holder's capacity stands while the key is held.
 */
export class KeyedSemaphores {
  readonly #entries = new Map<string, { semaphore: Semaphore; holders: number }>();

  hold(key: string, capacity: number): { semaphore: Semaphore; drop(): void } {
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { semaphore: new Semaphore(capacity), holders: 0 };
      this.#entries.set(key, entry);
    }
    entry.holders++;
    const held = entry;
    let dropped = false;
    return {
      semaphore: held.semaphore,
      drop: () => {
        if (dropped) return;
        dropped = true;
        held.holders--;
        if (held.holders === 0 && this.#entries.get(key) === held) this.#entries.delete(key);
      },
    };
  }
}
