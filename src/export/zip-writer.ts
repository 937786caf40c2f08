import { PassThrough, type Readable } from 'node:stream';
import { promisify } from 'node:util';
import { constants as zlib, crc32, deflateRaw, type ZlibOptions } from 'node:zlib';

import type { Compression } from '../core/export.js';
import { DigestThread } from './digest-thread.js';
import { EntryWorkers, type EntryFacts } from './entry-workers.js';
import { openByteSpool } from './spool.js';
import {
  centralHeader,
  dataDescriptor,
  endRecords,
  localHeader,
  METHOD_DEFLATE,
  METHOD_STORE,
} from './zip-records.js';

/**
 * Deflate level per compression setting: `store` writes entries uncompressed (method 0, the
 * fastest and the best for mail that is mostly base64 attachments), `fast` is deflate level 1,
 * `default` is deflate level 6, zlib's own default. The zip bytes are deterministic for a given
 * level and a given zlib build; another Node release may deflate differently.
 */
export const DEFLATE_LEVELS: Readonly<Record<Compression, number>> = Object.freeze({
  store: 0,
  fast: 1,
  default: 6,
});

/**
 * Entry data is deflated in blocks of this many bytes, each on its own, so that several run at
 * once on libuv's thread pool, within one large entry as across small ones. A block is primed
 * with the 32 KiB before it (the whole deflate window) and ends on a sync flush, the way pigz
 * does it: the blocks join into one ordinary deflate stream, and compress within a fraction of
 * a percent of one stream. The size is fixed, so the bytes do not depend on timing.
 */
const BLOCK_BYTES = 1024 * 1024;
const WINDOW_BYTES = 32 * 1024;

/**
 * An entry up to this size is deflated whole, in a batch with others on the entry threads
 * (entry-workers.ts): a trip through libuv's pool costs the main thread about 150 µs whatever
 * the size, more than deflating a typical 3 KiB message takes; past 64 KiB a trip of its own
 * costs less than the deflate.
 */
const SMALL_ENTRY_BYTES = 64 * 1024;

/** The largest data of a file `addWholeFiles` takes: a small entry. */
export const WHOLE_ENTRY_BYTES = SMALL_ENTRY_BYTES;

/** The most files `addWholeFiles` takes at once: what fits between resuming and full. */
export const WHOLE_GROUP_ENTRIES = 64;

/**
 * Small entries read but not yet written out: four batches of the entry threads (one at work
 * on each of two threads, one ready, one filling), at most 16 MiB of input.
 */
const SMALL_ENTRIES_AHEAD = 256;

/**
 * Once that many are ahead, reading waits until this few are: then a whole batch of the entry
 * threads fits again, where resuming at the first free place would send batches of one.
 */
const SMALL_ENTRIES_RESUME = 192;

/**
 * Blocks read but not yet written out. Two keep both cores busy; six leave room for uneven
 * blocks (zlib's pool has four threads), and bound what waits in memory to a dozen MiB of
 * input and output, whatever the sizes of the items.
 */
const BLOCKS_AHEAD = 6;

/**
 * Records and data go out in chunks of this size: few large writes for the hash, the cipher
 * and the store, instead of a write per record.
 */
const OUTPUT_CHUNK_BYTES = 256 * 1024;

/**
 * Output chunks on their way through the digest thread at once: the thread hashes one while
 * the main thread makes the next.
 */
const OUTPUT_CHUNKS_AHEAD = 4;

const deflate = promisify<Buffer, ZlibOptions, Buffer>(deflateRaw);

const EMPTY = Buffer.alloc(0);

/**
 * The first `count` bytes of `parts`, taken off them: a view of the first part when it holds
 * them all, as it does when a source reads in blocks of that size, else a copy. Every Buffer
 * made costs the garbage collector, which V8 runs for each 64 MiB of them.
 */
function takeBytes(parts: Buffer[], count: number): Buffer {
  const first = parts[0]!;
  if (first.length >= count) {
    if (first.length === count) parts.shift();
    else parts[0] = first.subarray(count);
    return first.subarray(0, count);
  }

  const block = Buffer.allocUnsafe(count);
  let filled = 0;
  while (filled < count) {
    const part = parts[0]!;
    const used = Math.min(part.length, count - filled);
    part.copy(block, filled, 0, used);
    filled += used;
    if (used === part.length) parts.shift();
    else parts[0] = part.subarray(used);
  }
  return block;
}

/** One file of the zip: its blocks in order, as they are read and compressed. */
interface FileEntry {
  readonly name: Buffer;
  readonly method: number;
  readonly blocks: (Promise<Buffer> | undefined)[];
  /** Deflated whole with other small entries, and counted apart in what is read ahead. */
  small: boolean;
  /** Settles once the data was read to its end, or failed. */
  consumed: Promise<void>;
  ended: boolean;
  crc32: number;
  /** The CRC-32, when the caller works it out as it reads instead of the writer. */
  readonly crc32Given: Promise<number> | undefined;
  size: number;
}

/** Small files added together, whose facts come together. */
interface WholeFiles {
  readonly names: readonly Buffer[];
  readonly facts: Promise<readonly (EntryFacts | undefined)[]>;
}

type QueuedEntry =
  { readonly directory: Buffer } | { readonly file: FileEntry } | { readonly whole: WholeFiles };

/**
 * A zip written as a stream, entries in the order they are added, with the records of
 * zip-records.ts. Only `output` is read. `addFile` resolves once an entry's data was read, while
 * its blocks may still be deflating: the caller opens the next item meanwhile, and the
 * compression of both overlaps on the two cores a small machine has.
 */
export class ZipWriter {
  readonly output = new PassThrough({ highWaterMark: OUTPUT_CHUNK_BYTES });
  readonly #level: number;
  readonly #queue: QueuedEntry[] = [];
  /**
   * The central directory, a record per entry, waits on disk until the end: a mailbox of a
   * million messages would otherwise keep a hundred MiB of it in memory.
   */
  readonly #central = openByteSpool("the zip's central directory");
  #entries = 0;
  #offset = 0;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #blocksAhead = 0;
  #smallAhead = 0;
  /** The entry threads, on which `addWholeFiles` callers work out their files' facts. */
  readonly workers: EntryWorkers;
  /** The thread on which `addFile` callers may hash large data; the zip's own hash runs there. */
  readonly digests = new DigestThread((error) => this.#fail(error));
  /** The zip's SHA-384, worked out on the digest thread as its chunks go out. */
  readonly #outputDigest = this.digests.open('sha384');
  /** Output chunks being hashed, oldest first; each goes out once it is back. */
  readonly #hashing: Promise<Buffer>[] = [];
  #sha384: string | undefined;
  #finished = false;
  /** Set once the end records are written: a close after that is no failure. */
  #complete = false;
  #failure: Error | undefined;
  /** Those waiting for something to change: a block read or written, an entry, the end. */
  #waiting: (() => void)[] = [];

  constructor(compression: Compression) {
    this.#level = DEFLATE_LEVELS[compression];
    this.workers = new EntryWorkers(this.#level);
    this.output.once('close', () => {
      if (!this.#complete) this.#fail(new Error('the zip output was closed before its end'));
    });
    this.#writeAll().catch((error: unknown) => this.#fail(error as Error));
  }

  /** A folder entry: its name ends in `/`, which is what makes it a folder to readers. */
  addDirectory(zipPath: string): void {
    const name = zipPath.endsWith('/') ? zipPath : `${zipPath}/`;
    this.#enqueue({ directory: Buffer.from(name, 'utf8') });
  }

  /**
   * Adds a file whose data is `data`, a stream or the whole data, and resolves once `data` was
   * read to its end. A stream must not fail: callers end it early instead, so that the entry
   * stays well formed. `crc32`, when given, is the CRC-32 of the data the stream gave, which
   * the writer then does not work out. The writer takes the data's memory: a chunk may be
   * moved to the digest thread, which leaves the caller's Buffer empty, so a caller that still
   * needs a chunk gives a copy.
   */
  addFile(zipPath: string, data: Readable | Buffer, crc32?: Promise<number>): Promise<void> {
    // Its failure is taken where it is written; until then it must not count as unhandled.
    crc32?.catch(() => undefined);
    const entry: FileEntry = {
      name: Buffer.from(zipPath, 'utf8'),
      method: this.#level === 0 ? METHOD_STORE : METHOD_DEFLATE,
      blocks: [],
      small: false,
      consumed: Promise.resolve(),
      ended: false,
      crc32: 0,
      crc32Given: crc32,
      size: 0,
    };
    this.#enqueue({ file: entry });
    entry.consumed = this.#read(entry, data, zipPath);
    return entry.consumed;
  }

  /**
   * Adds small files, one per name of `zipPaths`, whose data and CRC-32 `facts` will give in
   * the same order, worked out on the entry threads (`workers`) while the next entries are
   * read; a file whose facts are undefined is left out. Resolves once the files have room
   * among those read ahead; at most WHOLE_GROUP_ENTRIES at once.
   */
  async addWholeFiles(
    zipPaths: readonly string[],
    facts: Promise<readonly (EntryFacts | undefined)[]>,
  ): Promise<void> {
    if (zipPaths.length > WHOLE_GROUP_ENTRIES) {
      throw new RangeError(`${zipPaths.length} files at once; at most ${WHOLE_GROUP_ENTRIES}`);
    }
    // Its failure is taken where it is written; until then it must not count as unhandled.
    facts.catch(() => undefined);
    await this.#room(true, zipPaths.length);

    this.#smallAhead += zipPaths.length;
    const names = zipPaths.map((zipPath) => Buffer.from(zipPath, 'utf8'));
    this.#enqueue({ whole: { names, facts } });
  }

  /** The SHA-384 of every byte of `output`, in hex, once the zip has ended. */
  get sha384(): string {
    if (this.#sha384 === undefined) throw new Error('the zip has not ended yet');
    return this.#sha384;
  }

  /** What made the zip fail, once it has: every later call throws it. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Writes the central directory after the last entry; zip64 records come when needed. */
  finish(): void {
    this.#finished = true;
    this.workers.flush();
    this.#changed();
  }

  #enqueue(entry: QueuedEntry): void {
    if (this.#finished) throw new Error('entry added to a finished zip');
    this.#queue.push(entry);
    this.#changed();
  }

  #changed(): void {
    for (const wake of this.#waiting.splice(0)) wake();
  }

  #change(): Promise<void> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#changed();
    this.output.destroy(error);
    this.#central.close();
    this.digests.close();
    void this.workers.close();
  }

  /** Cuts `data` into blocks and starts each one's compression, as far ahead as allowed. */
  async #read(entry: FileEntry, data: Readable | Buffer, zipPath: string): Promise<void> {
    const parts: Buffer[] = [];
    let partBytes = 0;
    let window: Buffer | undefined;

    const submit = async (block: Buffer, last: boolean): Promise<void> => {
      const small = window === undefined && last && block.length <= SMALL_ENTRY_BYTES;
      await this.#room(small);
      if (small) this.#smallAhead++;
      else this.#blocksAhead++;
      entry.small = small;
      entry.blocks.push(this.#compress(block, window, last, small));
      // Only deflate needs the window; a copy, so that the block's memory can go once written.
      window =
        this.#level === 0
          ? EMPTY
          : Buffer.from(block.subarray(Math.max(0, block.length - WINDOW_BYTES)));
      this.#changed();
    };

    try {
      const chunks = Buffer.isBuffer(data) ? [data] : (data as AsyncIterable<Buffer>);
      for await (const chunk of chunks) {
        if (this.#failure !== undefined) throw this.#failure;
        if (entry.crc32Given === undefined) entry.crc32 = crc32(chunk, entry.crc32);
        entry.size += chunk.length;
        parts.push(chunk);
        partBytes += chunk.length;

        // A full block goes once a byte past it is known: only then is it not the last.
        while (partBytes > BLOCK_BYTES) {
          partBytes -= BLOCK_BYTES;
          await submit(takeBytes(parts, BLOCK_BYTES), false);
        }
      }
      await submit(parts.length === 1 ? parts[0]! : Buffer.concat(parts, partBytes), true);
    } catch (error) {
      if (!Buffer.isBuffer(data)) data.destroy();
      if ((error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') {
        throw new Error(`zip entry ${zipPath} closed before its end`, { cause: error });
      }
      throw error;
    } finally {
      entry.ended = true;
      this.#changed();
    }
  }

  /** Waits until one more entry (`small`) or block may be read ahead. */
  async #room(small: boolean, entries = 1): Promise<void> {
    const full = small
      ? this.#smallAhead + entries > SMALL_ENTRIES_AHEAD
      : this.#blocksAhead >= BLOCKS_AHEAD;
    if (full) {
      // What is queued for the entry threads goes now: nothing more joins it for a while.
      this.workers.flush();
      const enough = (): boolean =>
        small ? this.#smallAhead <= SMALL_ENTRIES_RESUME : this.#blocksAhead < BLOCKS_AHEAD;
      while (!enough() && this.#failure === undefined) await this.#change();
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  #compress(
    block: Buffer,
    window: Buffer | undefined,
    last: boolean,
    small: boolean,
  ): Promise<Buffer> {
    if (this.#level === 0) return Promise.resolve(block);
    if (small) {
      const compressed = this.workers
        .submit(block, { sha256: false, header: false })
        .then((facts) => facts.data);
      compressed.catch(() => undefined);
      return compressed;
    }
    const compressed = deflate(block, {
      level: this.#level,
      finishFlush: last ? zlib.Z_FINISH : zlib.Z_SYNC_FLUSH,
      ...(window !== undefined && window.length > 0 ? { dictionary: window } : {}),
    });
    // Its failure is taken where it is written; until then it must not count as unhandled.
    compressed.catch(() => undefined);
    return compressed;
  }

  async #writeAll(): Promise<void> {
    for (;;) {
      if (this.#failure !== undefined) return;
      const next = this.#queue[0];
      if (next === undefined) {
        if (this.#finished) break;
        await this.#change();
        continue;
      }

      if ('directory' in next) await this.#writeDirectory(next.directory);
      else if ('whole' in next) await this.#writeWhole(next.whole);
      else await this.#writeFile(next.file);
      this.#queue.shift();
    }

    const directoryOffset = this.#offset;
    for await (const records of this.#central.read()) await this.#write(records);
    const directorySize = this.#offset - directoryOffset;
    await this.#write(endRecords(this.#entries, directoryOffset, directorySize));
    await this.#flush();
    while (this.#hashing.length > 0) await this.#send(await this.#hashing.shift()!);
    this.#sha384 = (await this.#outputDigest.end()).hex;
    this.#complete = true;
    this.#central.close();
    this.digests.close();
    await this.workers.close();
    this.output.end();
  }

  async #writeDirectory(name: Buffer): Promise<void> {
    const offset = this.#offset;
    await this.#write(localHeader(name, METHOD_STORE, true));
    const record = { name, directory: true, method: METHOD_STORE, offset };
    this.#addCentral(centralHeader({ ...record, crc32: 0, compressedSize: 0, size: 0 }));
  }

  async #writeFile(entry: FileEntry): Promise<void> {
    const offset = this.#offset;
    await this.#write(localHeader(entry.name, entry.method, false));

    let compressedSize = 0;
    for (let index = 0; ; index++) {
      while (index >= entry.blocks.length && !entry.ended && this.#failure === undefined) {
        await this.#change();
      }
      if (this.#failure !== undefined) throw this.#failure;
      if (index >= entry.blocks.length) break;

      const block = await entry.blocks[index]!;
      entry.blocks[index] = undefined;
      if (entry.small) this.#smallAhead--;
      else this.#blocksAhead--;
      this.#changed();
      compressedSize += block.length;
      await this.#write(block);
    }
    await entry.consumed;
    if (entry.crc32Given !== undefined) entry.crc32 = await entry.crc32Given;

    const record = { ...entry, directory: false, compressedSize, offset };
    await this.#write(dataDescriptor(record));
    this.#addCentral(centralHeader(record));
  }

  async #writeWhole(files: WholeFiles): Promise<void> {
    const known = await files.facts;
    this.#smallAhead -= files.names.length;
    this.#changed();

    const method = this.#level === 0 ? METHOD_STORE : METHOD_DEFLATE;
    for (const [index, name] of files.names.entries()) {
      const facts = known[index];
      if (facts === undefined) continue;

      const offset = this.#offset;
      await this.#write(localHeader(name, method, false));
      await this.#write(facts.data);
      const record = {
        name,
        method,
        crc32: facts.crc32,
        size: facts.size,
        directory: false,
        compressedSize: facts.data.length,
        offset,
      };
      await this.#write(dataDescriptor(record));
      this.#addCentral(centralHeader(record));
    }
  }

  #addCentral(record: Buffer): void {
    this.#central.append(record);
    this.#entries++;
  }

  /** Gathers small records into output chunks; a chunk goes out once it is full. */
  async #write(bytes: Buffer): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    this.#offset += bytes.length;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    if (this.#pendingBytes >= OUTPUT_CHUNK_BYTES) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pendingBytes === 0) return;
    const chunk = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
    const hashed = this.#outputDigest.hash(chunk);
    // Its failure is the thread's, which fails the zip; until taken it must not go unhandled.
    hashed.catch(() => undefined);
    this.#hashing.push(hashed);
    if (this.#hashing.length >= OUTPUT_CHUNKS_AHEAD) await this.#send(await this.#hashing.shift()!);
  }

  async #send(chunk: Buffer): Promise<void> {
    if (this.output.write(chunk)) return;

    await new Promise<void>((resolve) => {
      const settle = (): void => {
        this.output.off('drain', settle);
        this.output.off('close', settle);
        resolve();
      };
      this.output.on('drain', settle);
      this.output.on('close', settle);
    });
    if (this.#failure !== undefined) throw this.#failure;
  }
}
