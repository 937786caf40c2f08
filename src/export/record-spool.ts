import { closeSync, mkdtempSync, openSync, read, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { ExportError, messageOf } from '../core/errors.js';

/**
 * Records kept on disk as JSON lines while an export runs, and read back in order at its end:
 * the manifest's list of items grows by a record per item, which in memory would grow with the
 * mailbox (a few hundred bytes of JSON, a few KiB as objects). JSON.stringify escapes line
 * breaks inside strings, so one line is one record.
 *
 * The file is made in a folder of its own under the system's temporary folder (TMPDIR),
 * readable by this user only, and unlinked at once: only its descriptor keeps it, so that it
 * goes with `close`, or with the process however that ends.
 */

const readAt = promisify(read);

/** Lines are gathered to this many bytes before a write. */
const WRITE_BYTES = 1024 * 1024;
const READ_BYTES = 1024 * 1024;

export class RecordSpool<T> {
  readonly #fd: number;
  #pending: string[] = [];
  #pendingBytes = 0;
  #count = 0;
  #closed = false;

  /** A read on the thread pool: the descriptor is closed only once it settled. */
  #reading: Promise<unknown> | undefined;

  constructor() {
    const dir = mkdtempSync(join(tmpdir(), 'mailbox-export-'));
    const path = join(dir, 'records.jsonl');
    try {
      this.#fd = openSync(path, 'w+', 0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  get length(): number {
    return this.#count;
  }

  /** Adds a record; after `close`, a late writer's record is dropped with the rest. */
  push(record: T): void {
    if (this.#closed) return;
    const line = `${JSON.stringify(record)}\n`;
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    this.#count++;
    if (this.#pendingBytes >= WRITE_BYTES) this.#flush();
  }

  /** Every record's JSON, in the order pushed, without its line break. */
  async *lines(): AsyncGenerator<string> {
    this.#flush();
    const buffer = Buffer.alloc(READ_BYTES);
    let position = 0;
    let carry = Buffer.alloc(0);
    for (;;) {
      // A closed descriptor's number may already name another file.
      if (this.#closed) throw new Error('the record spool was closed while it was read');
      this.#reading = readAt(this.#fd, buffer, 0, READ_BYTES, position);
      const { bytesRead } = (await this.#reading) as { bytesRead: number };
      this.#reading = undefined;
      if (this.#closed) throw new Error('the record spool was closed while it was read');
      if (bytesRead === 0) break;
      position += bytesRead;

      // Lines are decoded whole: a chunk may end inside a line, even inside a character.
      const data = Buffer.concat([carry, buffer.subarray(0, bytesRead)]);
      const end = data.lastIndexOf(0x0a);
      carry = Buffer.from(end === -1 ? data : data.subarray(end + 1));
      if (end !== -1) yield* data.toString('utf8', 0, end).split('\n');
    }
    if (carry.length > 0) yield carry.toString('utf8');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const fd = this.#fd;
    if (this.#reading === undefined) closeSync(fd);
    else void this.#reading.catch(() => undefined).then(() => closeSync(fd));
  }

  #flush(): void {
    if (this.#pending.length === 0 || this.#closed) return;
    const data = Buffer.from(this.#pending.join(''), 'utf8');
    this.#pending = [];
    this.#pendingBytes = 0;
    let written = 0;
    try {
      while (written < data.length) {
        written += writeSync(this.#fd, data, written, data.length - written, null);
      }
    } catch (error) {
      const where = `the manifest's records under ${tmpdir()}`;
      const message = `could not keep ${where}: ${messageOf(error)}`;
      throw new ExportError('Internal', message, { cause: error });
    }
  }
}
