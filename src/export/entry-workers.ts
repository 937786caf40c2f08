import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

import type { HeaderFields } from './message-header.js';

/**
 * Threads that do the per-entry work of small zip entries, many entries to a message: reading
 * the file of an entry that lies whole in one, the CRC-32, the deflate, and for a message its
 * SHA-256 and header fields. On a mailbox of small messages that work is most of an export; one
 * entry costs the main thread tens of µs to hand over, and a batch of dozens crosses for the
 * price of one. The main thread is left with what must be sequential: the zip records, the
 * manifest, the output hash and the write.
 *
 * A batch goes when it is full, when `flush` is called (the zip writer calls it when it may
 * read no further ahead, and at the end), and at the latest after FLUSH_DELAY_MS, so that a
 * slow source never leaves entries waiting. Whoever waits for an entry does not send its batch
 * early: while entries come, waiting for a full batch costs less than sending one at a time.
 * Each entry is deflated alone, so the bytes do not depend on how entries were batched, nor on
 * which thread took them.
 */

/** What to work out for an entry besides its CRC-32 and, above level 0, its deflated bytes. */
export interface EntryWork {
  readonly sha256: boolean;
  /** Read the header fields of a message (message-header.ts). */
  readonly header: boolean;
}

/** An entry's data: in memory, or the whole of a local file of about `size` bytes. */
export type EntryInput = Buffer | { readonly path: string; readonly size: number };

export interface EntryFacts {
  readonly crc32: number;
  /** Bytes of the entry's data before deflating. */
  readonly size: number;
  /** The entry's data as it goes into the zip: deflated, or as it was at level 0. */
  readonly data: Buffer;
  readonly sha256?: string;
  readonly header?: HeaderFields;
}

/** The file of an entry could not be read (gone, renamed, unreadable) on an entry thread. */
export class EntryReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EntryReadError';
  }
}

export interface BatchEntry extends EntryWork {
  /** Bytes of the batch's data that are this entry's; 0 when it is read from `path`. */
  readonly length: number;
  readonly path?: string;
}

export interface BatchRequest {
  readonly id: number;
  readonly level: number;
  readonly data: Uint8Array;
  readonly entries: readonly BatchEntry[];
}

export interface AnsweredEntry {
  readonly length: number;
  readonly crc32: number;
  readonly size: number;
  readonly sha256?: string;
  readonly header?: HeaderFields;
  /** Why the entry's file could not be read; the entry has no data then. */
  readonly failed?: string;
}

export interface BatchAnswer {
  readonly id: number;
  /** The entries' data as they go into the zip, joined. */
  readonly data: Uint8Array;
  readonly entries: readonly AnsweredEntry[];
}

/** Entries and bytes per batch: a message costs tens of µs, a 3 KiB deflate about 60. */
const BATCH_ENTRIES = 64;
const BATCH_BYTES = 512 * 1024;
const FLUSH_DELAY_MS = 2;

/**
 * Threads at most: on two cores, two threads keep both busy while the main thread writes; past
 * four, the main thread's sequential share is the limit.
 */
const MAX_THREADS = Math.max(1, Math.min(availableParallelism(), 4));

/** Entries submitted together, answered together once the last of them is. */
class Group {
  readonly results: (EntryFacts | EntryReadError)[];
  #left: number;

  constructor(
    size: number,
    readonly resolve: (results: (EntryFacts | EntryReadError)[]) => void,
    readonly reject: (error: Error) => void,
  ) {
    this.results = new Array<EntryFacts | EntryReadError>(size);
    this.#left = size;
  }

  settle(index: number, result: EntryFacts | EntryReadError): void {
    this.results[index] = result;
    if (--this.#left === 0) this.resolve(this.results);
  }
}

interface Waiting {
  readonly group: Group;
  readonly index: number;
}

interface Thread {
  readonly worker: Worker;
  inFlight: number;
}

const WORKER_URL = new URL('./entry-worker.js', import.meta.url);

/**
 * A thread holds a batch at a time, off its heap: a small young generation keeps what its
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

/**
 * The smallest deflate window that still reaches back to the start of `length` bytes (zlib
 * keeps 262 bytes of lookahead out of reach), from 2^9 to zlib's largest, 2^15. Matches cannot
 * reach further back than the start anyway, so the bytes are those of the largest window; a
 * small window spares zlib setting up 64 KiB per entry, a seventh of the deflate of a mailbox
 * of 3 KiB messages.
 */
export function windowBitsFor(length: number): number {
  return Math.max(9, Math.min(15, Math.ceil(Math.log2(length + 262))));
}

export class EntryWorkers {
  readonly #level: number;
  readonly #threads: Thread[] = [];
  #nextId = 0;
  #queued: Waiting[] = [];
  #queuedEntries: BatchEntry[] = [];
  #queuedData: Buffer[] = [];
  #queuedDataBytes = 0;
  /** Bytes queued, those of files to read included, as a batch's measure. */
  #queuedBytes = 0;
  /** Batches made and waiting for a thread to be free, oldest first. */
  readonly #ready: { request: BatchRequest; waiting: Waiting[] }[] = [];
  readonly #sent = new Map<number, { thread: Thread; waiting: Waiting[] }>();
  #timer: NodeJS.Timeout | undefined;
  #failure: Error | undefined;

  /** `level` is the deflate level of every entry, 0 for stored entries. */
  constructor(level: number) {
    this.#level = level;
  }

  /**
   * Works out the facts of the entry whose whole data is `input`. Rejects with EntryReadError
   * when its file cannot be read.
   */
  async submit(input: EntryInput, work: EntryWork): Promise<EntryFacts> {
    const [facts] = await this.submitAll([input], work);
    if (facts instanceof EntryReadError) throw facts;
    return facts!;
  }

  /**
   * Works out the facts of each entry of `inputs`, in one promise: many small entries cost
   * the main thread a promise each otherwise. An entry whose file cannot be read gets an
   * EntryReadError in its place.
   */
  submitAll(
    inputs: readonly EntryInput[],
    work: EntryWork,
  ): Promise<(EntryFacts | EntryReadError)[]> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (inputs.length === 0) return Promise.resolve([]);

    let group: Group | undefined;
    const results = new Promise<(EntryFacts | EntryReadError)[]>((resolve, reject) => {
      group = new Group(inputs.length, resolve, reject);
    });
    inputs.forEach((input, index) => this.#queue(input, work, { group: group!, index }));
    return results;
  }

  #queue(input: EntryInput, work: EntryWork, waiting: Waiting): void {
    this.#queued.push(waiting);
    if (Buffer.isBuffer(input)) {
      this.#queuedEntries.push({ ...work, length: input.length });
      this.#queuedData.push(input);
      this.#queuedDataBytes += input.length;
    } else {
      this.#queuedEntries.push({ ...work, length: 0, path: input.path });
    }
    this.#queuedBytes += Buffer.isBuffer(input) ? input.length : input.size;
    if (this.#queued.length >= BATCH_ENTRIES || this.#queuedBytes >= BATCH_BYTES) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS);
  }

  /** Makes a batch of what is queued now, and sends it as soon as a thread is free. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queued.length === 0 || this.#failure !== undefined) return;

    const waiting = this.#queued;
    const request: BatchRequest = {
      id: this.#nextId++,
      level: this.#level,
      data: joinUnpooled(this.#queuedData, this.#queuedDataBytes),
      entries: this.#queuedEntries,
    };
    this.#queued = [];
    this.#queuedEntries = [];
    this.#queuedData = [];
    this.#queuedDataBytes = 0;
    this.#queuedBytes = 0;
    this.#ready.push({ request, waiting });
    this.#dispatch();
  }

  /**
   * Hands ready batches to free threads, one batch at a time each: a batch sent to a busy
   * thread would wait there while another thread ran out of work.
   */
  #dispatch(): void {
    // It runs from timers and thread messages: a thread that cannot start or be sent to fails
    // what waits, rather than the process.
    try {
      while (this.#ready.length > 0 && this.#failure === undefined) {
        const thread = this.#freeThread();
        if (thread === undefined) return;
        const { request, waiting } = this.#ready.shift()!;
        thread.inFlight++;
        thread.worker.ref();
        this.#sent.set(request.id, { thread, waiting });
        thread.worker.postMessage(request, [request.data.buffer as ArrayBuffer]);
      }
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Stops the threads; what is still queued or sent fails. */
  async close(): Promise<void> {
    this.#fail(new Error('the entry threads were closed'));
    await Promise.all(this.#threads.map(({ worker }) => worker.terminate()));
  }

  /** A thread without work, started if none is free and there is room for one more. */
  #freeThread(): Thread | undefined {
    const free = this.#threads.find((thread) => thread.inFlight === 0);
    if (free !== undefined) return free;
    return this.#threads.length < MAX_THREADS ? this.#startThread() : undefined;
  }

  #startThread(): Thread {
    const worker = new Worker(WORKER_URL, { resourceLimits: WORKER_LIMITS });
    const thread: Thread = { worker, inFlight: 0 };
    worker.on('message', (answer: BatchAnswer) => this.#answered(answer));
    worker.on('error', (error) => this.#fail(error));
    // An answer that cannot be received would leave its batch waiting for ever.
    worker.on('messageerror', (error) => this.#fail(error));
    worker.on('exit', (code) => this.#fail(new Error(`an entry thread exited with ${code}`)));
    this.#threads.push(thread);
    return thread;
  }

  #answered(answer: BatchAnswer): void {
    const sent = this.#sent.get(answer.id);
    this.#sent.delete(answer.id);
    if (sent === undefined) return;
    const { thread, waiting } = sent;
    thread.inFlight--;
    // An idle thread must not keep the process alive; one at work must.
    if (thread.inFlight === 0) thread.worker.unref();
    this.#dispatch();

    const data = Buffer.from(answer.data.buffer, answer.data.byteOffset, answer.data.byteLength);
    let start = 0;
    waiting.forEach(({ group, index }, position) => {
      const entry = answer.entries[position];
      if (entry === undefined) {
        group.reject(new Error('an entry thread left out an entry of its batch'));
        return;
      }
      const { length, failed, ...facts } = entry;
      if (failed !== undefined) group.settle(index, new EntryReadError(failed));
      else group.settle(index, { ...facts, data: data.subarray(start, start + length) });
      start += length;
    });
  }

  #fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    clearTimeout(this.#timer);
    const batches = [...this.#ready, ...this.#sent.values()];
    for (const waiting of [this.#queued, ...batches.map((batch) => batch.waiting)]) {
      for (const { group } of waiting) group.reject(error);
    }
    this.#ready.length = 0;
    this.#queued = [];
    this.#queuedEntries = [];
    this.#queuedData = [];
    this.#sent.clear();
  }
}
