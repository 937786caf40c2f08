import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import PostalMime from 'postal-mime';
import { sha256 } from '../export/fixtures/helpers.js';
import { corpusRoot } from '../helpers/paths.js';
import { expectedItems, parseRoots, shapeOf } from './fixtures/calendar-expect.js';
import { assertLogCounts, downloadChecks } from './fixtures/checks.js';
import {
  closeRun,
  importAndExport,
  sourcePathsByZipPath,
  type E2eRun,
} from './fixtures/harness.js';

/**
 * The whole calendar and contacts corpus in one mailbox: each .ics split into items by UID
 * (a calendar per file), each .vcf into contacts. Events leave as MIME messages whose
 * text/calendar part must read back, with ical.js, as the source did; tasks, notes and
 * contacts are counted and listed, not exported.
 */

const calendarDir = join(corpusRoot, 'calendar');
const contactsDir = join(corpusRoot, 'contacts');
const icsFiles = readdirSync(calendarDir)
  .filter((name) => name.endsWith('.ics'))
  .sort();
const vcfFiles = readdirSync(contactsDir)
  .filter((name) => name.endsWith('.vcf'))
  .sort();

/** Folder source path to a sorted list of texts, one per item. */
type ByFolder = Map<string, string[]>;

function add(map: ByFolder, folder: string, value: string): void {
  map.set(folder, [...(map.get(folder) ?? []), value]);
}

function sorted(map: ByFolder): Record<string, string[]> {
  return Object.fromEntries([...map.keys()].sort().map((key) => [key, map.get(key)!.sort()]));
}

interface Expected {
  readonly events: ByFolder;
  readonly nonExportable: ByFolder;
  readonly eventCount: number;
  readonly folders: number;
}

/**
 * From the sources alone. A file ical.js cannot read is expected whole, as one event whose
 * calendar part is the file byte for byte (`raw:` and its SHA-256).
 */
async function expectFromSources(): Promise<Expected> {
  const events: ByFolder = new Map();
  const nonExportable: ByFolder = new Map();
  let eventCount = 0;
  for (const name of icsFiles) {
    const bytes = await readFile(join(calendarDir, name));
    const expected = expectedItems(bytes.toString('utf8'), basename(name, '.ics'));
    if (expected === undefined) {
      add(events, basename(name, '.ics'), `raw:${sha256(bytes)}`);
      eventCount++;
      continue;
    }
    for (const item of expected.items) {
      if (item.kind !== 'event') {
        add(nonExportable, expected.calendar, item.kind);
        continue;
      }
      add(events, expected.calendar, JSON.stringify(shapeFields(item)));
      eventCount++;
    }
  }
  for (const name of vcfFiles) {
    const text = (await readFile(join(contactsDir, name), 'utf8')).replace(/^\ufeff/, '');
    const cards = text.match(/^BEGIN:VCARD\r?$/gim) ?? [];
    for (let i = 0; i < cards.length; i++) add(nonExportable, basename(name, '.vcf'), 'contact');
  }
  const calendars = new Set([...events.keys(), ...nonExportable.keys()]);
  // Every mailbox has INBOX, even one that holds only calendars and contacts.
  return { events, nonExportable, eventCount, folders: calendars.size + 1 };
}

/**
 * The calendar body of an exported message, its transfer encoding undone by hand: postal-mime
 * turns the CRLFs of an 8bit text part into LFs, so it cannot tell whether bytes were kept.
 */
function calendarBody(eml: Buffer): Buffer {
  const crlf = eml.indexOf('\r\n\r\n');
  const lf = eml.indexOf('\n\n');
  const [end, gap] = crlf !== -1 && (lf === -1 || crlf < lf) ? [crlf, 4] : [lf, 2];
  const header = eml.subarray(0, end).toString('latin1');
  assert.match(header, /^Content-Type: text\/calendar;/im);
  const raw = eml.subarray(end + gap);
  const encoding = /^Content-Transfer-Encoding: (\S+)/im.exec(header)?.[1];
  if (encoding === 'base64') return Buffer.from(raw.toString('latin1'), 'base64');
  assert.ok(encoding === '8bit' || encoding === '7bit', `transfer encoding ${encoding}`);
  return raw;
}

function shapeFields(shape: { components: readonly string[]; timezones: readonly string[] }) {
  return { components: shape.components, timezones: shape.timezones };
}

describe('calendars and contacts, imported and exported end to end', () => {
  let run: E2eRun | undefined;
  let expected: Expected;

  before(async () => {
    expected = await expectFromSources();
    run = await importAndExport([calendarDir, contactsDir]);
  });

  after(async () => {
    await closeRun(run);
  });

  it('exports every event as MIME whose text/calendar keeps UIDs, RRULEs, overrides, zones', async () => {
    assert.ok(run);
    const folders = sourcePathsByZipPath(run.manifest);
    const events: ByFolder = new Map();
    const seen = { rrule: 0, override: 0, zoned: 0 };
    for (const item of run.manifest.items) {
      assert.equal(item.kind, 'event', `${item.zipPath} is not an event`);
      const folder = folders.get(item.folder);
      assert.ok(folder !== undefined && item.zipPath.startsWith(`${item.folder}/`));
      const eml = run.entries.get(item.zipPath) as Buffer;
      const email = await PostalMime.parse(eml);
      const part = email.attachments.find((a) => a.mimeType === 'text/calendar');
      assert.ok(part, `${item.zipPath}: postal-mime finds no text/calendar part`);
      const body = calendarBody(eml);
      assert.equal(sha256(body), item.sha256, `${item.zipPath}: not the item of the manifest`);

      const roots = parseRoots(body.toString('utf8'));
      if (roots === undefined) {
        add(events, folder, `raw:${sha256(body)}`);
        continue;
      }
      const shape = shapeOf(roots);
      add(events, folder, JSON.stringify(shapeFields(shape)));
      if (shape.components.some((c) => c.includes('"rrules":["RRULE'))) seen.rrule++;
      if (shape.components.some((c) => c.includes('"recurrenceId":"RECURRENCE-ID')))
        seen.override++;
      if (shape.timezones.length > 0) seen.zoned++;
    }

    assert.deepEqual(sorted(events), sorted(expected.events));
    // The comparison above covers recurring, overridden and zoned events, not only plain ones.
    assert.ok(seen.rrule >= 100 && seen.override >= 10 && seen.zoned >= 20, JSON.stringify(seen));
  });

  it('lists every VTODO, VJOURNAL and vCard in the manifest as non-exportable', () => {
    assert.ok(run);
    const folders = sourcePathsByZipPath(run.manifest);
    const listed: ByFolder = new Map();
    for (const record of run.manifest.nonExportable) {
      add(listed, folders.get(record.folder) ?? `(unknown ${record.folder})`, record.kind);
    }
    assert.deepEqual(sorted(listed), sorted(expected.nonExportable));
    const kinds = new Set([...expected.nonExportable.values()].flat());
    assert.deepEqual([...kinds].sort(), ['contact', 'note', 'task']);
  });

  it('writes an export log whose counts are those of the source', () => {
    assert.ok(run);
    const nonExportable = [...expected.nonExportable.values()].flat().length;
    assertLogCounts(run, {
      messages: expected.eventCount,
      folders: expected.folders,
      nonExportable,
    });
  });

  downloadChecks(() => run as E2eRun);
});
