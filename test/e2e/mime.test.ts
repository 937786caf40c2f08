import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { corpusRoot } from '../helpers/paths.js';
import { assertLogCounts, assertSameMessages, downloadChecks } from './fixtures/checks.js';
import { treeMessages } from './fixtures/expected.js';
import { closeRun, importAndExport, type E2eRun } from './fixtures/harness.js';

/**
 * All of the hard MIME cases in one mailbox: each `.eml` goes to INBOX byte for byte, whatever
 * it holds (bad encodings, missing boundaries, 8-bit headers); the index file is left out.
 */

const mimeDir = join(corpusRoot, 'mime');
const isEml = (name: string): boolean => name.endsWith('.eml');

describe('the MIME corpus, imported and exported end to end', () => {
  let run: E2eRun | undefined;

  before(async () => {
    run = await importAndExport([mimeDir], { compression: 'store' });
  });

  after(async () => {
    await closeRun(run);
  });

  it('holds every .eml byte for byte in INBOX, and skips only what is not mail', async () => {
    assert.ok(run);
    const others = readdirSync(mimeDir).filter((name) => !isEml(name));
    assert.deepEqual(
      run.imports[0]?.skipped.map((skip) => skip.input),
      others.map((name) => join(mimeDir, name)),
    );
    assertSameMessages(run, await treeMessages(mimeDir, isEml));
  });

  it('writes an export log whose counts are those of the source', async () => {
    assert.ok(run);
    const messages = readdirSync(mimeDir).filter(isEml).length;
    assert.ok(messages >= 90, `only ${messages} messages in ${mimeDir}`);
    assertLogCounts(run, { messages, folders: 1, nonExportable: 0 });
  });

  it('shows MIME in the plaintext zip (so the sealed check means something)', async () => {
    assert.ok(run);
    const plain = await readFile(run.zipPath);
    for (const needle of ['Message-ID:', 'From:', 'Subject:', 'Content-Type:']) {
      assert.ok(plain.includes(needle), `the uncompressed zip lacks ${needle}`);
    }
  });

  downloadChecks(() => run as E2eRun);
});
