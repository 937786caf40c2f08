import { closeSync, mkdtempSync, openSync, read, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { ExportError, messageOf } from '../core/errors.js';

/**
 * What an export keeps until its end, kept on disk: its cut, the manifest's lists and the zip's
 * central directory each grow by a record per item, and in memory they would grow with the
 * mailbox. They are written once, in order, and read back in order, so a file is all they need.
 *
 * The file is made in a folder of its own under the system's temporary folder (TMPDIR),
 * readable by this user only, and unlinked at once: only its descriptor keeps it, so that it
 * goes with `close`, or with the process however that ends.
 */

const readAt = promisify(read);

/** Bytes are gathered to this many before a write, and read back this many at a time. */
const WRITE_BYTES = 1024 * 1024;
const READ_BYTES = 1024 * 1024;

/** A range of a spool's bytes: `bytes` before and after what was appended in between. */
export interface SpoolRange {
  readonly start: number;
  readonly end: number;
}

/** Bytes appended at the end of a file, read back in ranges. */
export class ByteSpool {
  readonly #fd: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #bytes = 0;
  #closed = false;
  /** A read on the thread pool: the descriptor is closed only once it settled. */
  #reading: Promise<unknown> | undefined;

  constructor() {
    const dir = mkdtempSync(join(tmpdir(), 'mailbox-export-'));
    try {
      this.#fd = openSync(join(dir, 'spool'), 'w+', 0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Bytes appended so far: where the next ones start. */
  get bytes(): number {
    return this.#bytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Appends `data`, which must not change after; after `close`, nothing. */
  append(data: Buffer): void {
    if (this.#closed || data.length === 0) return;
    this.#pending.push(data);
    this.#pendingBytes += data.length;
    this.#bytes += data.length;
    if (this.#pendingBytes >= WRITE_BYTES) this.flush();
  }

  /**
   * The bytes of `range` (all of them by default), in chunks of their own of `chunkBytes` at
   * most; with `reuse`, in one buffer that the next chunk overwrites, for a reader that copies
   * what it keeps.
   */
  async *read(
    range: SpoolRange = { start: 0, end: this.#bytes },
    reuse = false,
    chunkBytes = READ_BYTES,
  ): AsyncGenerator<Buffer> {
    this.flush();
    let position = range.start;
    let buffer: Buffer | undefined;
    while (position < range.end) {
      // A closed descriptor's number may already name another file.
      if (this.#closed) throw new Error('a spool was closed while it was read');
      const size = Math.min(chunkBytes, range.end - position);
      const chunk = reuse ? (buffer ??= Buffer.allocUnsafeSlow(size)) : Buffer.allocUnsafe(size);
      this.#reading = readAt(this.#fd, chunk, 0, size, position);
      const { bytesRead } = (await this.#reading) as { bytesRead: number };
      this.#reading = undefined;
      if (this.#closed) throw new Error('a spool was closed while it was read');
      if (bytesRead === 0) throw new Error(`a spool ends at ${position} of ${range.end} bytes`);
      position += bytesRead;
      yield chunk.subarray(0, bytesRead);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    const fd = this.#fd;
    if (this.#reading === undefined) closeSync(fd);
    else void this.#reading.catch(() => undefined).then(() => closeSync(fd));
  }

  /** Writes what is gathered; `read` does it anyway. */
  flush(): void {
    if (this.#pendingBytes === 0 || this.#closed) return;
    const data = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
    let written = 0;
    try {
      while (written < data.length) {
        written += writeSync(this.#fd, data, written, data.length - written, null);
      }
    } catch (error) {
      const message = `could not keep the export's records under ${tmpdir()}: ${messageOf(error)}`;
      throw new ExportError('Internal', message, { cause: error });
    }
  }
}

/**
 * Records as JSON lines in a ByteSpool. JSON.stringify escapes line breaks inside strings, so
 * one line is one record.
 */
export class RecordSpool<T> {
  readonly #bytes = new ByteSpool();
  #count = 0;

  get length(): number {
    return this.#count;
  }

  /** Bytes of every record pushed so far: where the next one starts. */
  get bytes(): number {
    return this.#bytes.bytes;
  }

  /** Adds a record; after `close`, a late writer's record is dropped with the rest. */
  push(record: T): void {
    if (this.#bytes.closed) return;
    this.#bytes.append(Buffer.from(`${JSON.stringify(record)}\n`));
    this.#count++;
  }

  /**
   * The JSON of every record, or of those in `range`, in the order pushed, one by one, read
   * `chunkBytes` at a time: less for a reader that reads many ranges at once.
   */
  async *lines(range?: SpoolRange, chunkBytes?: number): AsyncGenerator<string> {
    let carry = Buffer.alloc(0);
    for await (const chunk of this.#bytes.read(range, true, chunkBytes)) {
      // Lines are decoded whole: a chunk may end inside a line, even inside a character. What
      // is carried over is copied, as the next chunk overwrites this one.
      const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const last = data.lastIndexOf(0x0a);
      carry = Buffer.from(last === -1 ? data : data.subarray(last + 1));
      if (last !== -1) yield* data.toString('utf8', 0, last).split('\n');
    }
    if (carry.length > 0) yield carry.toString('utf8');
  }

  /** Writes what is gathered; `lines` does it anyway. */
  flush(): void {
    this.#bytes.flush();
  }

  close(): void {
    this.#bytes.close();
  }
}

/** `open()`, or an `Internal` error that says what could not be kept where. */
function opened<T>(open: () => T, what: string, jobId?: string): T {
  try {
    return open();
  } catch (error) {
    const job = jobId === undefined ? '' : `job ${jobId}: `;
    const message = `${job}could not make a file for ${what} under ${tmpdir()}`;
    throw new ExportError('Internal', message, { cause: error });
  }
}

export function openByteSpool(what: string): ByteSpool {
  return opened(() => new ByteSpool(), what);
}

export function openSpool<T>(jobId: string, what: string): RecordSpool<T> {
  return opened(() => new RecordSpool<T>(), what, jobId);
}
