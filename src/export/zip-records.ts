/**
 * The records of a zip file, byte by byte, as PKWARE's APPNOTE.TXT (6.3.10) lays them out.
 * Only what an export writes: UTF-8 names, one fixed time, entries streamed with a data
 * descriptor (their sizes are known only after their data), zip64 where a size, an offset or
 * the number of entries outgrows the classic fields. All numbers are little-endian.
 */

/** APPNOTE 4.4.3: 4.5 is the version that reads zip64; 2.0 reads deflate and folders. */
const VERSION_ZIP64 = 45;
const VERSION_DEFAULT = 20;
/** APPNOTE 4.4.2: the high byte 3 says Unix, so that readers take the mode from the attributes. */
const MADE_BY_UNIX = (3 << 8) | VERSION_ZIP64;

/** APPNOTE 4.4.4: bit 3, sizes and CRC in a data descriptor; bit 11, names in UTF-8. */
const FLAG_DATA_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;

/**
 * MS-DOS time and date of 1980-01-01 00:00:00, the earliest a zip can carry: the same in every
 * time zone, so that the same mailbox gives the same bytes wherever it is exported.
 */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

const MAX_16 = 0xffff;
const MAX_32 = 0xffffffff;

const FILE_ATTRIBUTES = (0o100644 << 16) >>> 0;
/** The Unix mode in the high half, and MS-DOS's directory bit for readers that look there. */
const DIRECTORY_ATTRIBUTES = ((0o40755 << 16) | 0x10) >>> 0;

export const METHOD_STORE = 0;
export const METHOD_DEFLATE = 8;

/** One entry as the central directory describes it, once its data is written. */
export interface EntryRecord {
  readonly name: Buffer;
  readonly directory: boolean;
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Where its local header starts, from the beginning of the zip. */
  readonly offset: number;
}

/** A little-endian writer over a buffer of known length. */
class Fields {
  readonly bytes: Buffer;
  #at = 0;

  constructor(length: number) {
    this.bytes = Buffer.alloc(length);
  }

  u16(value: number): this {
    this.#at = this.bytes.writeUInt16LE(value, this.#at);
    return this;
  }

  u32(value: number): this {
    this.#at = this.bytes.writeUInt32LE(value >>> 0, this.#at);
    return this;
  }

  /** Sizes and offsets stay below 2^53 here, so a JavaScript number holds them exactly. */
  u64(value: number): this {
    this.#at = this.bytes.writeBigUInt64LE(BigInt(value), this.#at);
    return this;
  }

  raw(data: Buffer): this {
    this.#at += data.copy(this.bytes, this.#at);
    return this;
  }

  done(): Buffer {
    if (this.#at !== this.bytes.length) {
      throw new Error(`zip record of ${this.bytes.length} bytes filled to ${this.#at}`);
    }
    return this.bytes;
  }
}

/**
 * APPNOTE 4.3.7. A file's CRC and sizes are left at zero: they follow its data in the data
 * descriptor. A folder has no data, so its header is complete as it stands.
 */
export function localHeader(name: Buffer, method: number, directory: boolean): Buffer {
  return new Fields(30 + name.length)
    .u32(0x04034b50)
    .u16(VERSION_DEFAULT)
    .u16(directory ? FLAG_UTF8 : FLAG_UTF8 | FLAG_DATA_DESCRIPTOR)
    .u16(method)
    .u16(DOS_TIME)
    .u16(DOS_DATE)
    .u32(0)
    .u32(0)
    .u32(0)
    .u16(name.length)
    .u16(0)
    .raw(name)
    .done();
}

function needsZip64(entry: Pick<EntryRecord, 'compressedSize' | 'size'>): boolean {
  return entry.compressedSize >= MAX_32 || entry.size >= MAX_32;
}

/**
 * APPNOTE 4.3.9: the CRC and sizes after a file's data, with the optional signature that every
 * current reader expects. Sizes take eight bytes each once either outgrows four (4.3.9.2).
 */
export function dataDescriptor(entry: Omit<EntryRecord, 'name' | 'directory' | 'offset'>): Buffer {
  if (needsZip64(entry)) {
    return new Fields(24)
      .u32(0x08074b50)
      .u32(entry.crc32)
      .u64(entry.compressedSize)
      .u64(entry.size)
      .done();
  }
  return new Fields(16)
    .u32(0x08074b50)
    .u32(entry.crc32)
    .u32(entry.compressedSize)
    .u32(entry.size)
    .done();
}

/**
 * APPNOTE 4.3.12, with the zip64 extended information field of 4.5.3: it holds, in this order,
 * those of the size, the compressed size and the offset whose classic field says 0xFFFFFFFF.
 */
export function centralHeader(entry: EntryRecord): Buffer {
  const bigSize = entry.size >= MAX_32;
  const bigCompressed = entry.compressedSize >= MAX_32;
  const bigOffset = entry.offset >= MAX_32;
  const wide = [
    bigSize && entry.size,
    bigCompressed && entry.compressedSize,
    bigOffset && entry.offset,
  ].filter((value): value is number => value !== false);
  const extraLength = wide.length > 0 ? 4 + 8 * wide.length : 0;

  const record = new Fields(46 + entry.name.length + extraLength)
    .u32(0x02014b50)
    .u16(MADE_BY_UNIX)
    .u16(wide.length > 0 ? VERSION_ZIP64 : VERSION_DEFAULT)
    .u16(entry.directory ? FLAG_UTF8 : FLAG_UTF8 | FLAG_DATA_DESCRIPTOR)
    .u16(entry.method)
    .u16(DOS_TIME)
    .u16(DOS_DATE)
    .u32(entry.crc32)
    .u32(bigCompressed ? MAX_32 : entry.compressedSize)
    .u32(bigSize ? MAX_32 : entry.size)
    .u16(entry.name.length)
    .u16(extraLength)
    .u16(0)
    .u16(0)
    .u16(0)
    .u32(entry.directory ? DIRECTORY_ATTRIBUTES : FILE_ATTRIBUTES)
    .u32(bigOffset ? MAX_32 : entry.offset)
    .raw(entry.name);
  if (wide.length > 0) {
    record.u16(0x0001).u16(8 * wide.length);
    for (const value of wide) record.u64(value);
  }
  return record.done();
}

/**
 * APPNOTE 4.3.14 to 4.3.16: the end of central directory record, preceded by the zip64 end
 * record and its locator when the entry count, the directory's size or its offset does not
 * fit the classic record.
 */
export function endRecords(
  entries: number,
  directoryOffset: number,
  directorySize: number,
): Buffer {
  const zip64 = entries >= MAX_16 || directoryOffset >= MAX_32 || directorySize >= MAX_32;
  const end = new Fields(22)
    .u32(0x06054b50)
    .u16(0)
    .u16(0)
    .u16(Math.min(entries, MAX_16))
    .u16(Math.min(entries, MAX_16))
    .u32(Math.min(directorySize, MAX_32))
    .u32(Math.min(directoryOffset, MAX_32))
    .u16(0)
    .done();
  if (!zip64) return end;

  const zip64EndOffset = directoryOffset + directorySize;
  const zip64End = new Fields(56)
    .u32(0x06064b50)
    .u64(44)
    .u16(MADE_BY_UNIX)
    .u16(VERSION_ZIP64)
    .u32(0)
    .u32(0)
    .u64(entries)
    .u64(entries)
    .u64(directorySize)
    .u64(directoryOffset)
    .done();
  const locator = new Fields(20).u32(0x07064b50).u32(0).u64(zip64EndOffset).u32(1).done();
  return Buffer.concat([zip64End, locator, end]);
}
