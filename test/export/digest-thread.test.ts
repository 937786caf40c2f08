import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';

import { observeBody } from '../../src/export/digest.js';
import { DigestThread } from '../../src/export/digest-thread.js';
import { corpusRoot } from '../helpers/paths.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** `data` cut into chunks of `size` bytes, each in memory of its own. */
function chunksOf(data: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let start = 0; start < data.length; start += size) {
    chunks.push(Buffer.from(data.subarray(start, start + size)));
  }
  return chunks;
}

async function drain(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe('the digest thread', () => {
  it('gives the SHA-256 and CRC-32 of corpus messages and random bytes, and their bytes back', async () => {
    const dir = join(corpusRoot, 'mime');
    const names = (await readdir(dir)).filter((name) => name.endsWith('.eml')).slice(0, 40);
    const bodies = await Promise.all(names.map((name) => readFile(join(dir, name))));
    bodies.push(randomBytes(5 * 1024 * 1024 + 17), Buffer.alloc(0));

    const thread = new DigestThread(() => assert.fail('the thread failed'));
    try {
      for (const [index, body] of bodies.entries()) {
        const size = [1024 * 1024, 4096, 777][index % 3]!;
        const { stream, outcome } = observeBody(
          Readable.from(chunksOf(body, size)),
          undefined,
          thread,
        );
        assert.deepEqual(await drain(stream), body);
        const read = await outcome;
        assert.equal(read.bytes, body.length);
        assert.equal(read.sha256, sha256(body));
        assert.equal(read.crc32, crc32(body));
      }
    } finally {
      thread.close();
    }
  });

  it('copies a chunk that shares its memory, leaving the other bytes to their owner', async () => {
    const whole = randomBytes(64 * 1024);
    const copy = Buffer.from(whole);
    const thread = new DigestThread();
    try {
      const digest = thread.open('sha256');
      const back = await digest.hash(whole.subarray(100, 30_000));
      assert.deepEqual(back, copy.subarray(100, 30_000));
      assert.equal(whole.length, 64 * 1024);
      assert.deepEqual(whole, copy);
      assert.equal((await digest.end()).hex, sha256(copy.subarray(100, 30_000)));
    } finally {
      thread.close();
    }
  });

  it('keeps bodies apart, of either hash, one dropped half-way among them', async () => {
    const thread = new DigestThread();
    try {
      const [a, b, c] = [randomBytes(3000), randomBytes(5000), randomBytes(7000)];
      const [da, db, dc] = [thread.open('sha256'), thread.open('sha256'), thread.open('sha384')];
      for (let start = 0; start < 7000; start += 1000) {
        const pieces = [da.hash(a.subarray(start, start + 1000))];
        if (start < 2000) pieces.push(db.hash(b.subarray(start, start + 1000)));
        pieces.push(dc.hash(c.subarray(start, start + 1000)));
        await Promise.all(pieces);
        if (start === 2000) db.drop();
      }
      assert.equal((await da.end()).hex, sha256(a));
      assert.equal((await dc.end()).hex, createHash('sha384').update(c).digest('hex'));
      assert.equal(
        await dc.end().catch((error: Error) => error.message),
        'a digest was ended twice',
      );
    } finally {
      thread.close();
    }
  });

  it('hashes what passed before a read error, and reports the error', async () => {
    const parts = [randomBytes(70_000), randomBytes(70_000), randomBytes(70_000)];
    // A chunk's memory goes to the thread and comes back in another Buffer: give copies.
    async function* failing(): AsyncGenerator<Buffer> {
      yield* parts.slice(0, 2).map((part) => Buffer.from(part));
      throw new Error('the disk went away');
    }
    const thread = new DigestThread();
    try {
      const { stream, outcome } = observeBody(Readable.from(failing()), undefined, thread);
      const passed = await drain(stream);
      assert.deepEqual(passed, Buffer.concat(parts.slice(0, 2)));
      const read = await outcome;
      assert.equal(read.error?.message, 'the disk went away');
      assert.equal(read.sha256, sha256(passed));
      assert.equal(read.crc32, crc32(passed));
    } finally {
      thread.close();
    }
  });

  it('fails what waits once closed, without reporting a failure of its own', async () => {
    let heard = 0;
    const thread = new DigestThread(() => heard++);
    const digest = thread.open('sha256');
    await digest.hash(randomBytes(1000));
    thread.close();
    await assert.rejects(digest.end(), /the digest thread was closed/);
    await assert.rejects(
      thread.open('sha256').hash(randomBytes(10)),
      /the digest thread was closed/,
    );
    assert.equal(heard, 0);
  });
});
