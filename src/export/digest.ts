import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { crc32 as crc32Of } from 'node:zlib';

import type { DigestThread } from './digest-thread.js';

/**
 * Passes bytes through unchanged while counting them. Being a Transform, it keeps the
 * backpressure of whatever reads it: the zip goes through one of these on its way to the
 * object store.
 */
export class ByteCounter extends Transform {
  #count = 0;

  constructor(private readonly onBytes: (total: number) => void = () => {}) {
    super();
  }

  get bytes(): number {
    return this.#count;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#count += chunk.length;
    this.onBytes(this.#count);
    done(null, chunk);
  }
}

/** What was read of one item body: its size and SHA-256, and the error that ended it early. */
export interface ReadOutcome {
  readonly bytes: number;
  readonly sha256: string;
  /** The CRC-32 of the bytes, when they were hashed on a digest thread. */
  readonly crc32?: number;
  readonly error?: Error;
}

/** Chunks of a body on their way through the digest thread at once. */
const CHUNKS_AHEAD = 4;

/**
 * Reads `source` chunk by chunk, as its consumer asks, and hands each chunk to `observe`
 * before passing it on. A read error does not fail the returned stream: it ends it, so that a
 * zip entry already begun stays well formed, and `outcome` carries the error. With `thread`,
 * the bytes are hashed there, and their CRC-32 is worked out here, for the zip writer to
 * skip; `outcome` rejects if the thread fails, or if the consumer stops reading before the end.
 */
export function observeBody(
  source: Readable,
  observe: (chunk: Buffer) => void = () => {},
  thread?: DigestThread,
): { readonly stream: Readable; readonly outcome: Promise<ReadOutcome> } {
  const digest = thread?.open('sha256');
  let crc = 0;
  const hash = digest === undefined ? createHash('sha256') : undefined;
  let bytes = 0;
  let settle: (outcome: ReadOutcome | Promise<ReadOutcome>) => void = () => {};
  const outcome = new Promise<ReadOutcome>((resolve) => (settle = resolve));
  // Its failure is taken where it is awaited; until then it must not count as unhandled.
  outcome.catch(() => undefined);

  const passOn = (chunk: Buffer): Buffer => {
    bytes += chunk.length;
    observe(chunk);
    return chunk;
  };

  async function* pass(): AsyncGenerator<Buffer> {
    let error: Error | undefined;
    let done = false;
    const ahead: Promise<Buffer>[] = [];
    try {
      try {
        for await (const chunk of source) {
          const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
          if (digest === undefined) {
            hash!.update(buffer);
            yield passOn(buffer);
            continue;
          }
          crc = crc32Of(buffer, crc);
          ahead.push(digest.hash(buffer));
          if (ahead.length >= CHUNKS_AHEAD) yield passOn(await ahead.shift()!);
        }
      } catch (caught) {
        error = caught instanceof Error ? caught : new Error(String(caught));
      }
      // What was read before an error goes on too: the digest covers every chunk it was given.
      while (ahead.length > 0) yield passOn(await ahead.shift()!);
      done = true;
    } finally {
      const failure = error ? { error } : {};
      if (digest === undefined) {
        settle({ bytes, sha256: hash!.digest('hex'), ...failure });
      } else if (done) {
        settle(digest.end().then(({ hex }) => ({ bytes, sha256: hex, crc32: crc, ...failure })));
      } else {
        digest.drop();
        settle(Promise.reject(new Error('the body was not read to its end')));
      }
    }
  }

  return { stream: Readable.from(pass(), { objectMode: false }), outcome };
}
