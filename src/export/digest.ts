import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';

/**
 * Passes bytes through unchanged while hashing and counting them. Being a Transform, it keeps
 * the backpressure of whatever reads it: the zip goes through one of these on its way to the
 * object store.
 */
export class DigestStream extends Transform {
  private readonly hash: Hash;
  private count = 0;

  constructor(
    algorithm: 'sha256' | 'sha384',
    private readonly onBytes: (total: number) => void = () => {},
  ) {
    super();
    this.hash = createHash(algorithm);
  }

  get bytes(): number {
    return this.count;
  }

  /** Lowercase hex digest; call once, after the stream ended. */
  hex(): string {
    return this.hash.digest('hex');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    this.onBytes(this.count);
    done(null, chunk);
  }
}

/** What was read of one item body: its size and SHA-256, and the error that ended it early. */
export interface ReadOutcome {
  readonly bytes: number;
  readonly sha256: string;
  readonly error?: Error;
}

/**
 * Reads `source` chunk by chunk, as its consumer asks, and hands each chunk to `observe`
 * before passing it on. A read error does not fail the returned stream: it ends it, so that a
 * zip entry already begun stays well formed, and `outcome` carries the error.
 */
export function observeBody(
  source: Readable,
  observe: (chunk: Buffer) => void = () => {},
): { readonly stream: Readable; readonly outcome: Promise<ReadOutcome> } {
  const hash = createHash('sha256');
  let bytes = 0;
  let settle: (outcome: ReadOutcome) => void = () => {};
  const outcome = new Promise<ReadOutcome>((resolve) => (settle = resolve));

  async function* pass(): AsyncGenerator<Buffer> {
    let error: Error | undefined;
    try {
      for await (const chunk of source) {
        const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        hash.update(buffer);
        bytes += buffer.length;
        observe(buffer);
        yield buffer;
      }
    } catch (caught) {
      error = caught instanceof Error ? caught : new Error(String(caught));
    } finally {
      settle({ bytes, sha256: hash.digest('hex'), ...(error ? { error } : {}) });
    }
  }

  return { stream: Readable.from(pass(), { objectMode: false }), outcome };
}
