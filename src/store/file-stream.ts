import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

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

/** The file's `size` bytes from its start; the stream fails if the file ends before. */
export function streamWhole({ handle, size }: OpenedFile): Readable {
  if (size === 0) {
    void handle.close();
    return Readable.from([]);
  }

  const file = createReadStream('', {
    fd: handle,
    highWaterMark: STREAM_CHUNK_BYTES,
    start: 0,
    end: size - 1,
  });
  let read = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      read += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      if (read === size) callback();
      else callback(new Error(`the file shrank to ${read} of its ${size} bytes while it was read`));
    },
  });
  // The pipeline closes the file however it ends, and passes a read error on to `counted`.
  pipeline(file, counted).catch(() => undefined);
  return counted;
}
