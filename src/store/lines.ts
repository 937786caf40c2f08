import { createReadStream } from 'node:fs';

/** One line of a file, told by its place; only its first bytes are kept in memory. */
export interface ScannedLine {
  /** Offset of the line's first byte. */
  readonly start: number;
  /** Offset just past the line's `\n`, or the end of the file for a last unterminated line. */
  readonly end: number;
  /** The line's first bytes, its terminator included when the line is short enough. */
  readonly head: Buffer;
  /** True when `head` holds less than the whole line. */
  readonly cut: boolean;
}

export interface ScanOptions {
  /** Bytes of each line kept in `head`. */
  readonly headBytes: number;
  /** Offset to start at (default 0). */
  readonly start?: number;
  readonly signal?: AbortSignal;
}

/**
 * Yields a file's lines in batches (one batch per chunk read), holding at most one chunk and
 * one line's head in memory whatever the length of the lines or of the file.
 */
export async function* scanLines(
  path: string | Buffer,
  options: ScanOptions,
): AsyncGenerator<ScannedLine[]> {
  const cap = options.headBytes;
  let offset = options.start ?? 0;
  let lineStart = offset;
  let parts: Buffer[] = [];
  let headLength = 0;
  let cut = false;

  const stream = createReadStream(path, {
    start: offset,
    highWaterMark: 64 * 1024,
    signal: options.signal,
  });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const batch: ScannedLine[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      const newline = chunk.indexOf(10, pos);
      const stop = newline < 0 ? chunk.length : newline + 1;
      const take = Math.min(stop - pos, cap - headLength);
      if (take > 0) {
        parts.push(chunk.subarray(pos, pos + take));
        headLength += take;
      }
      if (take < stop - pos) cut = true;

      if (newline >= 0) {
        batch.push({ start: lineStart, end: offset + stop, head: Buffer.concat(parts), cut });
        lineStart = offset + stop;
        parts = [];
        headLength = 0;
        cut = false;
      }
      pos = stop;
    }

    offset += chunk.length;
    if (batch.length > 0) yield batch;
  }

  if (lineStart < offset)
    yield [{ start: lineStart, end: offset, head: Buffer.concat(parts), cut }];
}

/** The line's head as text without its terminator (bytes above 0x7f kept one to one). */
export function lineText(line: ScannedLine): string {
  return line.head.toString('latin1').replace(/\r?\n$/, '');
}
