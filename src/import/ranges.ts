import type { FileHandle } from 'node:fs/promises';

/** A byte range of a file, end exclusive. */
export type Range = readonly [start: number, end: number];

const CHUNK_BYTES = 64 * 1024;

/** The bytes of some ranges of an open file, in order, one bounded chunk at a time. */
export async function* readRanges(
  handle: FileHandle,
  ranges: readonly Range[],
): AsyncGenerator<Buffer> {
  for (const [start, end] of ranges) {
    let position = start;
    while (position < end) {
      const length = Math.min(CHUNK_BYTES, end - position);
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, position);
      if (bytesRead === 0)
        throw new Error(`The file ended at ${position}, before ${end}: it changed while read`);
      yield buffer.subarray(0, bytesRead);
      position += bytesRead;
    }
  }
}

/** The same ranges with neighbours joined, so that adjacent lines are read in one go. */
export function joinRanges(ranges: readonly Range[]): Range[] {
  const joined: Array<[number, number]> = [];
  for (const [start, end] of ranges) {
    const last = joined[joined.length - 1];
    if (last && last[1] === start) last[1] = end;
    else joined.push([start, end]);
  }
  return joined;
}
