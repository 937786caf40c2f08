import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { exportMailbox, openEmbeddedStore } from './fixtures/embedded.js';

/**
 * A mail client renames messages all the time: it takes them from new/ to cur/ and sets and
 * clears flags in their names. A message renamed while the export lists or reads its folder
 * is still the same message: it must be exported, never dropped from the cut nor reported as
 * deleted. Another process renames while the export runs, as a client would.
 */

const IN_CUR = 3000;
const IN_NEW = 600;

/**
 * Flips the flags of every message in cur/ back and forth, and moves new/'s messages to cur/
 * on the way, until it is stopped.
 */
const RENAMER = `
import os, sys
cur, new = sys.argv[1], sys.argv[2]
moving = sorted(os.listdir(new))
print('ready', flush=True)
while True:
    for name in os.listdir(cur):
        other = name[:-1] + ('F' if name.endswith('S') else 'S') if ':2,' in name else name + ':2,S'
        try:
            os.rename(os.path.join(cur, name), os.path.join(cur, other))
        except FileNotFoundError:
            pass
        if moving:
            name = moving.pop()
            os.rename(os.path.join(new, name), os.path.join(cur, name + ':2,'))
`;

describe('messages renamed while they are exported', () => {
  let root: string;
  let renamer: ChildProcess | undefined;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-renames-'));
  });

  after(async () => {
    renamer?.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  });

  it('exports every message once, none reported deleted', async () => {
    const mailboxDir = join(root, 'mailbox');
    const cur = join(mailboxDir, 'Maildir', 'cur');
    const fresh = join(mailboxDir, 'Maildir', 'new');
    await mkdir(cur, { recursive: true });
    await mkdir(fresh, { recursive: true });
    const ids: string[] = [];
    for (let n = 0; n < IN_CUR + IN_NEW; n++) {
      const id = `${1_700_000_000 + n}.M${n}P7.host`;
      ids.push(id);
      const file = n < IN_CUR ? join(cur, `${id}:2,S`) : join(fresh, id);
      await writeFile(file, `Subject: ${id}\r\n\r\nbody of ${id}\r\n`);
    }
    const store = await openEmbeddedStore(join(root, 'store'));

    const child = spawn('python3', ['-c', RENAMER, cur, fresh], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    renamer = child;
    await once(child.stdout!, 'data');
    const run = await exportMailbox(mailboxDir, store, join(root, 'export.zip'));
    child.kill('SIGKILL');

    assert.deepEqual(run.manifest.deleted, []);
    assert.deepEqual(run.manifest.unreadable, []);
    assert.equal(run.result.itemsExported, ids.length);
    const exported = run.manifest.items.map((item) => item.sourceId).sort();
    assert.deepEqual(exported, [...ids].sort());
    for (const item of run.manifest.items) {
      const body = run.entries.get(item.zipPath)?.toString('utf8');
      assert.equal(body, `Subject: ${item.sourceId}\r\n\r\nbody of ${item.sourceId}\r\n`);
    }
  });
});
