import type { Readable } from 'node:stream';
import { ZipFile } from 'yazl';
import type { Compression } from '../core/export.js';

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
 * yazl writes an entry's time as a DOS date in the local time zone, and a UTC time in an
 * extra field unless told not to. A time built from local components, with the extra field
 * left out, gives the same bytes in every time zone. 1980-01-01 00:00:00 is the earliest
 * DOS date and exists in every zone of the tz database.
 */
function fixedEntryTime(): Date {
  return new Date(1980, 0, 1, 0, 0, 0);
}

const FILE_MODE = 0o100644;
const DIRECTORY_MODE = 0o40755;

type StreamCallback = (error: Error | null, stream: Readable) => void;

/**
 * yazl keeps every entry until the central directory is written, and an entry keeps the
 * function that gives its data. Given the stream itself (`addReadStream`), each entry would
 * keep its item's stream, and through it the item's last chunks, for the whole export: about
 * 400 MB for 20,000 small messages. This function hands the stream over once and forgets it;
 * it is defined apart so that its closure holds nothing of `addFile`'s scope. yazl
 * asks for the stream exactly once.
 */
function handOnce(data: Readable): (callback: StreamCallback) => void {
  let pending: Readable | undefined = data;
  return (callback: StreamCallback) => {
    const stream = pending!;
    pending = undefined;
    callback(null, stream);
  };
}

/**
 * A zip written as a stream, one entry at a time. Only `output` is read; entries are added
 * one after the other, each once the previous one's data was consumed, so that at most one
 * item body is open. Compressing entries in parallel would change only this class: yazl
 * cannot take data deflated elsewhere, so that would mean writing the entry records here
 * around deflate streams run ahead in workers, keeping the same order, times and bytes.
 */
export class ZipWriter {
  private readonly zip = new ZipFile();
  private readonly level: number;
  private failure: Error | undefined;

  constructor(compression: Compression) {
    this.level = DEFLATE_LEVELS[compression];
    this.zip.on('error', (error: Error) => {
      this.failure = error;
      this.output.destroy(error);
    });
  }

  get output(): Readable {
    return this.zip.outputStream as Readable;
  }

  addDirectory(zipPath: string): void {
    this.zip.addEmptyDirectory(zipPath, {
      mtime: fixedEntryTime(),
      mode: DIRECTORY_MODE,
      forceDosTimestamp: true,
    });
  }

  /**
   * Adds a file whose data is `data`, and resolves once yazl has read `data` to its end. The
   * stream must not fail: callers end it early instead, so that the entry stays well formed.
   */
  addFile(zipPath: string, data: Readable): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);

    const consumed = new Promise<void>((resolve, reject) => {
      data.once('end', resolve);
      data.once('error', reject);
      data.once('close', () => {
        if (!data.readableEnded) reject(new Error(`zip entry ${zipPath} closed before its end`));
      });
    });
    const options = {
      mtime: fixedEntryTime(),
      mode: FILE_MODE,
      forceDosTimestamp: true,
      compressionLevel: this.level,
    };
    this.zip.addReadStreamLazy(zipPath, options, handOnce(data));
    return consumed;
  }

  /** Writes the central directory after the last entry; zip64 records come when needed. */
  finish(): void {
    this.zip.end();
  }
}
