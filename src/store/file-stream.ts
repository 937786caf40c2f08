import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

import { OPEN_FLAGS, notRegularFile } from './regular-file.js';

/**
 * A large item's file, streamed: the bytes it held when it was opened, and an error if it is
 * cut short while it is read. A file that shrinks under a read would otherwise end early and
 * pass for the whole item; one that grows is read to the size it had when opened.
 */

/**
 * A larger item streams in reads of this size: each read is a trip through the thread pool,
 * and the zip deflates in blocks of 1 MiB anyway.
 */
const STREAM_CHUNK_BYTES = 1024 * 1024;

export interface OpenedFile {
  readonly handle: FileHandle;
  readonly size: number;
}

/** The regular file at `path`, opened for a stream, with its size then. */
export async function openRegularFile(path: string | Buffer): Promise<OpenedFile> {
  const handle = await open(path, OPEN_FLAGS);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw notRegularFile();
    return { handle, size: info.size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * The file's `size` bytes from its start, read into a chunk of their own each; the stream fails
 * if the file ends before. It closes the file however it ends.
 */
class WholeFile extends Readable {
  #position = 0;

  constructor(private readonly file: OpenedFile) {
    super({ highWaterMark: STREAM_CHUNK_BYTES });
  }

  override _read(): void {
    const { handle, size } = this.file;
    const left = size - this.#position;
    if (left <= 0) {
      this.push(null);
      return;
    }

    const chunk = Buffer.allocUnsafeSlow(Math.min(STREAM_CHUNK_BYTES, left));
    handle.read(chunk, 0, chunk.length, this.#position).then(
      ({ bytesRead }) => {
        if (bytesRead === 0) {
          const read = `${this.#position} of its ${size} bytes`;
          this.destroy(new Error(`the file shrank to ${read} while it was read`));
          return;
        }
        this.#position += bytesRead;
        this.push(bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead));
      },
      (error: Error) => this.destroy(error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.file.handle.close().then(
      () => callback(error),
      () => callback(error),
    );
  }
}

export function streamWhole(file: OpenedFile): Readable {
  return new WholeFile(file);
}
