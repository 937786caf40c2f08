import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { inflateRawSync } from 'node:zlib';
import yauzl, { type Entry, type ZipFile } from 'yauzl';

/**
 * A zip opened for reading through yauzl, its bytes read a block at a time. yauzl reads a
 * zip in pieces of a few dozen bytes (each central directory record, each local header), and
 * by default each piece is a read of its own through the thread pool: checking a zip of
 * 200,000 entries took more system time than anything else. Blocks read once and kept a while
 * serve those pieces from memory, and the zip is read front to back at most once per pass.
 */

const BLOCK_BYTES = 1024 * 1024;

/**
 * Blocks kept: a pass reads the central directory at the end of the zip and the entries from
 * its start at once, each in order, so a few blocks serve both.
 */
const BLOCKS_KEPT = 8;

/**
 * Entries up to this size are read and inflated in one call: a stream per entry, with yauzl's
 * checks on it, cost about 150 µs, more than the reading and hashing of a small message.
 */
const WHOLE_ENTRY_BYTES = 1024 * 1024;

class BlockReader extends yauzl.RandomAccessReader {
  readonly #blocks = new Map<number, Buffer>();

  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return Readable.from(this.#slices(start, end), { objectMode: false });
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (error: Error | null, bytesRead?: number) => void,
  ): void {
    let read = 0;
    try {
      for (const slice of this.#slices(position, position + length)) {
        read += slice.copy(buffer, offset + read);
      }
    } catch (error) {
      setImmediate(callback, error as Error);
      return;
    }
    setImmediate(callback, null, read);
  }

  override close(callback: (error: Error | null) => void): void {
    this.#blocks.clear();
    try {
      closeSync(this.fd);
    } catch (error) {
      setImmediate(callback, error as Error);
      return;
    }
    setImmediate(callback, null);
  }

  /** The bytes from `start` to `end`, joined; fewer past the zip's end. */
  bytes(start: number, end: number): Buffer {
    return Buffer.concat([...this.#slices(start, end)]);
  }

  /** The bytes from `start` to `end`, as views of the blocks; fewer past the zip's end. */
  *#slices(start: number, end: number): Generator<Buffer> {
    for (let at = start; at < Math.min(end, this.size);) {
      const index = Math.floor(at / BLOCK_BYTES);
      const block = this.#block(index);
      const from = at - index * BLOCK_BYTES;
      const to = Math.min(block.length, end - index * BLOCK_BYTES);
      if (to <= from) return;
      yield block.subarray(from, to);
      at += to - from;
    }
  }

  /** A block, read if it is not kept; a block is never written to once read. */
  #block(index: number): Buffer {
    const kept = this.#blocks.get(index);
    if (kept !== undefined) {
      // Most recently used last: the first of the map is the one to drop.
      this.#blocks.delete(index);
      this.#blocks.set(index, kept);
      return kept;
    }

    const start = index * BLOCK_BYTES;
    const block = Buffer.allocUnsafeSlow(Math.min(BLOCK_BYTES, this.size - start));
    let filled = 0;
    while (filled < block.length) {
      const read = readSync(this.fd, block, filled, block.length - filled, start + filled);
      if (read === 0) break;
      filled += read;
    }
    const read = block.subarray(0, filled);
    this.#blocks.set(index, read);
    if (this.#blocks.size > BLOCKS_KEPT) this.#blocks.delete(this.#blocks.keys().next().value!);
    return read;
  }
}

export interface OpenedZip {
  /** The zip, its entries read one by one (`eachEntry`), sizes checked. */
  readonly zip: ZipFile;
  /**
   * A small entry's data, read and inflated at once and its size checked; undefined for an
   * entry to stream through `zip.openReadStream`, which is larger or not stored or deflated.
   */
  wholeEntry(entry: Entry): Promise<Buffer | undefined>;
}

export async function openZipFile(path: string): Promise<OpenedZip> {
  const fd = openSync(path, 'r');
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  const reader = new BlockReader(fd, size);
  const zip = await yauzl.fromRandomAccessReaderPromise(reader, size, {
    lazyEntries: true,
    autoClose: false,
    validateEntrySizes: true,
  });

  const wholeEntry = async (entry: Entry): Promise<Buffer | undefined> => {
    const { compressedSize, uncompressedSize, compressionMethod } = entry;
    if (compressedSize > WHOLE_ENTRY_BYTES || uncompressedSize > WHOLE_ENTRY_BYTES)
      return undefined;
    if (entry.isEncrypted() || (compressionMethod !== 0 && compressionMethod !== 8))
      return undefined;

    const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
    const stored = reader.bytes(fileDataStart, fileDataStart + compressedSize);
    if (stored.length < compressedSize) throw new Error('the zip ends inside the entry');
    const data =
      compressionMethod === 8
        ? inflateRawSync(stored, { maxOutputLength: uncompressedSize + 1 })
        : stored;
    if (data.length !== uncompressedSize) {
      throw new Error(`expected ${uncompressedSize} bytes, found ${data.length}`);
    }
    return data;
  };
  return { zip, wholeEntry };
}
