import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';

// Reading a file that was listed as a message, when something else may have taken its place
// since: the embedded source reads with these, and so do the export's entry threads.

/** Opening never waits, and what is opened is read only once it is known to be a file. */
export const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/**
 * A FIFO, device or folder put where a message was listed would block a read for ever, or
 * fail it with a message naming no message.
 */
export function notRegularFile(): Error {
  const message = 'not a regular file (a FIFO, device or folder took its place)';
  return Object.assign(new Error(message), { code: 'EFTYPE' });
}

/** The bytes of the regular file at `path`. */
export function readRegularFile(path: string | Buffer): Buffer {
  const fd = openSync(path, OPEN_FLAGS);
  try {
    if (!fstatSync(fd).isFile()) throw notRegularFile();
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
