import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import PostalMime from 'postal-mime';
import type { ExportProgress } from '../../src/core/export.js';
import { LIMITS } from '../../src/core/limits.js';
import { corpusRoot } from '../helpers/paths.js';
import { itemsFromDirectory, type FixtureFolder } from './fixtures/file-source.js';
import {
  execFileAsync,
  exportFixture,
  readLog,
  readManifest,
  readZip,
  sha256,
  type ExportRun,
} from './fixtures/helpers.js';

const mimeDir = join(corpusRoot, 'mime');
const calendarDir = join(corpusRoot, 'calendar');

describe('export of the MIME corpus', () => {
  let root: string;
  let folders: FixtureFolder[];
  let run: ExportRun;
  const reports: ExportProgress[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-'));
    const messages = await itemsFromDirectory(mimeDir, 'message', '.eml');
    const half = Math.ceil(messages.length / 2);
    folders = [
      { path: ['INBOX'], kind: 'mail', validity: '1700000000', items: messages.slice(0, half) },
      {
        path: ['INBOX', 'Archive'],
        kind: 'mail',
        items: messages.slice(half).map((item, i) => ({
          ...item,
          flags: i % 2 === 0 ? ['\\Seen', '\\Answered'] : [],
          internalDate: `2024-02-${String((i % 28) + 1).padStart(2, '0')}T08:30:00Z`,
        })),
      },
      {
        path: ['Calendar'],
        kind: 'calendar',
        items: (await itemsFromDirectory(calendarDir, 'event', '.ics')).slice(0, 5),
      },
      {
        path: ['Contacts'],
        kind: 'contacts',
        items: [
          { id: 'a.vcf', kind: 'contact', text: 'BEGIN:VCARD\r\nEND:VCARD\r\n' },
          { id: 'b.vcf', kind: 'contact', text: 'BEGIN:VCARD\r\nEND:VCARD\r\n' },
        ],
      },
      { path: ['Tasks'], kind: 'calendar', items: [{ id: 't1', kind: 'task', text: 'x' }] },
    ];
    run = await exportFixture(root, folders, { onProgress: (p) => reports.push(p) });
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes every message byte for byte', async () => {
    const entries = await readZip(run.zipPath);
    const manifest = await readManifest(run.zipPath);
    let checked = 0;
    for (const folder of folders) {
      for (const item of folder.items) {
        if (item.kind !== 'message') continue;
        const record = manifest.items.find((r) => r.sourceId === item.id);
        assert.ok(record, `no manifest record for ${item.id}`);
        const source = await readFile(item.file as string);
        const entry = entries.get(record.zipPath);
        assert.ok(entry, `no entry ${record.zipPath}`);
        assert.equal(sha256(entry), sha256(source), item.id);
        assert.equal(record.sha256, sha256(source));
        assert.equal(record.size, source.length);
        checked++;
      }
    }
    assert.ok(checked > 90, `only ${checked} messages checked`);
  });

  it('passes unzip -t and matches sha384sum and the log', async () => {
    const tested = await execFileAsync('unzip', ['-t', run.zipPath], { maxBuffer: 1 << 24 });
    assert.match(tested.stdout, /No errors detected/);

    const { stdout } = await execFileAsync('sha384sum', [run.zipPath]);
    const log = await readLog(run.logPath);
    assert.equal(log.sha384Hash, stdout.split(' ')[0]);
    assert.equal(log.totalBytes, String((await stat(run.zipPath)).size));
    assert.deepEqual(log, run.result.log);
  });

  it('writes an export log of exactly seven string members', async () => {
    const log = await readLog(run.logPath);
    assert.deepEqual(Object.keys(log).sort(), [
      'endTime',
      'sha384Hash',
      'startTime',
      'totalBytes',
      'totalFolders',
      'totalMessages',
      'totalNonExportableItems',
    ]);
    for (const value of Object.values(log)) assert.equal(typeof value, 'string');
    const messages = folders.flatMap((f) => f.items).filter((i) => i.kind === 'message');
    assert.equal(log.totalMessages, String(messages.length + 5));
    assert.equal(log.totalNonExportableItems, '3');
    assert.equal(log.totalFolders, '5');
    assert.equal(log.startTime, '1772359200');
    assert.match(log.endTime as string, /^\d{10}$/);
    assert.ok(Number(log.endTime) >= Number(log.startTime));
    assert.equal(log.sha384Hash, (log.sha384Hash as string).toLowerCase());
  });

  it('names folders, flags, dates and non-exportable items in the manifest', async () => {
    const manifest = await readManifest(run.zipPath);
    assert.equal(manifest.jobId, 'job-1');
    assert.deepEqual(
      manifest.folders.map((f) => [f.zipPath, f.sourcePath, f.kind]),
      [
        ['Calendar', ['Calendar'], 'calendar'],
        ['Contacts', ['Contacts'], 'contacts'],
        ['INBOX', ['INBOX'], 'mail'],
        ['INBOX/Archive', ['INBOX', 'Archive'], 'mail'],
        ['Tasks', ['Tasks'], 'calendar'],
      ],
    );
    assert.equal(manifest.folders[2]?.validity, '1700000000');
    assert.deepEqual(
      manifest.nonExportable.map((n) => [n.folder, n.sourceId, n.kind]),
      [
        ['Contacts', 'a.vcf', 'contact'],
        ['Contacts', 'b.vcf', 'contact'],
        ['Tasks', 't1', 'task'],
      ],
    );
    const archived = manifest.items.filter((i) => i.folder === 'INBOX/Archive');
    assert.deepEqual(archived[0]?.flags, ['\\Answered', '\\Seen']);
    assert.equal(archived[0]?.internalDate, '2024-02-01T08:30:00.000Z');
    assert.equal(archived[0]?.zipPath, 'INBOX/Archive/000001.eml');
  });

  it('reads header fields as postal-mime does, and invents none', async () => {
    const manifest = await readManifest(run.zipPath);
    let dated = 0;
    for (const record of manifest.items.filter((i) => i.kind === 'message')) {
      const header = record.header;
      assert.ok(header, record.sourceId);
      if (header.status !== 'parsed') continue;
      const parsed = await PostalMime.parse(await readFile(join(mimeDir, record.sourceId)));
      if (header.truncated?.includes('subject')) {
        assert.ok(parsed.subject?.startsWith(header.subject as string), record.sourceId);
        assert.equal(header.subject?.length, LIMITS.manifestFieldChars);
      } else {
        assert.ok(header.subject === parsed.subject, `${record.sourceId}: subject differs`);
      }
      assert.equal(header.messageId, parsed.messageId || undefined, record.sourceId);
      if (header.date !== undefined) {
        assert.equal(header.date, parsed.date, record.sourceId);
        dated++;
      } else if (parsed.date !== undefined) {
        assert.ok(
          header.unparsed?.includes('date'),
          `${record.sourceId}: date neither read nor marked`,
        );
      }
      if (header.from !== undefined) assert.equal(header.from.address, parsed.from?.address);
    }
    assert.ok(dated > 50, `only ${dated} dates read`);
  });

  it('reports progress up to the whole export', () => {
    assert.ok(reports.length >= 1);
    const last = reports[reports.length - 1] as ExportProgress;
    assert.equal(last.itemsDone, last.itemsTotal);
    assert.equal(last.foldersDone, last.foldersTotal);
    assert.equal(last.bytesDone, last.bytesTotal);
    assert.equal(String(last.zipBytes), run.result.log.totalBytes);
    for (let i = 1; i < reports.length; i++) {
      assert.ok(
        (reports[i] as ExportProgress).bytesDone >= (reports[i - 1] as ExportProgress).bytesDone,
      );
    }
  });
});
