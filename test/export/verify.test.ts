import assert from 'node:assert/strict';
import { copyFile, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import yauzl from 'yauzl';
import { ZipFile } from 'yazl';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { verifyExport } from '../../src/export/verify.js';
import { corpusRoot } from '../helpers/paths.js';
import { itemsFromDirectory } from './fixtures/file-source.js';
import { exportFixture, readZip, type ExportRun } from './fixtures/helpers.js';

/** Offset of the first byte of an entry's stored data. */
async function dataOffset(zipPath: string, name: string): Promise<number> {
  const zip = await yauzl.openPromise(zipPath, { lazyEntries: true, autoClose: false });
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName !== name) continue;
      return (await zip.readLocalFileHeaderPromise(entry, { minimal: true })).fileDataStart;
    }
  } finally {
    zip.close();
  }
  throw new Error(`no entry ${name}`);
}

async function flipByte(path: string, offset: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, offset);
    byte[0] = (byte[0] as number) ^ 0x20;
    await file.write(byte, 0, 1, offset);
  } finally {
    await file.close();
  }
}

describe('verifyExport', () => {
  let root: string;
  const runs: Record<string, ExportRun> = {};

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-'));
    const messages = await itemsFromDirectory(join(corpusRoot, 'mime'), 'message', '.eml');
    const events = await itemsFromDirectory(join(corpusRoot, 'calendar'), 'event', '.ics');
    const folders = [
      { path: ['INBOX'], kind: 'mail' as const, items: messages.slice(0, 20) },
      { path: ['Calendar'], kind: 'calendar' as const, items: events.slice(0, 5) },
    ];
    for (const compression of ['store', 'default'] as const) {
      runs[compression] = await exportFixture(join(root, compression), folders, { compression });
    }

    // Larger than what is read whole: read as a stream.
    const lines = Array.from({ length: 60_000 }, (_, n) => `line ${n} of a long message`);
    const large = [{ id: 'large', kind: 'message' as const, text: lines.join('\r\n') }];
    runs.large = await exportFixture(join(root, 'large'), [
      { path: ['INBOX'], kind: 'mail' as const, items: large },
    ]);
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('passes on the zip as written', async () => {
    for (const [name, run] of Object.entries(runs)) {
      const report = await verifyExport(run.zipPath, run.result.log);
      assert.deepEqual(report.problems, []);
      assert.equal(report.ok, true);
      assert.equal(report.entriesChecked, name === 'large' ? 1 : 25);
    }
  });

  it('names a changed byte of an entry too large to read whole', async () => {
    const run = runs.large as ExportRun;
    const copy = join(root, 'changed-large.zip');
    await copyFile(run.zipPath, copy);
    await flipByte(copy, (await dataOffset(copy, 'INBOX/000001.eml')) + 50_000);

    const report = await verifyExport(copy, run.result.log);
    const entries = report.problems.map((problem) => problem.entry);
    assert.deepEqual(
      entries.sort(),
      ['(zip)', 'INBOX/000001.eml'],
      JSON.stringify(report.problems),
    );
  });

  for (const compression of ['store', 'default'] as const) {
    it(`names the entry whose byte changed (${compression})`, async () => {
      const run = runs[compression] as ExportRun;
      const copy = join(root, `changed-${compression}.zip`);
      await copyFile(run.zipPath, copy);
      await flipByte(copy, (await dataOffset(copy, 'INBOX/000003.eml')) + 40);

      const report = await verifyExport(copy, run.result.log);
      assert.equal(report.ok, false);
      const entries = report.problems.map((problem) => problem.entry);
      assert.ok(entries.includes('(zip)'), 'the SHA-384 change is not reported');
      assert.ok(entries.includes('INBOX/000003.eml'), JSON.stringify(report.problems));
      assert.equal(new Set(entries).size, 2, JSON.stringify(report.problems));
    });
  }

  it('reports a log that does not match', async () => {
    const run = runs.store as ExportRun;
    const log = { ...run.result.log, totalMessages: '26', totalBytes: '1' };
    const report = await verifyExport(run.zipPath, log);
    assert.deepEqual(
      report.problems.map((p) => p.entry),
      ['(zip)', '(export log)'],
    );
    assert.match(report.problems[1]?.message ?? '', /totalMessages is 26, the manifest lists 25/);
  });

  it('reports entries missing from the zip and entries the manifest does not list', async () => {
    const run = runs.store as ExportRun;
    const entries = await readZip(run.zipPath);
    const rebuilt = new ZipFile();
    for (const [name, bytes] of entries) {
      if (name === 'INBOX/000002.eml') continue;
      if (name === 'manifest.json') rebuilt.addBuffer(Buffer.from('extra'), 'INBOX/extra.eml');
      if (name.endsWith('/')) rebuilt.addEmptyDirectory(name);
      else rebuilt.addBuffer(bytes, name);
    }
    rebuilt.end();
    const path = join(root, 'rebuilt.zip');
    await pipeline(rebuilt.outputStream, createWriteStream(path));

    const report = await verifyExport(path, run.result.log);
    const named = report.problems.map((p) => `${p.entry}: ${p.message}`);
    assert.ok(named.includes('INBOX/extra.eml: is not in the manifest'), named.join('\n'));
    assert.ok(named.includes('INBOX/000002.eml: is in the manifest but not in the zip'));
  });

  /** The store run's zip with its entries as `change` gives them back. */
  async function rebuilt(
    name: string,
    change: (name: string, bytes: Buffer) => [string, Buffer][],
  ): Promise<string> {
    const zip = new ZipFile();
    for (const [entry, bytes] of await readZip((runs.store as ExportRun).zipPath)) {
      for (const [changed, data] of change(entry, bytes)) {
        if (changed.endsWith('/')) zip.addEmptyDirectory(changed);
        else zip.addBuffer(data, changed);
      }
    }
    zip.end();
    const path = join(root, name);
    await pipeline(zip.outputStream, createWriteStream(path));
    return path;
  }

  it('reports a name the zip holds twice', async () => {
    const path = await rebuilt('twice.zip', (name, bytes) =>
      name === 'INBOX/000004.eml'
        ? [
            [name, bytes],
            [name, bytes],
          ]
        : [[name, bytes]],
    );
    const report = await verifyExport(path, (runs.store as ExportRun).result.log);
    const named = report.problems.map((p) => `${p.entry}: ${p.message}`);
    assert.ok(named.includes('INBOX/000004.eml: the zip holds this name twice'), named.join('\n'));
  });

  it('refuses a manifest laid out otherwise than the export writes it', async () => {
    const path = await rebuilt('relaid.zip', (name, bytes) =>
      name === 'manifest.json'
        ? [[name, Buffer.from(JSON.stringify(JSON.parse(bytes.toString('utf8'))))]]
        : [[name, bytes]],
    );
    const report = await verifyExport(path, (runs.store as ExportRun).result.log);
    const named = report.problems.map((p) => `${p.entry}: ${p.message}`);
    assert.ok(
      named.some((line) => /^manifest\.json: cannot be read: line 1 /.test(line)),
      named.join('\n'),
    );
    assert.equal(report.ok, false);
  });
});
