import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';

import { RecordSpool } from '../../src/export/spool.js';

/** The manifest's items wait on disk during an export; these records must come back intact. */

async function readAll(spool: RecordSpool<unknown>): Promise<unknown[]> {
  const records: unknown[] = [];
  for await (const line of spool.lines()) records.push(JSON.parse(line));
  return records;
}

function spoolFolders(): Set<string> {
  return new Set(readdirSync(tmpdir()).filter((name) => name.startsWith('mailbox-export-')));
}

describe('RecordSpool', () => {
  it('gives back every record in order, across reads that end inside a character', async () => {
    const spool = new RecordSpool<{ n: number; text: string }>();
    try {
      // Four-byte characters and line breaks inside values, in records of uneven length, so that
      // the 1 MiB reads end at every kind of place within a line and within a character.
      const records = Array.from({ length: 30_000 }, (_, n) => ({
        n,
        text: `${'𝄞'.repeat(n % 37)}\n${'ü'.repeat(n % 11)}\u2028"quoted"`,
      }));
      for (const record of records) spool.push(record);

      assert.equal(spool.length, records.length);
      assert.deepEqual(await readAll(spool), records);
    } finally {
      spool.close();
    }
  });

  it('gives back the records pushed between two marks, and those alone', async () => {
    const spool = new RecordSpool<string>();
    try {
      // Runs longer than a read, of characters of one to four bytes.
      const runs = [['a', 'ü'], Array.from({ length: 120_000 }, (_, n) => `${n}𝄞€`), [], ['z']];
      const ranges = runs.map((run) => {
        const start = spool.bytes;
        for (const record of run) spool.push(record);
        return { start, end: spool.bytes };
      });
      for (const [index, range] of ranges.entries()) {
        const records: string[] = [];
        for await (const line of spool.lines(range)) records.push(JSON.parse(line) as string);
        assert.deepEqual(records, runs[index]);
      }
    } finally {
      spool.close();
    }
  });

  it('reads back records pushed after an earlier read', async () => {
    const spool = new RecordSpool<number>();
    try {
      spool.push(1);
      assert.deepEqual(await readAll(spool), [1]);
      spool.push(2);
      assert.deepEqual(await readAll(spool), [1, 2]);
    } finally {
      spool.close();
    }
  });

  it('refuses to go on reading once closed, and closes its file only after the read', async () => {
    const spool = new RecordSpool<string>();
    for (let n = 0; n < 5000; n++) spool.push('x'.repeat(500));
    const lines = spool.lines();
    const first = lines.next();
    spool.close();
    await assert.rejects(first, /closed while it was read/);
  });

  it('leaves no file behind, open or closed, and drops what a late writer pushes', async () => {
    const before = spoolFolders();
    const spool = new RecordSpool<string>();
    spool.push('held by the descriptor alone');
    assert.deepEqual(
      [...spoolFolders()].filter((name) => !before.has(name)),
      [],
    );
    assert.deepEqual(await readAll(spool), ['held by the descriptor alone']);

    spool.close();
    spool.push('too late');
    spool.close();
    assert.equal(spool.length, 1);
  });
});
