import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import ICAL from 'ical.js';
import PostalMime from 'postal-mime';
import { LIMITS } from '../../src/core/limits.js';
import { Base64Lines, chooseBodyForm, subjectField } from '../../src/export/calendar-mime.js';
import type { Manifest } from '../../src/export/manifest.js';
import { corpusRoot } from '../helpers/paths.js';
import { itemsFromDirectory, type FixtureItem } from './fixtures/file-source.js';
import { exportFixture, readManifest, readZip, sha256 } from './fixtures/helpers.js';

/** Splits an .eml at its blank line and undoes the transfer encoding, by hand. */
function decodeBody(eml: Buffer): { header: string; body: Buffer } {
  const crlf = eml.indexOf('\r\n\r\n');
  const lf = eml.indexOf('\n\n');
  const [end, gap] = crlf !== -1 && (lf === -1 || crlf < lf) ? [crlf, 4] : [lf, 2];
  const header = eml.subarray(0, end).toString('utf8');
  const raw = eml.subarray(end + gap);
  const encoding = /^Content-Transfer-Encoding: (\S+)/im.exec(header)?.[1];
  if (encoding === 'base64') return { header, body: Buffer.from(raw.toString('ascii'), 'base64') };
  assert.equal(encoding, '8bit');
  return { header, body: raw };
}

type Component = InstanceType<typeof ICAL.Component>;

function parseCalendar(text: string): Component | undefined {
  try {
    const parsed: unknown = ICAL.parse(text.replace(/^\ufeff/, ''));
    const first = Array.isArray(parsed) && Array.isArray(parsed[0]) ? parsed[0] : parsed;
    return new ICAL.Component(first as unknown[]);
  } catch {
    return undefined;
  }
}

/** What must survive: UIDs, rules, overrides and time zones, as ical.js reads them. */
function essentials(calendar: Component): unknown {
  const all = [calendar, ...calendar.getAllSubcomponents()];
  return all.map((component) => ({
    name: component.name,
    uid: component.getFirstPropertyValue('uid'),
    rrule: component.getFirstProperty('rrule')?.toICALString(),
    recurrenceId: component.getFirstProperty('recurrence-id')?.toICALString(),
    tzid: component.getFirstPropertyValue('tzid'),
    timezones: component.getAllSubcomponents('vtimezone').length,
  }));
}

describe('calendar items as MIME messages', () => {
  let root: string;
  let items: FixtureItem[];
  let entries: Map<string, Buffer>;
  let manifest: Manifest;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-'));
    items = (await itemsFromDirectory(join(corpusRoot, 'calendar'), 'event', '.ics')).map(
      (item) => ({ ...item, internalDate: '2022-05-06T07:08:09Z' }),
    );
    const run = await exportFixture(root, [{ path: ['Calendar'], kind: 'calendar', items }]);
    entries = await readZip(run.zipPath);
    manifest = await readManifest(run.zipPath);
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps every item byte for byte inside its message', async () => {
    assert.equal(manifest.items.length, items.length);
    for (const item of items) {
      const source = await readFile(item.file as string);
      const record = manifest.items.find((r) => r.sourceId === item.id);
      assert.ok(record);
      const eml = entries.get(record.zipPath) as Buffer;
      assert.ok(decodeBody(eml).body.equals(source), `${item.id}: body differs`);
      assert.equal(record.sha256, sha256(source));
      assert.equal(record.entrySha256, sha256(eml));
      assert.equal(record.entrySize, eml.length);
    }
  });

  it('parses back with postal-mime and ical.js keeping UID, RRULE, RECURRENCE-ID, VTIMEZONE', async () => {
    let compared = 0;
    let withRules = 0;
    for (const item of items) {
      const source = await readFile(item.file as string);
      const record = manifest.items.find((r) => r.sourceId === item.id)!;
      const email = await PostalMime.parse(entries.get(record.zipPath) as Buffer);
      const part = email.attachments.find((a) => a.mimeType === 'text/calendar');
      assert.ok(part, `${item.id}: no text/calendar part`);
      const original = parseCalendar(source.toString('utf8'));
      if (original === undefined || !isUtf8(source)) continue;

      const text = Buffer.from(part.content as Uint8Array).toString('utf8');
      const parsed = parseCalendar(text);
      assert.ok(parsed, `${item.id}: does not parse back`);
      assert.deepEqual(essentials(parsed), essentials(original), item.id);
      if (JSON.stringify(essentials(original)).includes('RRULE')) withRules++;

      const summary = record.calendar?.summary;
      if (summary !== undefined) assert.equal(email.subject, summary, item.id);
      if (record.calendar?.uid !== undefined)
        assert.match(email.messageId ?? '', /^<[0-9a-f]{40}@/);
      compared++;
    }
    assert.ok(compared >= 35, `only ${compared} calendars compared`);
    assert.ok(withRules >= 5, `only ${withRules} calendars with RRULE`);
  });

  it('writes headers from the item alone', () => {
    const record = manifest.items.find(
      (r) => r.sourceId === 'vobject__radicale-0827_recurrence-override.ics',
    )!;
    const { header } = decodeBody(entries.get(record.zipPath) as Buffer);
    assert.match(header, /^MIME-Version: 1\.0$/m);
    assert.match(header, /^Date: Wed, 09 May 2018 07:23:57 \+0000$/m);
    assert.match(header, /^Content-Type: text\/calendar; charset=UTF-8; component=VEVENT$/m);

    const itip = manifest.items.find((r) => r.sourceId === 'libical__incoming_itip.ics')!;
    assert.match(decodeBody(entries.get(itip.zipPath) as Buffer).header, /method=REQUEST/);

    // Without DTSTAMP or DTSTART the Date comes from the internal date.
    const bare = manifest.items.find(
      (r) => r.calendar?.dtstamp === undefined && r.calendar?.dtstart === undefined,
    )!;
    assert.match(
      decodeBody(entries.get(bare.zipPath) as Buffer).header,
      /^Date: Fri, 06 May 2022 07:08:09 \+0000$/m,
    );

    const broken = manifest.items.find((r) => r.sourceId === 'icalendar__outlook_gmt_tzid.ics')!;
    assert.match(broken.calendar?.problem ?? '', /does not parse/);
  });

  it('streams an item too large to hold as base64, byte for byte', async () => {
    const dir = join(root, 'large');
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'large.ics');
    const event = (i: number): string =>
      `BEGIN:VEVENT\r\nUID:large-${i}\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Ünïcödé ${i}\r\nEND:VEVENT\r\n`;
    const parts = ['BEGIN:VCALENDAR\r\nVERSION:2.0\r\n'];
    for (let i = 0, bytes = 0; bytes <= LIMITS.calendarItemBytesInMemory; i++) {
      const part = event(i).repeat(100).replaceAll('large-', `large-${i}-`);
      parts.push(part);
      bytes += Buffer.byteLength(part);
    }
    parts.push('END:VCALENDAR\r\n');
    await writeFile(file, parts.join(''));

    const item = { id: 'large.ics', kind: 'event' as const, file };
    const run = await exportFixture(join(dir, 'store'), [
      { path: ['Calendar'], kind: 'calendar', items: [item] },
    ]);
    const record = (await readManifest(run.zipPath)).items[0]!;
    const eml = (await readZip(run.zipPath)).get(record.zipPath) as Buffer;
    const { header, body } = decodeBody(eml);
    assert.ok(body.equals(await readFile(file)));
    assert.match(header, /^Content-Transfer-Encoding: base64$/m);
    assert.match(record.calendar?.problem ?? '', /larger than/);
    assert.equal(record.entrySha256, sha256(eml));
  });

  it('chooses 8bit only for clean UTF-8 and base64 otherwise', () => {
    assert.equal(chooseBodyForm(Buffer.from('A:b\r\nC:d\r\n')).encoding, '8bit');
    assert.equal(chooseBodyForm(Buffer.from('A:b\nC:d\n')).lineBreak, '\n');
    assert.equal(chooseBodyForm(Buffer.from('A:b\r\nC:d\n')).encoding, 'base64');
    assert.equal(chooseBodyForm(Buffer.from('A:b\rC:d')).encoding, 'base64');
    assert.equal(chooseBodyForm(Buffer.from([0x41, 0xff, 0x0a])).encoding, 'base64');
    assert.equal(chooseBodyForm(Buffer.from(`A:${'x'.repeat(996)}\r\n`)).encoding, '8bit');
    assert.equal(chooseBodyForm(Buffer.from(`A:${'x'.repeat(997)}\r\n`)).encoding, 'base64');
    assert.equal(chooseBodyForm(Buffer.from('A:\u0000\r\n')).encoding, 'base64');
  });

  it('encodes base64 the same whatever the chunks (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(400)), (bytes, cuts) => {
        const data = Buffer.from(bytes);
        const encoder = new Base64Lines();
        const out: Buffer[] = [];
        let at = 0;
        for (const cut of cuts) {
          out.push(encoder.push(data.subarray(at, at + cut)));
          at += cut;
        }
        out.push(encoder.push(data.subarray(at)), encoder.end());
        const text = Buffer.concat(out).toString('ascii');
        assert.ok(text.split('\r\n').every((line) => line.length <= 76));
        assert.ok(Buffer.from(text, 'base64').equals(data));
      }),
    );
  });

  it('encodes any subject so that postal-mime reads it back (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 120 }), async (subject) => {
        const field = subjectField(subject, '\r\n');
        assert.ok(field.split('\r\n').every((line) => line.length <= 76 || !line.includes('=?')));
        const email = await PostalMime.parse(`${field}\r\n\r\n`);
        assert.equal(email.subject ?? '', subject);
      }),
    );
  });
});
