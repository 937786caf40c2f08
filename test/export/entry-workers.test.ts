import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';

import { windowBitsFor } from '../../src/export/entry-workers.js';
import { corpusRoot } from '../helpers/paths.js';

describe('the deflate window of a small entry', () => {
  it('gives the bytes of the largest window for every corpus message up to 64 KiB', async () => {
    const dir = join(corpusRoot, 'mime');
    const names = (await readdir(dir)).filter((name) => name.endsWith('.eml'));
    let compared = 0;
    for (const name of names) {
      const data = await readFile(join(dir, name));
      if (data.length > 64 * 1024) continue;
      for (const level of [1, 6]) {
        const fitted = deflateRawSync(data, { level, windowBits: windowBitsFor(data.length) });
        assert.deepEqual(fitted, deflateRawSync(data, { level }), `${name} at level ${level}`);
        compared++;
      }
    }
    assert.ok(compared > 100, `${compared} comparisons`);
    assert.equal(windowBitsFor(0), 9);
    assert.equal(windowBitsFor(64 * 1024), 15);
  });
});
