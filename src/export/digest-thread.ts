import { Worker } from 'node:worker_threads';

/**
 * Hashes of large bodies, worked out on a thread of their own: the SHA-256 of large messages,
 * the SHA-384 of the zip. Stored uncompressed, a mailbox of large messages otherwise has the
 * main thread hash every byte twice, take its CRC-32 and encrypt it, while the other core has
 * little to do. The CRC-32, faster than either hash, stays on the main thread, which has the
 * time for it: the thread is the busier of the two.
 *
 * Each chunk crosses to the thread and back without a copy: its memory is transferred there,
 * hashed, and transferred back, and only then passed on. A chunk that shares its memory with
 * other bytes is copied first, as the transfer would take that memory from their owner too.
 * Several chunks of a body are on their way at once, so that the thread hashes one while the
 * main thread writes those before it.
 */

export type DigestAlgorithm = 'sha256' | 'sha384';

export type DigestRequest =
  | {
      readonly op: 'chunk';
      readonly id: number;
      readonly algorithm: DigestAlgorithm;
      readonly memory: ArrayBuffer;
      readonly offset: number;
      readonly length: number;
    }
  | { readonly op: 'end'; readonly id: number; readonly algorithm: DigestAlgorithm }
  | { readonly op: 'drop'; readonly id: number };

export type DigestAnswer =
  | Extract<DigestRequest, { op: 'chunk' }>
  | {
      readonly op: 'digest';
      readonly id: number;
      readonly hex: string;
      readonly bytes: number;
    };

export interface Digest {
  /** The hash, in lowercase hex. */
  readonly hex: string;
  readonly bytes: number;
}

/** The digest of one body, fed its chunks in order. */
export interface BodyDigest {
  /**
   * Hashes `chunk`, and gives back its bytes once hashed; the chunk given is unusable after.
   * Chunks come back in the order given.
   */
  hash(chunk: Buffer): Promise<Buffer>;
  /** The digest of every chunk given; call once, after the last came back. */
  end(): Promise<Digest>;
  /** Forgets the body, for one that is given up before its end. */
  drop(): void;
}

interface Pending<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (error: Error) => void;
}

interface Body {
  readonly chunks: Pending<Buffer>[];
  end?: Pending<Digest>;
}

/** `chunk`'s memory to transfer, a copy when the chunk does not own all of it. */
function ownMemory(chunk: Buffer): { memory: ArrayBuffer; offset: number } {
  const { buffer } = chunk;
  if (buffer instanceof ArrayBuffer && chunk.byteLength === buffer.byteLength) {
    return { memory: buffer, offset: 0 };
  }
  const copy = new Uint8Array(chunk.length);
  copy.set(chunk);
  return { memory: copy.buffer, offset: 0 };
}

const WORKER_URL = new URL('./digest-worker.js', import.meta.url);

/** It keeps no more than each body's running hashes: a small heap is enough. */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 };

export class DigestThread {
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #bodies = new Map<number, Body>();
  /** Chunks and ends not yet answered: while there are any, the thread keeps Node running. */
  #waiting = 0;
  #failure: Error | undefined;

  /** `onFailure` hears once if the thread fails; every hash not yet answered fails too. */
  constructor(private readonly onFailure: (error: Error) => void = () => {}) {}

  /** A digest to feed, with `algorithm`. */
  open(algorithm: DigestAlgorithm): BodyDigest {
    const id = this.#nextId++;
    const body: Body = { chunks: [] };
    this.#bodies.set(id, body);
    let ended = false;
    return {
      hash: (chunk) => {
        if (ended) return Promise.reject(new Error('a chunk was given to a digest after its end'));
        return this.#ask<Buffer>((pending) => {
          body.chunks.push(pending);
          return { op: 'chunk', id, algorithm, ...ownMemory(chunk), length: chunk.length };
        });
      },
      end: () => {
        if (ended) return Promise.reject(new Error('a digest was ended twice'));
        ended = true;
        return this.#ask<Digest>((pending) => {
          body.end = pending;
          return { op: 'end', id, algorithm };
        });
      },
      drop: () => {
        if (ended) return;
        ended = true;
        this.#bodies.delete(id);
        if (this.#failure === undefined && this.#worker !== undefined) {
          this.#worker.postMessage({ op: 'drop', id } satisfies DigestRequest);
        }
      },
    };
  }

  /** Stops the thread; hashes not yet answered fail. */
  close(): void {
    this.#fail(new Error('the digest thread was closed'), false);
  }

  /** Sends the request `make` gives for the answer it waits for. */
  #ask<T>(make: (pending: Pending<T>) => DigestRequest): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<T>((resolve, reject) => {
      const request = make({ resolve, reject });
      try {
        const worker = (this.#worker ??= this.#start());
        if (this.#waiting++ === 0) worker.ref();
        const transfer = request.op === 'chunk' ? [request.memory] : [];
        worker.postMessage(request, transfer);
      } catch (error) {
        this.#fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  #start(): Worker {
    const worker = new Worker(WORKER_URL, { resourceLimits: WORKER_LIMITS });
    worker.on('message', (answer: DigestAnswer) => this.#answered(answer));
    worker.on('error', (error) => this.#fail(error));
    worker.on('messageerror', (error) => this.#fail(error));
    worker.on('exit', (code) => this.#fail(new Error(`the digest thread exited with ${code}`)));
    return worker;
  }

  #answered(answer: DigestAnswer): void {
    // An idle thread must not keep the process alive; one at work must.
    if (--this.#waiting === 0) this.#worker?.unref();
    const body = this.#bodies.get(answer.id);
    if (body === undefined) return;

    if (answer.op === 'chunk') {
      const chunk = Buffer.from(answer.memory, answer.offset, answer.length);
      body.chunks.shift()?.resolve(chunk);
      return;
    }
    this.#bodies.delete(answer.id);
    const { hex, bytes } = answer;
    body.end?.resolve({ hex, bytes });
  }

  #fail(error: Error, heard = true): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    for (const body of this.#bodies.values()) {
      for (const pending of body.chunks) pending.reject(error);
      body.end?.reject(error);
    }
    this.#bodies.clear();
    void this.#worker?.terminate();
    if (heard) this.onFailure(error);
  }
}
