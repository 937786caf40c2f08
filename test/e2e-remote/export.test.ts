import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { ExportJob } from '../../src/core/model.js';
import { runExport } from '../../src/export/pipeline.js';
import { defaultKeyRule } from '../../src/jobs/keys.js';
import { openEmbeddedMailbox } from '../../src/store/index.js';
import type { Dovecot } from '../helpers/dovecot.js';
import type { Radicale } from '../helpers/radicale.js';
import { corpusRoot } from '../helpers/paths.js';
import {
  imapView,
  type LoadedMessage,
  mailboxPlan,
  sha256,
  storedMessage,
} from '../sources/imap-corpus.js';
import {
  ADMIN,
  fetchStored,
  imapSettings,
  type FetchedMessage,
  loadedDovecot,
  loadedRadicale,
  type StoredCalendarObject,
  USER,
} from './fixtures/corpus-servers.js';
import {
  BUCKET,
  download,
  type Download,
  exportMailbox,
  openRemoteApp,
  type RemoteApp,
  sourceFolders,
} from './fixtures/remote-app.js';

/**
 * One mailbox on real servers, exported by a job of the app as an operator configures it:
 * Dovecot (mail, loaded through IMAP APPEND) and Radicale (calendars) bound to the user's
 * organization through `defaultMailServer`. What the zip holds is checked against what the
 * servers give to a direct client, and against an export of Dovecot's own Maildir.
 */

/** The source tests' folder tree, plus a second non-ASCII child under `Entwürfe`. */
function plan(): Map<readonly string[], string[]> {
  const tree = mailboxPlan();
  const enron = join(corpusRoot, 'mail/enron/stepenovitch-j/inbox');
  tree.set(
    ['Entwürfe', 'Ärger'],
    ['1', '2', '3', '4'].map((n) => join(enron, n)),
  );
  return tree;
}

const key = (folder: string, id: string | number) => `${folder}\u0000${id}`;

describe('export job over IMAP and CalDAV', () => {
  let root: string;
  let dovecot: Dovecot;
  let radicale: Radicale;
  let loaded: LoadedMessage[];
  let fetched: FetchedMessage[];
  let calendars: StoredCalendarObject[];
  let remote: RemoteApp;
  let job: ExportJob;
  let zip: Download;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-e2e-remote-'));
    ({ dovecot, loaded } = await loadedDovecot(plan()));
    ({ radicale, stored: calendars } = await loadedRadicale());

    fetched = await fetchStored(dovecot);

    remote = await openRemoteApp(root, USER.name, {
      imap: imapSettings(dovecot, { maxConnections: 2 }),
      caldav: { url: radicale.url, admin: ADMIN.name, password: ADMIN.password },
    });
    job = await exportMailbox(remote, 'remote/');
    assert.equal(job.state, 'COMPLETED', job.errorInfo);
    zip = await download(remote, job, root);
  });

  after(async () => {
    await remote?.app.close();
    await radicale?.stop();
    await dovecot?.destroy();
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('the log counts what the servers hold', () => {
    const nonEvents = calendars.filter((c) => c.kind !== 'event');
    const events = calendars.length - nonEvents.length;
    assert.equal(fetched.length, loaded.length, 'the direct FETCH sees every appended message');
    // Each event is exported as a MIME message too, and counted with the mail.
    assert.equal(zip.log.totalMessages, String(fetched.length + events));
    assert.equal(zip.log.totalNonExportableItems, String(nonEvents.length));
    assert.equal(job.exportLog?.sha384Hash, zip.log.sha384Hash);
    assert.ok(
      nonEvents.some((c) => c.kind === 'task'),
      'the corpus gives a VTODO',
    );
    assert.ok(
      nonEvents.some((c) => c.kind === 'note'),
      'the corpus gives a VJOURNAL',
    );
  });

  test('each message entry holds the bytes a direct FETCH BODY.PEEK[] returns', () => {
    const folders = sourceFolders(zip.manifest);
    const byKey = new Map(fetched.map((m) => [key(m.folder, m.uid), m]));
    const seen = new Set<string>();
    for (const item of zip.manifest.items.filter((i) => i.kind === 'message')) {
      const folder = folders.get(item.folder);
      assert.ok(folder !== undefined, `${item.zipPath}: folder not listed`);
      const server = byKey.get(key(folder, item.sourceId));
      assert.ok(server, `${item.zipPath}: no message ${folder} UID ${item.sourceId} on the server`);
      const entry = zip.entries.get(item.zipPath);
      assert.ok(entry, `${item.zipPath} is not in the zip`);
      assert.equal(sha256(entry), server.sha256, `${item.zipPath}: bytes differ from FETCH`);
      assert.equal(item.sha256, server.sha256);
      assert.equal(item.size, server.size);
      assert.ok(item.zipPath.endsWith('.eml'));
      seen.add(key(folder, item.sourceId));
    }
    assert.equal(seen.size, fetched.length, 'every message on the server is exported once');
  });

  test('flags and INTERNALDATE in the manifest are those the messages were stored with', () => {
    const folders = sourceFolders(zip.manifest);
    const byKey = new Map(loaded.map((m) => [key(m.folder.join('/'), m.uid), m]));
    const served = new Map(fetched.map((m) => [key(m.folder, m.uid), m]));
    for (const item of zip.manifest.items.filter((i) => i.kind === 'message')) {
      const id = key(folders.get(item.folder) as string, item.sourceId);
      const appended = byKey.get(id);
      assert.ok(appended, `${item.zipPath} was not appended`);
      assert.deepEqual(item.flags, [...appended.flags].sort(), item.zipPath);
      assert.deepEqual(item.flags, served.get(id)?.flags, item.zipPath);
      assert.equal(item.internalDate, appended.internalDate.toISOString(), item.zipPath);
    }
  });

  test('folders keep their decoded non-ASCII names, hierarchy and special use', () => {
    const mail = zip.manifest.folders.filter((f) => f.kind === 'mail');
    const names = mail.map((f) => f.sourcePath.join('/')).sort();
    const expected = [...new Set([...plan().keys()].map((p) => p.join('/'))), 'Trash'].sort();
    assert.deepEqual(names, expected);
    for (const path of ['Entwürfe/Übersicht', 'Entwürfe/Ärger', '日本語']) {
      const folder = mail.find((f) => f.sourcePath.join('/') === path);
      assert.ok(folder, path);
      assert.equal(folder.zipPath, path, 'the zip folder keeps the UTF-8 name and the levels');
    }
    assert.equal(mail.find((f) => f.sourcePath[0] === 'Sent')?.specialUse, '\\Sent');
  });

  test('calendar objects become MIME items; tasks and journal entries are non-exportable', () => {
    const folders = sourceFolders(zip.manifest);
    const calendarFolders = zip.manifest.folders.filter((f) => f.kind === 'calendar');
    assert.deepEqual(
      calendarFolders.map((f) => f.sourcePath.join('/')).sort(),
      [...new Set(calendars.map((c) => c.calendar))].sort(),
    );
    // A calendar named like a mail folder gets a zip folder of its own.
    const zipPaths = zip.manifest.folders.map((f) => f.zipPath);
    assert.equal(new Set(zipPaths).size, zipPaths.length);

    const byHref = new Map(calendars.map((c) => [decodeURIComponent(c.href), c]));
    const events = zip.manifest.items.filter((i) => i.kind === 'event');
    for (const item of events) {
      const stored = byHref.get(decodeURIComponent(item.sourceId));
      assert.ok(stored, `${item.sourceId} is not on the server`);
      assert.equal(stored.kind, 'event');
      assert.equal(folders.get(item.folder), stored.calendar);
      assert.equal(item.sha256, stored.sha256, `${item.sourceId}: not the bytes of a GET`);
      const entry = zip.entries.get(item.zipPath);
      assert.ok(entry && item.zipPath.endsWith('.eml'), item.zipPath);
      assert.equal(sha256(entry), item.entrySha256);
      assert.match(entry.toString('utf8'), /^Content-Type: text\/calendar/im);
    }
    assert.equal(events.length, calendars.filter((c) => c.kind === 'event').length);
    assert.ok(events.length >= 10, 'the corpus gives enough events');

    const skipped = zip.manifest.nonExportable.map(
      (n) => `${n.kind} ${decodeURIComponent(n.sourceId)}`,
    );
    const expected = calendars
      .filter((c) => c.kind !== 'event')
      .map((c) => `${c.kind} ${decodeURIComponent(c.href)}`);
    assert.deepEqual(skipped.sort(), expected.sort());
  });

  test("the same messages as an export of Dovecot's own Maildir through the embedded source", async () => {
    const source = openEmbeddedMailbox({ maildir: dovecot.mailRoot(USER.name) });
    const target = { jobId: 'embedded-maildir', s3BucketName: BUCKET, s3Prefix: 'embedded/' };
    const keys = defaultKeyRule(target);
    try {
      const result = await runExport({
        jobId: target.jobId,
        source,
        objectStore: remote.app.buckets,
        bucket: BUCKET,
        zipKey: keys.zipKey,
        logKey: keys.logKey,
        kmsKeyArn: remote.setup.kmsKeyArn as string,
        signal: AbortSignal.timeout(60_000),
        startTime: new Date(),
      });
      assert.equal(result.log.totalMessages, String(fetched.length));
    } finally {
      await source.close();
    }
    const embedded = await download(remote, target, root);

    const hashes = (d: Download, view: (bytes: Buffer) => Buffer) => {
      const folders = sourceFolders(d.manifest);
      return d.manifest.items
        .filter((i) => i.kind === 'message')
        .map((i) => `${folders.get(i.folder)} ${sha256(view(d.entries.get(i.zipPath) as Buffer))}`)
        .sort();
    };
    const overImap = hashes(zip, (b) => b);
    const fromDisk = hashes(embedded, (b) => b);
    const missing = fromDisk.filter((h) => !overImap.includes(h));

    // IMAP cannot carry a NUL byte in a message literal (RFC 3501 section 4.3): Dovecot sends
    // 0x80 instead. Only the messages stored with a NUL may differ, and exactly by that.
    const withNul = [...embedded.entries.values()].filter((b) => b.includes(0)).length;
    assert.ok(withNul > 0, 'the corpus holds messages with NUL bytes');
    assert.equal(missing.length, withNul);
    assert.deepEqual(overImap, hashes(embedded, imapView));

    // And the Maildir files are what the embedded export holds, byte for byte.
    const folders = sourceFolders(zip.manifest);
    for (const item of zip.manifest.items.filter((i) => i.kind === 'message')) {
      const path = (folders.get(item.folder) as string).split('/');
      const file = await storedMessage(dovecot, USER.name, path, Number(item.sourceId));
      assert.equal(sha256(imapView(file)), item.sha256, item.zipPath);
    }
  });
});
