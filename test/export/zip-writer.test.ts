import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import type { Compression } from '../../src/core/export.js';
import { ZipWriter } from '../../src/export/zip-writer.js';
import { readZip } from './fixtures/helpers.js';

/**
 * A streamed entry is cut into blocks of 1 MiB: from a view of a chunk that holds a whole
 * block, or from a copy of the pieces of several. Every way chunks can fall against the blocks
 * must give back the same bytes.
 */

const MIB = 1024 * 1024;

/** Chunk sizes of each entry: whole blocks, blocks and a byte, pieces across blocks. */
const SHAPES: Record<string, number[]> = {
  'whole blocks': [MIB, MIB, MIB],
  'blocks and a tail': [MIB, MIB, 5],
  'one chunk of three blocks': [3 * MIB + 17],
  'pieces across blocks': [700 * 1024, 700 * 1024, 700 * 1024, 1],
  'a small piece, then blocks': [10, MIB, MIB - 10],
  'empty chunks': [0, MIB, 0, 0, 3],
};

/** Bytes that deflate a little, so that the deflated blocks differ from the stored ones. */
function data(size: number): Buffer {
  const bytes = randomBytes(size);
  for (let i = 0; i < size; i += 3) bytes[i] = 0x41;
  return bytes;
}

async function zipOf(entries: Map<string, Buffer[]>, compression: Compression): Promise<Buffer> {
  const zip = new ZipWriter(compression);
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of zip.output) chunks.push(chunk as Buffer);
  })();
  for (const [name, parts] of entries) {
    // The writer takes the chunks' memory; the test keeps the originals to compare.
    const copies = parts.map((part) => Buffer.from(part));
    await zip.addFile(name, Readable.from(copies, { objectMode: true }));
  }
  zip.finish();
  await collected;
  return Buffer.concat(chunks);
}

describe('the zip writer', () => {
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-zip-'));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  for (const compression of ['store', 'default'] as const) {
    it(`gives back every streamed entry whole, whatever its chunks (${compression})`, async () => {
      const entries = new Map<string, Buffer[]>();
      for (const [name, sizes] of Object.entries(SHAPES)) {
        entries.set(`${name}.eml`, sizes.map(data));
      }
      const path = join(root, `${compression}.zip`);
      await writeFile(path, await zipOf(entries, compression));

      const read = await readZip(path);
      assert.deepEqual([...read.keys()], [...entries.keys()]);
      for (const [name, parts] of entries) {
        assert.ok(read.get(name)!.equals(Buffer.concat(parts)), `${name} differs`);
      }
    });
  }
});
