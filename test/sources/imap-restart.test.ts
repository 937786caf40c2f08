import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ExportError } from '../../src/core/errors.js';
import {
  listAllItems,
  type MailboxSource,
  type SourceFolder,
  type SourceItem,
} from '../../src/core/source.js';
import { type ImapSourceOptions, openImapMailbox } from '../../src/sources/imap.js';
import { type Dovecot, startDovecot } from '../helpers/dovecot.js';
import { corpusRoot } from '../helpers/paths.js';
import {
  imapClient,
  imapView,
  loadMailbox,
  readBody,
  sha256,
  storedMessage,
} from './imap-corpus.js';

const USER = 'alice';
const ADMIN = { name: 'admin', password: 'admin-secret' };
const signal = () => AbortSignal.timeout(60_000);

describe('IMAP source across a Dovecot restart', () => {
  let dovecot: Dovecot;

  before(async () => {
    dovecot = await startDovecot({ users: [{ name: USER, password: 'pw' }], masterUser: ADMIN });
    const client = imapClient(dovecot, USER, ADMIN.name, ADMIN.password);
    await client.connect();
    const enron = join(corpusRoot, 'mail/enron/heard-m/inbox');
    const plan = new Map<readonly string[], string[]>([
      [['INBOX'], Array.from({ length: 60 }, (_, i) => join(enron, String(i + 1)))],
      [['Big'], [join(corpusRoot, 'mime/flanker__torture.eml')]],
    ]);
    await loadMailbox(client, plan);
    await client.logout();
  });

  after(async () => {
    await dovecot?.destroy();
  });

  const open = (extra: Partial<ImapSourceOptions>) =>
    openImapMailbox({
      host: dovecot.host,
      port: dovecot.port,
      secure: false,
      user: USER,
      auth: { kind: 'master', admin: ADMIN.name, password: ADMIN.password },
      retryDelayMs: 50,
      ...extra,
    });

  const listed = async (source: MailboxSource, name: string) => {
    const folder = (await source.listFolders(signal())).find((f) => f.path[0] === name);
    assert.ok(folder);
    return { folder, items: await listAllItems(source, folder, signal()) };
  };

  const checkBytes = async (folder: SourceFolder, item: SourceItem, bytes: Buffer) => {
    const stored = await storedMessage(dovecot, USER, folder.path, Number(item.id));
    assert.equal(sha256(bytes), sha256(imapView(stored)), `UID ${item.id}`);
  };

  test('a restart between batches: the read reconnects and completes', async () => {
    const source = await open({ batchBytes: 16 * 1024 });
    try {
      const { folder, items } = await listed(source, 'INBOX');
      assert.equal(items.length, 60);
      let n = 0;
      for await (const content of source.readItems(folder, items, signal())) {
        assert.ok('body' in content, `UID ${content.item.id} is read`);
        await checkBytes(folder, content.item, await readBody(content.body));
        if (++n === 7) {
          await dovecot.stop();
          await dovecot.start();
        }
      }
      assert.equal(n, 60);
    } finally {
      await source.close();
    }
  });

  test('a restart in the middle of a streamed message: it resumes at its offset', async () => {
    const source = await open({ streamThresholdBytes: 8 * 1024, chunkBytes: 64 * 1024 });
    try {
      const { folder, items } = await listed(source, 'Big');
      assert.equal(items.length, 1);
      for await (const content of source.readItems(folder, items, signal())) {
        assert.ok('body' in content);
        const chunks: Buffer[] = [];
        let restarted = false;
        for await (const chunk of content.body) {
          chunks.push(chunk as Buffer);
          if (!restarted) {
            restarted = true;
            await dovecot.stop();
            await dovecot.start();
          }
        }
        assert.ok(restarted && chunks.length > 10);
        await checkBytes(folder, content.item, Buffer.concat(chunks));
      }
    } finally {
      await source.close();
    }
  });

  test('a server that stays down: the read fails after the retry cap', async () => {
    const source = await open({ batchBytes: 16 * 1024, retries: 2 });
    try {
      const { folder, items } = await listed(source, 'INBOX');
      let n = 0;
      await assert.rejects(
        async () => {
          for await (const content of source.readItems(folder, items, signal())) {
            if ('body' in content) await readBody(content.body);
            if (++n === 3) await dovecot.stop();
          }
        },
        (error: Error) => {
          assert.ok(error instanceof ExportError);
          assert.equal(error.code, 'SourceUnavailable');
          assert.match(
            error.message,
            /^lost the IMAP connection to 127\.0\.0\.1:\d+ while reading folder "INBOX" and 2 reconnects failed: .*nothing accepts connections/,
          );
          return true;
        },
      );
      assert.ok(n >= 3 && n < 60, `${n} items were read before the failure`);
    } finally {
      await source.close();
      await dovecot.start();
    }
  });
  test('connections to one server are capped, and an abort gives its connection back', async () => {
    const first = await open({ maxConnections: 1 });
    let second: MailboxSource | undefined;
    const opening = open({ maxConnections: 1 }).then((s) => (second = s));
    try {
      const { folder, items } = await listed(first, 'INBOX');
      let n = 0;
      for await (const content of first.readItems(folder, items.slice(0, 10), signal())) {
        if ('body' in content) await readBody(content.body);
        n++;
      }
      assert.equal(n, 10);
      assert.equal(second, undefined, 'the second source waits for the only connection');

      const controller = new AbortController();
      await assert.rejects(async () => {
        for await (const content of first.readItems(folder, items, controller.signal)) {
          if ('body' in content) await readBody(content.body);
          controller.abort(new Error('stop here'));
        }
      }, /stop here/);
      await first.close();
      const opened = await opening;
      assert.ok((await opened.listFolders(AbortSignal.timeout(10_000))).length > 0);
    } finally {
      await first.close();
      await (await opening).close();
    }
  });
});
