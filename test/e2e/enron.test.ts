import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { corpusRoot } from '../helpers/paths.js';
import { assertLogCounts, assertSameMessages, downloadChecks } from './fixtures/checks.js';
import { treeFolders, treeMessages } from './fixtures/expected.js';
import { closeRun, importAndExport, type E2eRun } from './fixtures/harness.js';

/**
 * Every Enron user of the corpus (a tree of message files under `inbox/`), imported into a
 * mailbox of its own and exported, one user after the other.
 */

const enronDir = join(corpusRoot, 'mail', 'enron');
const users = readdirSync(enronDir).sort();

describe('Enron users, imported and exported end to end', () => {
  it('finds the users of the corpus', () => {
    assert.ok(users.length >= 4, `only ${users.length} users in ${enronDir}`);
  });

  for (const user of users) {
    describe(user, () => {
      const userDir = join(enronDir, user);
      let run: E2eRun | undefined;

      before(async () => {
        run = await importAndExport([userDir]);
      });

      after(async () => {
        await closeRun(run);
      });

      it('holds every message file byte for byte in its folder', async () => {
        assert.ok(run);
        const expected = await treeMessages(userDir);
        assert.deepEqual(run.imports[0]?.skipped, []);
        assertSameMessages(run, expected);
      });

      it('writes an export log whose counts are those of the source', async () => {
        assert.ok(run);
        const expected = await treeMessages(userDir);
        const messages = [...expected.values()].reduce((sum, list) => sum + list.length, 0);
        assertLogCounts(run, {
          messages,
          folders: await treeFolders(userDir),
          nonExportable: 0,
        });
      });

      downloadChecks(() => run as E2eRun);
    });
  }
});
