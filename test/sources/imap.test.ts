import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { ExportError } from '../../src/core/errors.js';
import {
  ItemVanishedError,
  listAllItems,
  type MailboxSource,
  type SourceFolder,
  type SourceItem,
} from '../../src/core/source.js';
import { openImapMailbox } from '../../src/sources/imap.js';
import { type Dovecot, startDovecot } from '../helpers/dovecot.js';
import {
  imapClient,
  imapView,
  type LoadedMessage,
  lineEndings,
  loadMailbox,
  mailboxPlan,
  readBody,
  sha256,
  storedMessage,
  toCrlf,
} from './imap-corpus.js';

const USER = 'alice';
const ADMIN = { name: 'admin', password: 'admin-secret' };
const signal = () => AbortSignal.timeout(60_000);

describe('IMAP source against Dovecot', () => {
  let dovecot: Dovecot;
  let loaded: LoadedMessage[];
  let source: MailboxSource;

  before(async () => {
    dovecot = await startDovecot({
      users: [{ name: USER, password: 'alice-pw' }],
      masterUser: ADMIN,
    });
    const client = imapClient(dovecot, USER, ADMIN.name, ADMIN.password);
    await client.connect();
    loaded = await loadMailbox(client, mailboxPlan());
    await client.logout();
    source = await openImapMailbox({
      host: dovecot.host,
      port: dovecot.port,
      secure: false,
      user: USER,
      auth: { kind: 'master', admin: ADMIN.name, password: ADMIN.password, separator: '*' },
    });
  });

  after(async () => {
    await source?.close();
    await dovecot?.destroy();
  });

  const folderOf = async (path: readonly string[]): Promise<SourceFolder> => {
    const folders = await source.listFolders(signal());
    const folder = folders.find((f) => f.path.join('/') === path.join('/'));
    assert.ok(folder, `folder ${path.join('/')} is listed`);
    return folder;
  };

  test('lists every folder with decoded names, special use and UIDVALIDITY', async () => {
    const folders = await source.listFolders(signal());
    const names = folders.map((f) => f.path.join('/'));
    const expected = [...new Set([...mailboxPlan().keys()].map((p) => p.join('/')))];
    for (const name of [...expected, 'Trash']) assert.ok(names.includes(name), name);
    // `Entwürfe` exists only as the parent of `Übersicht` (\Noselect): hierarchy, no folder.
    assert.ok(!names.includes('Entwürfe'));
    assert.equal(names.length, expected.length + 1);
    assert.deepEqual(folders.find((f) => f.path[0] === 'Entwürfe')?.path, [
      'Entwürfe',
      'Übersicht',
    ]);
    assert.equal(folders.find((f) => f.path[0] === 'Sent')?.specialUse, '\\Sent');
    assert.equal(folders.find((f) => f.path[0] === 'Drafts')?.specialUse, '\\Drafts');
    assert.equal(folders.find((f) => f.path[0] === 'R&D')?.specialUse, undefined);
    assert.equal(folders[0]?.path[0], 'INBOX');

    for (const folder of folders) {
      assert.equal(folder.kind, 'mail');
      const status = await dovecot.doveadm([
        '-f',
        'flow',
        'mailbox',
        'status',
        '-u',
        USER,
        'uidvalidity',
        folder.path.join('/'),
      ]);
      assert.equal(folder.validity, /uidvalidity=(\d+)/.exec(status)?.[1]);
    }
  });

  test('yields the bytes Dovecot stores, with flags and internal dates', async (t) => {
    const byLine = { crlf: 0, lf: 0, other: 0 };
    for (const [path] of mailboxPlan()) {
      const folder = await folderOf(path);
      const items = await listAllItems(source, folder, signal());
      const expected = loaded.filter((m) => m.folder.join('/') === path.join('/'));
      assert.deepEqual(
        items.map((i) => Number(i.id)),
        expected.map((m) => m.uid),
      );

      const byUid = new Map(expected.map((m) => [String(m.uid), m]));
      let read = 0;
      for await (const content of source.readItems(folder, items, signal())) {
        assert.ok('body' in content, `UID ${content.item.id} is read`);
        const message = byUid.get(content.item.id);
        assert.ok(message);
        const bytes = await readBody(content.body);
        const stored = await storedMessage(dovecot, USER, path, message.uid);
        assert.equal(sha256(bytes), sha256(imapView(stored)), message.file);
        assert.equal(content.item.size, bytes.length);

        // Dovecot keeps CRLF messages as they came and gives bare-LF ones CRLF line ends
        // (RFC 3501 section 2.1); BINARY APPENDs (NUL bytes) are stored re-encoded.
        const original = readFileSync(message.file);
        const endings = lineEndings(original);
        byLine[endings]++;
        if (endings === 'crlf') assert.equal(sha256(bytes), sha256(original), message.file);
        if (endings === 'lf') assert.equal(sha256(bytes), sha256(toCrlf(original)), message.file);

        assert.deepEqual([...(content.item.flags ?? [])].sort(), [...message.flags].sort());
        assert.equal(content.item.internalDate?.getTime(), message.internalDate.getTime());
        read++;
      }
      assert.equal(read, expected.length);
    }
    t.diagnostic(`source files by line ends: ${JSON.stringify(byLine)}`);
    assert.ok(byLine.crlf > 10 && byLine.lf > 100, JSON.stringify(byLine));
  });

  test('reading never sets \\Seen', async () => {
    const folder = await folderOf(['INBOX']);
    const items = await listAllItems(source, folder, signal());
    const unseen = items.filter((i) => !i.flags?.includes('\\Seen'));
    assert.ok(unseen.length > 10);
    for await (const content of source.readItems(folder, unseen, signal())) {
      if ('body' in content) await readBody(content.body);
    }
    const again = await listAllItems(source, folder, signal());
    const stillUnseen = again.filter((i) => !i.flags?.includes('\\Seen'));
    assert.deepEqual(
      stillUnseen.map((i) => i.id),
      unseen.map((i) => i.id),
    );
  });

  test('small batches and chunked streaming give the same bytes', async () => {
    const small = await openImapMailbox({
      host: dovecot.host,
      port: dovecot.port,
      secure: false,
      user: USER,
      auth: { kind: 'authzid', admin: ADMIN.name, password: ADMIN.password },
      batchBytes: 20_000,
      streamThresholdBytes: 8_000,
      chunkBytes: 4_096,
    });
    try {
      const folder = (await small.listFolders(signal())).find((f) => f.path[0] === 'Q3 Reports');
      assert.ok(folder);
      const items = await listAllItems(small, folder, signal());
      assert.ok(
        items.some((i) => (i.size ?? 0) > 100_000),
        'a large message is in the folder',
      );
      for await (const content of small.readItems(folder, items, signal())) {
        assert.ok('body' in content);
        const stored = await storedMessage(dovecot, USER, folder.path, Number(content.item.id));
        assert.equal(sha256(await readBody(content.body)), sha256(imapView(stored)));
      }
    } finally {
      await small.close();
    }
  });

  test('a consistent cut: messages appended after listItems are not read', async () => {
    const client = imapClient(dovecot, USER, ADMIN.name, ADMIN.password);
    await client.connect();
    try {
      await client.mailboxCreate('Cut');
      const file = loaded[0]?.file as string;
      for (let i = 0; i < 3; i++) await client.append('Cut', readFileSync(file), []);
      const folder = await folderOf(['Cut']);
      const items = await listAllItems(source, folder, signal());
      assert.equal(items.length, 3);

      for (let i = 0; i < 2; i++) await client.append('Cut', readFileSync(file), []);
      const ids: string[] = [];
      for await (const content of source.readItems(folder, items, signal())) {
        assert.ok('body' in content);
        await readBody(content.body);
        ids.push(content.item.id);
      }
      assert.deepEqual(ids, ['1', '2', '3']);
      assert.equal((await listAllItems(source, folder, signal())).length, 5);
    } finally {
      await client.logout();
    }
  });

  test('a large folder is listed a chunk of UIDs at a time, each message once', async () => {
    const client = imapClient(dovecot, USER, ADMIN.name, ADMIN.password);
    await client.connect();
    try {
      await client.mailboxCreate('Large');
      for (let n = 1; n <= 2100; n++) {
        const flags = n % 3 === 0 ? ['\\Seen'] : [];
        await client.append('Large', `Subject: ${n}\r\n\r\nbody ${n}\r\n`, flags);
      }
      // Gaps in the UIDs: runs of them go into each FETCH as ranges.
      await client.mailboxOpen('Large');
      await client.messageDelete('500:540,1001,1700:1799', { uid: true });
      await client.mailboxClose();

      const folder = await folderOf(['Large']);
      const chunks: (readonly SourceItem[])[] = [];
      for await (const chunk of source.listItems(folder, signal())) chunks.push(chunk);
      const items = chunks.flat();
      const expected = Array.from({ length: 2100 }, (_, i) => i + 1).filter(
        (uid) => !(uid >= 500 && uid <= 540) && uid !== 1001 && !(uid >= 1700 && uid <= 1799),
      );
      assert.deepEqual(
        chunks.map((chunk) => chunk.length),
        [1024, expected.length - 1024],
      );
      assert.deepEqual(
        items.map((item) => Number(item.id)).sort((a, b) => a - b),
        expected,
      );
      for (const item of items) {
        assert.deepEqual(item.flags, Number(item.id) % 3 === 0 ? ['\\Seen'] : []);
        assert.equal(
          item.size,
          Buffer.byteLength(`Subject: ${item.id}\r\n\r\nbody ${item.id}\r\n`),
        );
      }
    } finally {
      await client.logout();
    }
  });

  test('a message expunged after the cut comes back as ItemVanishedError', async () => {
    const path = ['Q3 Reports'];
    const folder = await folderOf(path);
    const items = await listAllItems(source, folder, signal());
    const large = items.find((i) => (i.size ?? 0) > 1024 * 1024) as SourceItem;
    const small = items[1] as SourceItem;
    assert.ok(large && small && large !== small);
    for (const item of [small, large]) {
      await dovecot.doveadm(['expunge', '-u', USER, 'mailbox', path.join('/'), 'uid', item.id]);
    }

    const vanished: string[] = [];
    let read = 0;
    for await (const content of source.readItems(folder, items, signal())) {
      if ('error' in content) {
        assert.ok(content.error instanceof ItemVanishedError, String(content.error));
        assert.match(content.error.message, /Q3 Reports/);
        vanished.push(content.item.id);
      } else {
        await readBody(content.body);
        read++;
      }
    }
    assert.deepEqual(vanished.sort(), [small.id, large.id].sort());
    assert.equal(read, items.length - 2);
  });

  test('a UIDVALIDITY change during the export fails the read with a clear error', async () => {
    const client = imapClient(dovecot, USER, ADMIN.name, ADMIN.password);
    await client.connect();
    await client.mailboxCreate('Reset');
    await client.append('Reset', readFileSync(loaded[0]?.file as string), []);
    await client.logout();
    const folder = await folderOf(['Reset']);
    const items = await listAllItems(source, folder, signal());
    assert.equal(items.length, 1);

    const next = String(Number(folder.validity) + 1000);
    await dovecot.doveadm(['mailbox', 'update', '-u', USER, '--uid-validity', next, 'Reset']);
    await assert.rejects(
      async () => {
        for await (const content of source.readItems(folder, items, signal())) void content;
      },
      (error: Error) => {
        assert.ok(error instanceof ExportError);
        assert.equal(error.code, 'SourceUnavailable');
        assert.match(error.message, /UIDVALIDITY of folder "Reset" .* changed from \d+ to \d+/);
        assert.match(error.message, /Export the mailbox again/);
        return true;
      },
    );
  });

  test('a folder deleted after the cut reports each item as vanished', async () => {
    const client = imapClient(dovecot, USER, ADMIN.name, ADMIN.password);
    await client.connect();
    await client.mailboxCreate('Gone');
    for (let i = 0; i < 2; i++)
      await client.append('Gone', readFileSync(loaded[0]?.file as string), []);
    await client.logout();
    const folder = await folderOf(['Gone']);
    const items = await listAllItems(source, folder, signal());
    await dovecot.doveadm(['mailbox', 'delete', '-u', USER, 'Gone']);

    const errors: unknown[] = [];
    for await (const content of source.readItems(folder, items, signal())) {
      if ('error' in content) errors.push(content.error);
    }
    assert.equal(errors.length, 2);
    assert.ok(errors.every((e) => e instanceof ItemVanishedError));
  });
});
