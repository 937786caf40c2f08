import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createInflateRaw, inflateRawSync } from 'node:zlib';
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
 * Entries up to this size are read and inflated in one call: a stream per entry cost about
 * 150 µs, more than the reading and hashing of a small message.
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
    return Readable.from(this.slices(start, end), { objectMode: false });
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
      for (const slice of this.slices(position, position + length)) {
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
    return Buffer.concat([...this.slices(start, end)]);
  }

  /** The bytes from `start` to `end`, as views of the blocks; fewer past the zip's end. */
  *slices(start: number, end: number): Generator<Buffer> {
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

/** APPNOTE 4.6.9: the Info-ZIP Unicode Path field, a second name that some tools prefer. */
const UNICODE_PATH_FIELD = 0x7075;

/** Whether a raw extra field block (APPNOTE 4.5.1) holds a field with this id. */
function hasExtraField(extra: Buffer, id: number): boolean {
  for (let at = 0; at + 4 <= extra.length; at += 4 + extra.readUInt16LE(at + 2)) {
    if (extra.readUInt16LE(at) === id) return true;
  }
  return false;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Why other tools could extract this entry under another name than `entry.fileName`, or
 * undefined. yauzl turns backslashes into slashes, takes a Unicode Path field over the name,
 * and reads names without the UTF-8 flag as CP437; unzip and 7-Zip each do some of these.
 */
export function nameProblem(entry: Entry): string | undefined {
  if (entry.extraFields.some((field) => field.id === UNICODE_PATH_FIELD)) {
    return 'carries a second name (an Info-ZIP Unicode Path field)';
  }
  let raw: string;
  try {
    raw = UTF8.decode(entry.fileNameRaw);
  } catch {
    return 'has a name that is not UTF-8';
  }
  if (raw !== entry.fileName) return `is named ${JSON.stringify(raw)} in the zip's bytes`;
  return undefined;
}

export interface OpenedZip {
  /** The zip, its entries read one by one (`eachEntry`), sizes checked. */
  readonly zip: ZipFile;
  /** The zip's size in bytes. */
  readonly size: number;
  /**
   * Where the entry's data starts, once its local header is checked against the central
   * directory: a tool that reads the zip front to back (a streaming unzip) takes the name and
   * the method from there. Throws what is wrong.
   */
  dataStart(entry: Entry): Promise<number>;
  /**
   * The entry's data as extracted, in pieces; throws once it is found not to be exactly what
   * the central directory says: more or fewer bytes, or compressed bytes left unused, which
   * no extracting tool would show.
   */
  content(entry: Entry, dataStart: number): AsyncGenerator<Buffer>;
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

  const dataStart = async (entry: Entry): Promise<number> => {
    const local = await zip.readLocalFileHeaderPromise(entry);
    if (!local.fileName.equals(entry.fileNameRaw)) {
      throw new Error('its local header names another file');
    }
    if (local.compressionMethod !== entry.compressionMethod) {
      throw new Error('its local header gives another compression method');
    }
    if (hasExtraField(local.extraField, UNICODE_PATH_FIELD)) {
      throw new Error('its local header carries a second name (an Info-ZIP Unicode Path field)');
    }
    return local.fileDataStart;
  };

  async function* content(entry: Entry, start: number): AsyncGenerator<Buffer> {
    const { compressedSize, uncompressedSize, compressionMethod } = entry;
    if (entry.isEncrypted()) throw new Error('is encrypted');
    if (compressionMethod !== 0 && compressionMethod !== 8) {
      throw new Error(`has compression method ${compressionMethod}, not stored or deflated`);
    }
    const end = start + compressedSize;
    if (end > size) throw new Error('the zip ends inside the entry');
    const consumed = (used: number): void => {
      if (used !== compressedSize) {
        throw new Error(`its deflate data ends after ${used} of its ${compressedSize} bytes`);
      }
    };
    const produced = (length: number): void => {
      if (length > uncompressedSize) {
        throw new Error(`expected ${uncompressedSize} bytes, found more`);
      }
    };

    // yauzl checked that a stored entry's two sizes agree.
    if (compressionMethod === 0) {
      yield* reader.slices(start, end);
      return;
    }

    if (compressedSize <= WHOLE_ENTRY_BYTES && uncompressedSize <= WHOLE_ENTRY_BYTES) {
      let inflated: { buffer: Buffer; engine: { bytesWritten: number } };
      try {
        inflated = inflateRawSync(reader.bytes(start, end), {
          info: true,
          maxOutputLength: Math.max(uncompressedSize, 1),
        }) as unknown as typeof inflated;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw error;
        throw new Error(`expected ${uncompressedSize} bytes, found more`, { cause: error });
      }
      const { buffer, engine } = inflated;
      consumed(engine.bytesWritten);
      if (buffer.length !== uncompressedSize) {
        throw new Error(`expected ${uncompressedSize} bytes, found ${buffer.length}`);
      }
      yield buffer;
      return;
    }

    const source = Readable.from(reader.slices(start, end), { objectMode: false });
    const inflate = createInflateRaw();
    let length = 0;
    try {
      for await (const chunk of source.pipe(inflate)) {
        length += (chunk as Buffer).length;
        produced(length);
        yield chunk as Buffer;
      }
    } finally {
      source.destroy();
      inflate.destroy();
    }
    consumed(inflate.bytesWritten);
    if (length !== uncompressedSize) {
      throw new Error(`expected ${uncompressedSize} bytes, found ${length}`);
    }
  }

  return { zip, size, dataStart, content };
}
