import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { readCalendarFields } from '../../src/export/calendar-fields.js';
import type { ManifestItem } from '../../src/export/manifest.js';
import { MailboxWriter } from '../../src/store/index.js';
import { corpusRoot } from '../helpers/paths.js';
import { exportMailbox, openEmbeddedStore, type EmbeddedExport } from './fixtures/embedded.js';
import { headerEnd } from './fixtures/mutations.js';

/**
 * Calendar items that are not valid iCalendar are exported all the same, raw inside their
 * MIME wrapper, with the reason in the manifest; contacts that are not valid vCards are listed
 * as not exportable. Nothing is dropped.
 */

const EVENT = (lines: readonly string[]): string =>
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//hostile//test//EN',
    'BEGIN:VEVENT',
    'UID:hostile-1@example.org',
    'DTSTAMP:20240101T080000Z',
    ...lines,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');

/** Each invalid item, and what its manifest reason must say. */
const INVALID: ReadonlyArray<{ name: string; bytes: Buffer; reason: RegExp }> = [
  {
    name: 'broken-folding',
    bytes: Buffer.from(EVENT(['SUMMARY:first half', 'of a line folded without its space'])),
    reason: /parse|invalid|line/i,
  },
  {
    name: 'missing-end-vevent',
    bytes: Buffer.from(EVENT(['SUMMARY:no end']).replace('END:VEVENT\r\n', '')),
    reason: /END|parse|well-formed/i,
  },
  {
    name: 'missing-end-vcalendar',
    bytes: Buffer.from(EVENT(['SUMMARY:no end']).replace('END:VCALENDAR\r\n', '')),
    reason: /END|parse|well-formed/i,
  },
  {
    name: 'unknown-tzid',
    bytes: Buffer.from(
      EVENT(['SUMMARY:on Mars', 'DTSTART;TZID=Mars/Olympus_Mons:20240101T090000']),
    ),
    reason: /Mars\/Olympus_Mons/,
  },
  {
    name: 'non-utf8',
    bytes: Buffer.from(EVENT(['SUMMARY:caf\xe9 \xff\xfe']), 'latin1'),
    reason: /UTF-8/,
  },
  {
    name: 'nul-bytes',
    bytes: Buffer.from(EVENT(['SUMMARY:nul\0inside', 'DESCRIPTION:\0'])),
    reason: /NUL|parse|invalid/i,
  },
  { name: 'empty', bytes: Buffer.alloc(0), reason: /empty/ },
  {
    name: 'binary',
    bytes: Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0x80, 0x00, 0x42]),
    reason: /parse|BEGIN/i,
  },
  {
    name: 'vcard-in-calendar',
    bytes: Buffer.from('BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Not An Event\r\nEND:VCARD\r\n'),
    reason: /VCALENDAR/,
  },
];

const INVALID_CONTACTS: readonly Buffer[] = [
  Buffer.from('BEGIN:VCARD\r\nVERSION:3.0\r\nFN:no end\r\n'),
  Buffer.from('BEGIN:VCARD\r\nFN:J\xf6rg\r\nEND:VCARD\r\n', 'latin1'),
  Buffer.alloc(0),
  Buffer.from('\0\0\0'),
];

let root: string;
let run: EmbeddedExport;
const storedEvents = new Map<string, { label: string; bytes: Buffer }>();
const storedContacts = new Set<string>();
let corpusCount = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mbx-hostile-cal-'));
  const mailboxDir = join(root, 'mailbox');
  const writer = await MailboxWriter.open(mailboxDir, { durable: false });

  for (const { name, bytes } of INVALID) {
    const item = await writer.addCalendarItem('Hostile', name, bytes);
    storedEvents.set(`Hostile/${item.id}`, { label: name, bytes });
  }

  const calendarDir = join(corpusRoot, 'calendar');
  for (const name of (await readdir(calendarDir)).filter((n) => n.endsWith('.ics')).sort()) {
    const bytes = await readFile(join(calendarDir, name));
    const item = await writer.addCalendarItem('Corpus', name.replace(/\.ics$/, ''), bytes);
    storedEvents.set(`Corpus/${item.id}`, { label: name, bytes });
    corpusCount++;
  }

  for (const [index, bytes] of INVALID_CONTACTS.entries()) {
    const item = await writer.addContact('Broken', `contact-${index}`, bytes);
    storedContacts.add(item.id);
  }
  const contactsDir = join(corpusRoot, 'contacts');
  for (const name of (await readdir(contactsDir)).filter((n) => n.endsWith('.vcf')).sort()) {
    const item = await writer.addContact(
      'Corpus contacts',
      name,
      await readFile(join(contactsDir, name)),
    );
    storedContacts.add(item.id);
  }

  const store = await openEmbeddedStore(root);
  run = await exportMailbox(mailboxDir, store, join(root, 'export.zip'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The calendar bytes inside an item's MIME wrapper, decoded as its header says. */
function unwrap(entry: Buffer): Buffer {
  const end = headerEnd(entry);
  assert.ok(end > 0, 'the wrapper has no header block');
  const header = entry.subarray(0, end).toString('latin1');
  const body = entry.subarray(end);
  const encoding = /^Content-Transfer-Encoding: (\S+)/m.exec(header)?.[1];
  if (encoding === '8bit') return body;
  assert.equal(encoding, 'base64', header);
  return Buffer.from(body.toString('latin1'), 'base64');
}

function eventsOf(folder: string): ManifestItem[] {
  return run.manifest.items.filter((item) => item.folder === folder);
}

describe('invalid calendar items and contacts', () => {
  it('completes, and drops no calendar item or contact', () => {
    assert.equal(run.result.unreadableItems, 0);
    const listed = new Set([
      ...run.manifest.items.map((item) => `${item.folder}/${item.sourceId}`),
      ...run.manifest.nonExportable
        .filter((item) => item.kind !== 'contact')
        .map((item) => `${item.folder}/${item.sourceId}`),
    ]);
    for (const [key, { label }] of storedEvents) assert.ok(listed.has(key), `${label} dropped`);
    assert.equal(eventsOf('Hostile').length, INVALID.length);

    const contacts = run.manifest.nonExportable.filter((item) => item.kind === 'contact');
    assert.deepEqual(new Set(contacts.map((item) => item.sourceId)), storedContacts);
  });

  it('exports each invalid item raw, with the reason in the manifest', () => {
    for (const item of eventsOf('Hostile')) {
      const stored = storedEvents.get(`Hostile/${item.sourceId}`);
      assert.ok(stored, item.sourceId);
      const invalid = INVALID.find((entry) => entry.name === stored.label);
      assert.ok(invalid);

      const entry = run.entries.get(item.zipPath);
      assert.ok(entry, `${stored.label}: no entry`);
      assert.ok(unwrap(entry).equals(stored.bytes), `${stored.label}: bytes changed`);
      assert.equal(item.size, stored.bytes.length);

      const reason = item.calendar?.problem;
      assert.ok(reason !== undefined, `${stored.label}: no reason in ${JSON.stringify(item)}`);
      assert.match(reason, invalid.reason, stored.label);
    }
  });

  it('exports every corpus calendar byte for byte', () => {
    const corpus = eventsOf('Corpus');
    const tasksAndNotes = run.manifest.nonExportable.filter((item) => item.folder === 'Corpus');
    assert.equal(corpus.length + tasksAndNotes.length, corpusCount);
    for (const item of corpus) {
      const stored = storedEvents.get(`Corpus/${item.sourceId}`);
      assert.ok(stored, item.sourceId);
      const entry = run.entries.get(item.zipPath);
      assert.ok(entry && unwrap(entry).equals(stored.bytes), `${stored.label}: bytes changed`);
    }
  });
});

describe('calendar regressions', () => {
  const problemOf = (text: string): string | undefined =>
    readCalendarFields(Buffer.from(text)).problem;

  it('reports a TZID that no VTIMEZONE defines, which ical.js reads as floating', () => {
    const item = EVENT(['DTSTART;TZID=Mars/Olympus_Mons:20240101T090000']);
    assert.match(problemOf(item) ?? '', /no VTIMEZONE defines TZID "Mars\/Olympus_Mons"/);

    const zone = [
      'BEGIN:VTIMEZONE',
      'TZID:Mars/Olympus_Mons',
      'BEGIN:STANDARD',
      'DTSTART:19700101T000000',
      'TZOFFSETFROM:+0000',
      'TZOFFSETTO:+0000',
      'END:STANDARD',
      'END:VTIMEZONE',
    ];
    const defined = item.replace('BEGIN:VEVENT', `${zone.join('\r\n')}\r\nBEGIN:VEVENT`);
    assert.equal(problemOf(defined), undefined);
  });

  it('reports NUL and other control characters, which ical.js keeps in values', () => {
    assert.match(problemOf(EVENT(['SUMMARY:a\0b'])) ?? '', /control characters/);
    assert.match(problemOf(EVENT(['SUMMARY:a\x1bb'])) ?? '', /control characters/);
    assert.equal(problemOf(EVENT(['SUMMARY:a\tb'])), undefined);
  });

  it('reports an empty item as empty, not as a TypeError from the parser', () => {
    assert.equal(problemOf(''), 'the item is empty');
    assert.equal(problemOf(' \r\n'), 'the item is empty');
  });

  it('reports a vCard stored as a calendar item', () => {
    assert.match(problemOf('BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n') ?? '', /VCALENDAR/);
  });
});
