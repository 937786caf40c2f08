import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { listAllItems } from '../../src/core/source.js';
import { MailboxWriter, openMailboxDir } from '../../src/store/index.js';
import { exportMailbox, openEmbeddedStore } from './fixtures/embedded.js';

/**
 * Files whose names are not UTF-8 (Latin-1 from an old tool, or bytes cut in the middle of a
 * character): read as text their names name no file, and they would be lost. They are exported
 * like any other, their ids showing each stray byte as `\xNN`.
 */

const EVENT =
  'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:latin\r\n' +
  'DTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\nSUMMARY:Caf\xe9\r\nEND:VEVENT\r\n' +
  'END:VCALENDAR\r\n';

const signal = new AbortController().signal;

describe('file names that are not UTF-8', () => {
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-byte-names-'));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('exports messages and calendar items under such names, byte for byte', async () => {
    const mailboxDir = join(root, 'mailbox');
    const writer = await MailboxWriter.open(mailboxDir, { durable: false });
    const kept = await writer.deliverMessage(['INBOX'], 'Subject: plain\r\n\r\nplain\r\n');
    await writer.addCalendarItem('Work', 'plain', EVENT.replace('latin', 'plain'));

    const maildir = join(mailboxDir, 'Maildir');
    const files: [Buffer, string][] = [
      [Buffer.from('cur/1700000001.M1P1.caf\xe9:2,S', 'latin1'), 'in cur/'],
      [Buffer.from('new/1700000002.M2P1.\xe2\x82', 'latin1'), 'cut short, in new/'],
    ];
    for (const [name, what] of files) {
      const path = Buffer.concat([Buffer.from(`${maildir}/`), name]);
      await writeFile(path, `Subject: ${what}\r\n\r\nbody\r\n`);
    }
    const calendar = Buffer.concat([
      Buffer.from(join(mailboxDir, 'calendars', 'Work') + '/'),
      Buffer.from('r\xe9union.ics', 'latin1'),
    ]);
    await writeFile(calendar, EVENT);

    const store = await openEmbeddedStore(join(root, 'store'));
    const run = await exportMailbox(mailboxDir, store, join(root, 'export.zip'));

    assert.deepEqual(run.manifest.deleted, []);
    assert.deepEqual(run.manifest.unreadable, []);
    const bodies = new Map(
      run.manifest.items.map((item) => [item.sourceId, run.entries.get(item.zipPath)]),
    );
    assert.deepEqual(
      [...bodies.keys()].sort(),
      [
        '1700000001.M1P1.caf\\xe9',
        '1700000002.M2P1.\\xe2\\x82',
        kept.id,
        'plain',
        'r\\xe9union',
      ].sort(),
    );
    assert.equal(
      bodies.get('1700000001.M1P1.caf\\xe9')?.toString(),
      'Subject: in cur/\r\n\r\nbody\r\n',
    );
    const event = run.manifest.items.find((item) => item.sourceId === 'r\\xe9union');
    assert.equal(event?.size, Buffer.byteLength(EVENT));
  });

  it('tells apart a name of bytes from the real name its escaped text reads as', async () => {
    const mailboxDir = join(root, 'collisions');
    const cur = join(mailboxDir, 'Maildir', 'cur');
    await mkdir(cur, { recursive: true });
    const files: [Buffer, string][] = [
      [Buffer.from('inval\xff:2,S', 'latin1'), 'A'],
      [Buffer.from('inval\\xff:2,', 'latin1'), 'B'],
      // Bytes after the flags are no flags.
      [Buffer.from('x\xff:2,S\xff', 'latin1'), 'C'],
    ];
    for (const [name, body] of files) {
      await writeFile(Buffer.concat([Buffer.from(`${cur}/`), name]), `Subject: ${body}\r\n\r\n`);
    }

    const store = await openEmbeddedStore(join(root, 'collisions-store'));
    const run = await exportMailbox(mailboxDir, store, join(root, 'collisions.zip'));
    const exported = run.manifest.items
      .map(
        (item) => `${item.sourceId} ${JSON.stringify(item.flags)} ${run.entries.get(item.zipPath)}`,
      )
      .sort();
    assert.deepEqual(exported, [
      'inval\\xff ["\\\\Seen"] Subject: A\r\n\r\n',
      'inval\\xff [] Subject: B\r\n\r\n',
      'x\\xff [] Subject: C\r\n\r\n',
    ]);
  });

  it('finds a message of such a name renamed between the listing and its read', async () => {
    const mailboxDir = join(root, 'renamed');
    const cur = join(mailboxDir, 'Maildir', 'cur');
    await mkdir(cur, { recursive: true });
    const named = (flags: string) =>
      Buffer.concat([Buffer.from(`${cur}/`), Buffer.from(`caf\xe9:2,${flags}`, 'latin1')]);
    await writeFile(named(''), 'Subject: caf\r\n\r\n');

    const source = openMailboxDir(mailboxDir);
    const [inbox] = await source.listFolders(signal);
    const items = await listAllItems(source, inbox!, signal);
    await rename(named(''), named('S'));

    const read = [];
    for await (const content of source.readItems(inbox!, items, signal)) read.push(content);
    assert.equal(read.length, 1);
    assert.ok('body' in read[0]!, String((read[0] as { error?: Error }).error));
    assert.equal(read[0].body.toString(), 'Subject: caf\r\n\r\n');
  });
});
