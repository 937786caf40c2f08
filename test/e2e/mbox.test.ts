import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { corpusRoot } from '../helpers/paths.js';
import {
  addHash,
  assertLogCounts,
  assertSameMessages,
  downloadChecks,
  type FolderHashes,
} from './fixtures/checks.js';
import { mboxMessages } from './fixtures/expected.js';
import { closeRun, importAndExport, type E2eRun } from './fixtures/harness.js';

/**
 * Each mbox file of the corpus in a mailbox of its own: the folder is named after the file,
 * and each message must come out as it was before the mbox writer escaped its `From ` lines.
 * Stored uncompressed, so that the zip's plaintext shows MIME that the sealed object must not.
 */

const mboxDir = join(corpusRoot, 'mail', 'mimekit-mbox');
const files = readdirSync(mboxDir)
  .filter((name) => name.endsWith('.mbox'))
  .sort();

async function expectedOf(file: string): Promise<FolderHashes> {
  const hashes: FolderHashes = new Map();
  for (const message of mboxMessages(await readFile(file))) {
    addHash(hashes, basename(file, '.mbox'), message);
  }
  return hashes;
}

describe('mbox files, imported and exported end to end', () => {
  it('splits the corpus files as their writers meant (the expectation itself)', async () => {
    const counts = await Promise.all(
      files.map(async (name) => mboxMessages(await readFile(join(mboxDir, name))).length),
    );
    assert.deepEqual(Object.fromEntries(files.map((name, i) => [name, counts[i]])), {
      'content-length.mbox': 29,
      'simple.mbox': 3,
      'unmunged.mbox': 2,
    });
    const unmunged = mboxMessages(await readFile(join(mboxDir, 'unmunged.mbox')));
    assert.ok(unmunged.every((message) => message.includes('\nFrom Russia with love\n')));
    const escaped = mboxMessages(await readFile(join(mboxDir, 'content-length.mbox')));
    assert.equal(escaped.filter((m) => m.includes('\nFrom - Fri Dec 13 15:01:21')).length, 2);
    assert.ok(escaped.every((m) => !m.includes('\n>From ')));
  });

  for (const name of files) {
    describe(name, () => {
      const file = join(mboxDir, name);
      let run: E2eRun | undefined;

      before(async () => {
        run = await importAndExport([file], { compression: 'store' });
      });

      after(async () => {
        await closeRun(run);
      });

      it('holds every message, From-unescaped, byte for byte in the mbox folder', async () => {
        assert.ok(run);
        assert.deepEqual(run.imports[0]?.skipped, []);
        assertSameMessages(run, await expectedOf(file));
      });

      it('writes an export log whose counts are those of the source', async () => {
        assert.ok(run);
        const messages = mboxMessages(await readFile(file)).length;
        // The mbox's own folder, and INBOX, which every mailbox has.
        assertLogCounts(run, { messages, folders: 2, nonExportable: 0 });
      });

      it('shows MIME in the plaintext zip (so the sealed check means something)', async () => {
        assert.ok(run);
        const plain = await readFile(run.zipPath);
        for (const needle of ['From:', 'Subject:', 'Content-Type:']) {
          assert.ok(plain.includes(needle), `the uncompressed zip lacks ${needle}`);
        }
      });

      downloadChecks(() => run as E2eRun);
    });
  }
});
