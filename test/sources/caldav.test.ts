import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ExportError } from '../../src/core/errors.js';
import {
  ItemVanishedError,
  listAllItems,
  type MailboxSource,
  type SourceFolder,
} from '../../src/core/source.js';
import { openCaldavCalendars } from '../../src/sources/caldav.js';
import { corpusRoot } from '../helpers/paths.js';
import { type Radicale, startRadicale } from '../helpers/radicale.js';
import { readBody, sha256 } from './imap-corpus.js';

const alice = { name: 'alice', password: 'alice-pw' };
const bob = { name: 'bob', password: 'bob-pw' };
const admin = { name: 'admin', password: 'admin-pw' };
const signal = () => AbortSignal.timeout(60_000);
const calendarDir = join(corpusRoot, 'calendar');

/** Multi-UID corpus files stored whole: Radicale splits a calendar PUT to a collection by UID. */
const COLLECTIONS = [
  'ical4j__korganizer_sample.ics',
  'icalendar__all_components.ics',
  'ical4j__Christian_Holidays.ics',
  'ical4j__Australian_TV_Melbourne.ics',
];

/** UID → component names (VEVENT, VTODO, VJOURNAL) that carry it in an iCalendar text. */
function componentsByUid(text: string): Map<string, Set<string>> {
  const lines = text.replace(/\r?\n[ \t]/g, '').split(/\r?\n/);
  const found = new Map<string, Set<string>>();
  const open: string[] = [];
  for (const line of lines) {
    const begin = /^BEGIN:(.+)$/i.exec(line);
    if (begin) open.push((begin[1] as string).toUpperCase());
    if (/^END:/i.test(line)) open.pop();
    // Only a UID directly in an item counts, not one in its VALARM.
    const current = open[open.length - 1] ?? '';
    const uid = /^UID[;:](?:[^:]*:)?(.*)$/i.exec(line);
    if (uid && ['VEVENT', 'VTODO', 'VJOURNAL'].includes(current)) {
      const set = found.get(uid[1] as string) ?? new Set<string>();
      set.add(current);
      found.set(uid[1] as string, set);
    }
  }
  return found;
}

function kindOf(components: Set<string>): string {
  if (components.has('VEVENT')) return 'event';
  return components.has('VTODO') ? 'task' : 'note';
}

describe('CalDAV source against Radicale', () => {
  let radicale: Radicale;
  let source: MailboxSource;
  /** Expected kind of every stored object, by calendar URL path and UID. */
  const expected = new Map<string, Map<string, string>>();

  before(async () => {
    radicale = await startRadicale({ users: [alice, bob], admin });
    const personal = await radicale.makeCalendar(alice, 'personal', 'Persönlich & Arbeit');
    const single = new Map<string, string>();
    for (const name of readdirSync(calendarDir)
      .filter((f) => f.endsWith('.ics'))
      .sort()) {
      const bytes = readFileSync(join(calendarDir, name));
      const uids = componentsByUid(bytes.toString('utf8'));
      if (uids.size !== 1 || !bytes.toString('latin1').startsWith('BEGIN:VCALENDAR')) continue;
      try {
        await radicale.put(alice, `${personal}${name}`, bytes);
      } catch {
        continue; // Radicale refuses some corpus files (missing time zones, bad dates).
      }
      const [uid, components] = [...uids][0] as [string, Set<string>];
      single.set(uid, kindOf(components));
    }
    expected.set(personal, single);

    for (const name of COLLECTIONS) {
      const path = `/alice/${name.replace(/\.ics$/, '')}/`;
      const response = await radicale.request(alice, path, {
        method: 'PUT',
        headers: { 'content-type': 'text/calendar; charset=utf-8' },
        body: readFileSync(join(calendarDir, name)),
      });
      assert.equal(response.status, 201, `${name}: ${await response.text()}`);
      const uids = componentsByUid(readFileSync(join(calendarDir, name), 'utf8'));
      expected.set(path, new Map([...uids].map(([uid, c]) => [uid, kindOf(c)])));
    }

    const other = await radicale.makeCalendar(bob, 'secret');
    await radicale.put(
      bob,
      `${other}x.ics`,
      readFileSync(join(calendarDir, 'ical4j__evolution.ics')),
    );

    source = await openCaldavCalendars({
      serverUrl: radicale.url,
      user: 'alice',
      admin: { username: admin.name, password: admin.password },
    });
  });

  after(async () => {
    await source?.close();
    await radicale?.stop();
  });

  test('lists the calendars of the user only', async () => {
    const folders = await source.listFolders(signal());
    assert.equal(folders.length, 1 + COLLECTIONS.length);
    assert.ok(folders.every((f) => f.kind === 'calendar' && f.validity));
    assert.ok(folders.some((f) => f.path.join('/') === 'Persönlich & Arbeit'));
    assert.ok((expected.get('/alice/personal/')?.size ?? 0) >= 15, 'enough corpus files stored');
  });

  test('yields every calendar object with the bytes the server sends and its kind', async (t) => {
    const kinds: Record<string, number> = {};
    for (const folder of await source.listFolders(signal())) {
      const items = await listAllItems(source, folder, signal());
      const calendarPath = new URL(items[0]?.id ?? '/', radicale.url).pathname.replace(
        /[^/]*$/,
        '',
      );
      const want = expected.get(calendarPath);
      assert.ok(want, `calendar ${calendarPath} was loaded`);

      const seen = new Map<string, string>();
      for await (const content of source.readItems(folder, items, signal())) {
        assert.ok('body' in content, `${content.item.id} is read`);
        const bytes = await readBody(content.body);
        const direct = await radicale.request(alice, content.item.id);
        assert.equal(direct.status, 200);
        assert.equal(sha256(bytes), sha256(Buffer.from(await direct.arrayBuffer())));
        if (content.item.size !== undefined) assert.equal(content.item.size, bytes.length);

        const uids = componentsByUid(bytes.toString('utf8'));
        assert.equal(uids.size, 1, `${content.item.id} holds one UID`);
        const [uid] = [...uids.keys()] as [string];
        seen.set(uid, content.item.kind);
        kinds[content.item.kind] = (kinds[content.item.kind] ?? 0) + 1;
      }
      assert.deepEqual(new Map([...seen].sort()), new Map([...want].sort()), calendarPath);
    }
    t.diagnostic(`objects by kind: ${JSON.stringify(kinds)}`);
    assert.ok((kinds.event ?? 0) > 50 && (kinds.task ?? 0) >= 2 && (kinds.note ?? 0) >= 2);
  });

  test('an object deleted after the cut comes back as ItemVanishedError', async () => {
    const folder = (await source.listFolders(signal())).find((f) =>
      f.path[0]?.startsWith('Persönlich'),
    ) as SourceFolder;
    const items = await listAllItems(source, folder, signal());
    const gone = items[2];
    assert.ok(gone);
    const deleted = await radicale.request(alice, gone.id, { method: 'DELETE' });
    assert.equal(deleted.status, 200);

    const errors: string[] = [];
    for await (const content of source.readItems(folder, items, signal())) {
      if ('error' in content) {
        assert.ok(content.error instanceof ItemVanishedError);
        errors.push(content.item.id);
      } else {
        await readBody(content.body);
      }
    }
    assert.deepEqual(errors, [gone.id]);
  });

  test('a wrong admin password, and an admin without rights, say what to check', async () => {
    await assert.rejects(
      openCaldavCalendars({
        serverUrl: radicale.url,
        user: 'alice',
        admin: { username: admin.name, password: 'wrong' },
      }),
      (error: Error) => {
        assert.ok(error instanceof ExportError);
        assert.match(error.message, /answered 401 .*check the admin name \(admin\) and password/);
        return true;
      },
    );
    await assert.rejects(
      openCaldavCalendars({
        serverUrl: radicale.url,
        user: 'alice',
        admin: { username: bob.name, password: bob.password },
      }),
      /answered 403 .*check that bob may read the calendars of alice/,
    );
  });
});
