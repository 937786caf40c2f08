import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  ItemVanishedError,
  listAllItems,
  type MailboxSource,
  type SourceFolder,
} from '../../src/core/source.js';
import { orderItems } from '../../src/export/layout.js';
import { MailboxWriter, openMailboxDir } from '../../src/store/index.js';

const signal = new AbortController().signal;

async function bodyOf(stream: AsyncIterable<Buffer> | Buffer): Promise<Buffer> {
  if (Buffer.isBuffer(stream)) return stream;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function message(n: number): Buffer {
  // Mixed line ends and 8-bit bytes: the store must not touch them.
  return Buffer.concat([
    Buffer.from(`Subject: message ${n}\r\nFrom: a@example.com\n\n`),
    Buffer.from([0xe4, 0x0d, 0x0a, 0x00, 0xff]),
    Buffer.from(`body ${n}\n`),
  ]);
}

async function folderByPath(source: MailboxSource, path: readonly string[]): Promise<SourceFolder> {
  const folders = await source.listFolders(signal);
  const found = folders.find((f) => JSON.stringify(f.path) === JSON.stringify(path));
  assert.ok(found, `folder ${JSON.stringify(path)} not listed`);
  return found;
}

describe('the embedded store: writer and source', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mbx-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips folder names with non-ASCII letters, dots and slashes', async () => {
    const mailbox = join(dir, 'names');
    const writer = await MailboxWriter.open(mailbox);
    const paths = [
      ['INBOX'],
      ['INBOX', 'Unterordner'],
      ['Ärger', '日本語'],
      ['a.b', 'c/d'],
      ['Tom & Jerry', '..'],
      ['Top', 'Mid.dle', 'Leaf'],
    ];
    const stored = new Map<string, { id: string; sha: string }>();
    for (const [n, path] of paths.entries()) {
      const bytes = message(n);
      const item = await writer.deliverMessage(path, bytes);
      stored.set(JSON.stringify(path), {
        id: item.id,
        sha: createHash('sha256').update(bytes).digest('hex'),
      });
    }

    const onDisk = (await readdir(join(mailbox, 'Maildir')))
      .filter((n) => n.startsWith('.'))
      .sort();
    assert.deepEqual(onDisk, [
      '.&AMQ-rger.&ZeVnLIqe-',
      '.INBOX.Unterordner',
      '.Tom &- Jerry.&AC4ALg-',
      '.Top.Mid&AC4-dle.Leaf',
      '.a&AC4-b.c&AC8-d',
    ]);

    const source = openMailboxDir(mailbox);
    const folders = await source.listFolders(signal);
    // Sorted level by level in UTF-16 code unit order, the same on every machine.
    assert.deepEqual(
      folders.map((f) => f.path),
      [
        ['INBOX'],
        ['INBOX', 'Unterordner'],
        ['Tom & Jerry', '..'],
        ['Top', 'Mid.dle', 'Leaf'],
        ['a.b', 'c/d'],
        ['Ärger', '日本語'],
      ],
    );
    for (const folder of folders) {
      assert.equal(folder.kind, 'mail');
      const items = await listAllItems(source, folder, signal);
      assert.equal(items.length, 1);
      const expected = stored.get(JSON.stringify(folder.path))!;
      assert.equal(items[0]!.id, expected.id);
      for await (const content of source.readItems(folder, items, signal)) {
        assert.ok('body' in content);
        const sha = createHash('sha256')
          .update(await bodyOf(content.body))
          .digest('hex');
        assert.equal(sha, expected.sha);
      }
    }
    assert.deepEqual(await readdir(join(mailbox, 'Maildir', '.a&AC4-b.c&AC8-d', 'tmp')), []);
  });

  it('keeps flags, keywords and the internal date', async () => {
    const mailbox = join(dir, 'flags');
    const writer = await MailboxWriter.open(mailbox);
    const internalDate = new Date('2001-09-09T01:46:40Z');
    const flags = [
      '\\Seen',
      '\\Answered',
      '\\Flagged',
      '\\Draft',
      '\\Deleted',
      '$Forwarded',
      'Work',
    ];
    const stored = await writer.deliverMessage(['INBOX'], 'Subject: x\r\n\r\nx\r\n', {
      flags: [...flags, '\\Recent', 'not valid', '\\Bogus'],
      internalDate,
    });
    assert.deepEqual(stored.droppedFlags, ['not valid', '\\Bogus']);
    assert.match(stored.file, /:2,DFRSTab$/);
    assert.equal(
      await readFile(join(mailbox, 'Maildir', 'dovecot-keywords'), 'utf8'),
      '0 $Forwarded\n1 Work\n',
    );

    const source = openMailboxDir(mailbox);
    const [item] = await listAllItems(source, await folderByPath(source, ['INBOX']), signal);
    assert.deepEqual([...item!.flags!].sort(), [...flags].sort());
    assert.equal(item!.internalDate!.getTime(), internalDate.getTime());
    assert.equal(item!.size, 'Subject: x\r\n\r\nx\r\n'.length);
  });

  it('lists calendars and address books under their decoded names, items by kind', async () => {
    const mailbox = join(dir, 'collections');
    const writer = await MailboxWriter.open(mailbox);
    const ics = (body: string) => `BEGIN:VCALENDAR\r\nVERSION:2.0\r\n${body}END:VCALENDAR\r\n`;
    await writer.addCalendarItem(
      'Work/Home ä',
      'uid/1@x',
      ics('BEGIN:VEVENT\r\nUID:1\r\nEND:VEVENT\r\n'),
    );
    await writer.addCalendarItem(
      'Work/Home ä',
      'todo',
      ics('BEGIN:VTODO\r\nUID:2\r\nEND:VTODO\r\n'),
    );
    await writer.addCalendarItem(
      'Work/Home ä',
      'journal',
      ics('BEGIN:VJOURNAL\r\nEND:VJOURNAL\r\n'),
    );
    await writer.addCalendarItem('Work/Home ä', 'empty', ics(''));
    await writer.addCalendarItem('Work/Home ä', 'broken', 'BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n');
    const again = await writer.addCalendarItem(
      'Work/Home ä',
      'todo',
      ics('BEGIN:VTODO\r\nEND:VTODO\r\n'),
    );
    assert.equal(again.id, 'todo~2');
    await writer.addCalendarItem('.hidden', 'x', ics('BEGIN:VEVENT\r\nEND:VEVENT\r\n'));
    await writer.addContact('Friends', 'Anna', 'BEGIN:VCARD\r\nFN:Anna\r\nEND:VCARD\r\n');

    const source = openMailboxDir(mailbox);
    const folders = await source.listFolders(signal);
    assert.deepEqual(
      folders.map((f) => [f.kind, f.path]),
      [
        ['mail', ['INBOX']],
        ['calendar', ['.hidden']],
        ['calendar', ['Work/Home ä']],
        ['contacts', ['Friends']],
      ],
    );

    const items = await listAllItems(source, folders[2]!, signal);
    const byId = Object.fromEntries(items.map((i) => [i.id, i]));
    assert.deepEqual(
      items.map((i) => i.id),
      ['broken', 'empty', 'journal', 'todo', 'todo~2', 'uid/1@x'],
    );
    assert.equal(byId['uid/1@x']!.kind, 'event');
    assert.equal(byId['uid/1@x']!.note, undefined);
    assert.equal(byId.todo!.kind, 'task');
    assert.equal(byId.journal!.kind, 'note');
    assert.equal(byId.empty!.kind, 'event');
    assert.match(byId.empty!.note!, /no VEVENT, VTODO or VJOURNAL/);
    assert.equal(byId.broken!.kind, 'event');
    assert.match(
      byId.broken!.note!,
      /not a well-formed iCalendar object \(BEGIN:VEVENT has no END\)/,
    );

    const contacts = await listAllItems(source, folders[3]!, signal);
    assert.deepEqual(
      contacts.map((c) => [c.id, c.kind]),
      [['Anna', 'contact']],
    );
  });

  it('finds messages renamed or moved since the listing and reports deleted ones', async () => {
    const mailbox = join(dir, 'vanished');
    const writer = await MailboxWriter.open(mailbox);
    const files = [];
    for (let n = 0; n < 4; n += 1) files.push(await writer.deliverMessage(['INBOX'], message(n)));

    const source = openMailboxDir(mailbox);
    const inbox = await folderByPath(source, ['INBOX']);
    // A source lists in any order; the export sorts.
    const items = orderItems(await listAllItems(source, inbox, signal));
    assert.deepEqual(
      items.map((i) => i.id),
      files.map((f) => f.id),
    );

    const cur = join(mailbox, 'Maildir', 'cur');
    const newDir = join(mailbox, 'Maildir', 'new');
    await unlink(files[0]!.file);
    await rename(files[1]!.file, join(cur, `${files[1]!.id}:2,RS`));
    await rename(files[2]!.file, join(newDir, files[2]!.id));

    const results = [];
    for await (const content of source.readItems(inbox, items, signal)) {
      results.push('error' in content ? content.error : await bodyOf(content.body));
    }
    assert.ok(results[0] instanceof ItemVanishedError, String(results[0]));
    assert.match(
      (results[0] as Error).message,
      new RegExp(`Item ${files[0]!.id} of folder "INBOX"`),
    );
    for (const n of [1, 2, 3]) assert.deepEqual(results[n], message(n));
  });

  it('reports a deleted calendar item as vanished and other read errors as errors', async () => {
    const mailbox = join(dir, 'vanished-calendar');
    const writer = await MailboxWriter.open(mailbox);
    const one = await writer.addCalendarItem('Cal', 'one', 'BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n');
    const two = await writer.addCalendarItem('Cal', 'two', 'BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n');
    const source = openMailboxDir(mailbox);
    const calendar = (await source.listFolders(signal)).find((f) => f.kind === 'calendar')!;
    const items = await listAllItems(source, calendar, signal);

    await unlink(one.file);
    await unlink(two.file);
    await symlink(two.file, two.file); // a link to itself: open fails with ELOOP
    const results = [];
    for await (const content of source.readItems(calendar, items, signal)) results.push(content);
    assert.ok('error' in results[0]! && results[0].error instanceof ItemVanishedError);
    assert.ok('error' in results[1]! && !(results[1].error instanceof ItemVanishedError));
    assert.match(results[1].error.message, /Item two of folder "Cal" could not be read/);
    assert.equal((results[1].error.cause as NodeJS.ErrnoException).code, 'ELOOP');
  });

  it('lists a large folder a chunk at a time, each message once, cur/ before new/', async () => {
    const maildir = join(dir, 'large', 'Maildir');
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(maildir, sub), { recursive: true });
    // 2,500 messages in cur/, 300 in new/, and 100 of cur/'s names in new/ as well.
    const names = Array.from({ length: 2800 }, (_, n) => `1700000000.M${n}P1.host`);
    for (const [n, name] of names.entries()) {
      const file = n < 2500 ? join(maildir, 'cur', `${name}:2,S`) : join(maildir, 'new', name);
      await writeFile(file, `Subject: ${n}\r\n\r\n`);
    }
    // Moves caught half-way: the same bytes under the same name in new/ as well.
    for (const [n, name] of names.slice(0, 100).entries()) {
      await writeFile(join(maildir, 'new', name), `Subject: ${n}\r\n\r\n`);
    }

    const source = openMailboxDir(join(dir, 'large'));
    const inbox = await folderByPath(source, ['INBOX']);
    const chunks = [];
    for await (const chunk of source.listItems(inbox, signal)) chunks.push(chunk);
    const items = chunks.flat();

    assert.ok(chunks.length >= 3 && chunks.every((chunk) => chunk.length <= 1024));
    assert.deepEqual(items.map((item) => item.id).sort(), [...names].sort());
    for (const item of items) {
      const n = Number(/M(\d+)P/.exec(item.id)![1]);
      assert.equal(item.locator, n < 2500 ? `cur/${item.id}:2,S` : `new/${item.id}`);
      assert.deepEqual(item.flags, n < 2500 ? ['\\Seen'] : []);
    }
  });

  it('fails the read of a large message that shrinks while it is read', async () => {
    const mailbox = join(dir, 'shrinking');
    const writer = await MailboxWriter.open(mailbox);
    const bytes = Buffer.concat([Buffer.from('Subject: large\r\n\r\n'), randomBytes(8 << 20)]);
    await writer.deliverMessage(['INBOX'], bytes);
    const source = openMailboxDir(mailbox);
    const inbox = await folderByPath(source, ['INBOX']);
    const [item] = await listAllItems(source, inbox, signal);

    const contents = source.readItems(inbox, [item!], signal)[Symbol.asyncIterator]();
    const { value: content } = await contents.next();
    assert.ok(content && 'body' in content && !Buffer.isBuffer(content.body));
    const chunks = content.body[Symbol.asyncIterator]();
    await chunks.next();
    await truncate(join(mailbox, 'Maildir', item!.locator!), 1000);

    await assert.rejects(
      async () => {
        while ((await chunks.next()).done !== true);
      },
      new RegExp(`shrank to \\d+ of its ${bytes.length} bytes while it was read`),
    );
    await contents.return?.();
  });

  it('ignores Dovecot files, tmp/ and hidden files, and prefers cur/ for a name in both', async () => {
    const mailbox = join(dir, 'noise');
    const writer = await MailboxWriter.open(mailbox);
    const stored = await writer.deliverMessage(['INBOX'], 'Subject: a\r\n\r\n');
    const maildir = join(mailbox, 'Maildir');
    await writeFile(join(maildir, 'dovecot-uidlist'), '3 V1234 N2 Gabc\n1 :x\n');
    await writeFile(join(maildir, 'dovecot.index.log'), 'binary');
    await writeFile(join(maildir, 'subscriptions'), 'INBOX\n');
    await writeFile(join(maildir, 'tmp', 'half-written'), 'Subject: b');
    await writeFile(join(maildir, 'cur', '.hidden'), 'Subject: c');
    // A move caught half-way: the same message, linked into cur/ and not yet unlinked.
    await writeFile(join(maildir, 'new', stored.id), 'Subject: a\r\n\r\n');

    const source = openMailboxDir(mailbox);
    const [inbox] = await source.listFolders(signal);
    assert.deepEqual(inbox, { path: ['INBOX'], kind: 'mail', validity: '1234' });
    const items = await listAllItems(source, inbox!, signal);
    assert.deepEqual(
      items.map((i) => [i.id, i.locator?.slice(0, 4)]),
      [[stored.id, 'cur/']],
    );
    for await (const content of source.readItems(inbox!, items, signal)) {
      assert.ok('body' in content);
      assert.equal((await bodyOf(content.body)).toString(), 'Subject: a\r\n\r\n');
    }
  });

  it('lists a copy in new/ of another size under a name also in cur/ as a message too', async () => {
    const mailbox = join(dir, 'two-under-one-name');
    const writer = await MailboxWriter.open(mailbox);
    const stored = await writer.deliverMessage(['INBOX'], 'Subject: a\r\n\r\n');
    await writeFile(join(mailbox, 'Maildir', 'new', stored.id), 'Subject: another\r\n\r\n');

    const source = openMailboxDir(mailbox);
    const [inbox] = await source.listFolders(signal);
    const items = await listAllItems(source, inbox!, signal);
    const bodies: string[] = [];
    for await (const content of source.readItems(inbox!, items, signal)) {
      assert.ok('body' in content);
      bodies.push(`${content.item.id} ${(await bodyOf(content.body)).toString()}`);
    }
    assert.deepEqual(bodies.sort(), [
      `${stored.id} Subject: a\r\n\r\n`,
      `${stored.id} Subject: another\r\n\r\n`,
    ]);
  });
});
