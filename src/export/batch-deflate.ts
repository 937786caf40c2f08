import { Worker } from 'node:worker_threads';

/**
 * Small zip entries deflated on a thread of their own, many to a message. A mailbox of small
 * messages spends half its time deflating; one entry at a time through libuv's pool costs the
 * main thread more than deflating it there, but a batch of dozens crosses to a worker for the
 * price of one, and the second core does the work.
 *
 * A batch goes when it is full, when `flush` is called (the zip writer calls it before it
 * waits for the reader, and at the end), and at the latest after FLUSH_DELAY_MS, so that a
 * slow source never leaves entries waiting. Entries deflate alone, as they would on the main
 * thread, so the bytes do not depend on how they were batched.
 */

export interface BatchRequest {
  readonly id: number;
  readonly level: number;
  readonly data: Uint8Array;
  readonly lengths: readonly number[];
}

export interface BatchAnswer {
  readonly id: number;
  readonly data: Uint8Array;
  readonly lengths: readonly number[];
}

/** Entries and bytes per batch: a message costs tens of µs, a 3 KiB deflate about 60. */
const BATCH_ENTRIES = 64;
const BATCH_BYTES = 512 * 1024;
const FLUSH_DELAY_MS = 2;

interface Waiting {
  readonly resolve: (compressed: Buffer) => void;
  readonly reject: (error: Error) => void;
}

const WORKER_URL = new URL('./deflate-worker.js', import.meta.url);

/**
 * The thread holds a batch at a time, off its heap: a small young generation keeps what its
 * garbage costs in resident memory to a few MiB instead of V8's default of dozens.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 };

/**
 * `buffers` joined into memory of their own. Small Buffers share a pool, and transferring a
 * view of the pool to another thread would take the pool away from every other Buffer in it.
 */
export function joinUnpooled(buffers: readonly Uint8Array[], total: number): Uint8Array {
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const buffer of buffers) {
    joined.set(buffer, offset);
    offset += buffer.length;
  }
  return joined;
}

export class BatchDeflater {
  readonly #level: number;
  #worker: Worker | undefined;
  #nextId = 0;
  #inputs: Buffer[] = [];
  #inputBytes = 0;
  #queued: Waiting[] = [];
  readonly #sent = new Map<number, Waiting[]>();
  #timer: NodeJS.Timeout | undefined;
  #failure: Error | undefined;

  constructor(level: number) {
    this.#level = level;
  }

  /** Deflates `data` as one raw deflate stream, finished, at the writer's level. */
  deflate(data: Buffer): Promise<Buffer> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);

    const compressed = new Promise<Buffer>((resolve, reject) => {
      this.#queued.push({ resolve, reject });
    });
    this.#inputs.push(data);
    this.#inputBytes += data.length;
    if (this.#queued.length >= BATCH_ENTRIES || this.#inputBytes >= BATCH_BYTES) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS);
    return compressed;
  }

  /** Sends what is queued now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queued.length === 0 || this.#failure !== undefined) return;

    const id = this.#nextId++;
    const request: BatchRequest = {
      id,
      level: this.#level,
      data: joinUnpooled(this.#inputs, this.#inputBytes),
      lengths: this.#inputs.map((input) => input.length),
    };
    this.#sent.set(id, this.#queued);
    this.#inputs = [];
    this.#inputBytes = 0;
    this.#queued = [];
    const worker = this.#workerThread();
    worker.ref();
    worker.postMessage(request, [request.data.buffer as ArrayBuffer]);
  }

  /** Stops the thread; what is still queued or sent fails. */
  async close(): Promise<void> {
    this.#fail(new Error('the deflate thread was closed'));
    await this.#worker?.terminate();
  }

  #workerThread(): Worker {
    if (this.#worker !== undefined) return this.#worker;

    const worker = new Worker(WORKER_URL, { resourceLimits: WORKER_LIMITS });
    worker.on('message', (answer: BatchAnswer) => this.#answered(answer));
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => this.#fail(new Error(`the deflate thread exited with ${code}`)));
    this.#worker = worker;
    return worker;
  }

  #answered(answer: BatchAnswer): void {
    const waiting = this.#sent.get(answer.id);
    this.#sent.delete(answer.id);
    // An idle thread must not keep the process alive; one at work must.
    if (this.#sent.size === 0) this.#worker?.unref();
    if (waiting === undefined) return;

    const data = Buffer.from(answer.data.buffer, answer.data.byteOffset, answer.data.byteLength);
    let start = 0;
    answer.lengths.forEach((length, index) => {
      waiting[index]?.resolve(data.subarray(start, start + length));
      start += length;
    });
  }

  #fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    clearTimeout(this.#timer);
    for (const waiting of [this.#queued, ...this.#sent.values()]) {
      for (const { reject } of waiting) reject(error);
    }
    this.#queued = [];
    this.#inputs = [];
    this.#sent.clear();
  }
}
