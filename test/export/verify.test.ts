import assert from 'node:assert/strict';
import { copyFile, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import yauzl from 'yauzl';
import { ZipFile } from 'yazl';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { readManifestLines } from '../../src/export/manifest-reader.js';
import { verifyExport, type VerifyReport } from '../../src/export/verify.js';
import { LIMITS } from '../../src/core/limits.js';
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
  /**
   * Verifies the store run's zip with its manifest's lines as `change` gives them back, against
   * a log whose counts `log` changes as a forger would.
   */
  async function withManifest(
    name: string,
    change: (lines: string[]) => (string | Buffer)[],
    log: Partial<ExportRun['result']['log']> = {},
  ): Promise<string[]> {
    const path = await rebuilt(name, (entry, bytes) => {
      if (entry !== 'manifest.json') return [[entry, bytes]];
      const lines = bytes.toString('utf8').split('\n');
      const changed = change(lines).map((line) =>
        typeof line === 'string' ? Buffer.from(line) : line,
      );
      const joined = changed.flatMap((line, n) => (n === 0 ? [line] : [Buffer.from('\n'), line]));
      return [[entry, Buffer.concat(joined)]];
    });
    const report: VerifyReport = await verifyExport(path, {
      ...(runs.store as ExportRun).result.log,
      ...log,
    });
    assert.equal(report.ok, false);
    return report.problems
      .filter((problem) => problem.entry !== '(zip)')
      .map((problem) => `${problem.entry}: ${problem.message}`);
  }

  /** The number of the line that starts with `start` (counted from 1). */
  const lineOf = (lines: string[], start: string): number =>
    lines.findIndex((line) => line.startsWith(start)) + 1;

  it('refuses a manifest that lists a zip path twice', async () => {
    const named = await withManifest(
      'listed-twice.zip',
      (lines) => {
        // The first record lies about the entry; a reader keeping the later one sees no change.
        const at = lineOf(lines, '    {"zipPath":"INBOX/000001.eml"') - 1;
        const forged = (lines[at] as string).replace(
          /"sha256":"[0-9a-f]{64}"/,
          `"sha256":"${'0'.repeat(64)}"`,
        );
        return [...lines.slice(0, at), forged, ...lines.slice(at)];
      },
      { totalMessages: '26' },
    );
    assert.deepEqual(named.length, 1, named.join('\n'));
    assert.match(
      named[0] ?? '',
      /^manifest\.json: cannot be read: line \d+ lists INBOX\/000001\.eml twice$/,
    );
  });

  it('refuses a list given twice, out of order, or with other commas', async () => {
    const cases: [string, (lines: string[]) => string[], RegExp][] = [
      [
        'a list given again before the end',
        (lines) => {
          const at = lineOf(lines, '  "deleted"') - 1;
          return [...lines.slice(0, at), `${lines[at]},`, '  "items": []', ...lines.slice(at + 1)];
        },
        /line \d+ ends the last list with a comma$/,
      ],
      [
        'a list given again between others',
        (lines) => {
          const at = lineOf(lines, '  "nonExportable"') - 1;
          return [...lines.slice(0, at), '  "items": [],', ...lines.slice(at)];
        },
        /line \d+ opens items where nonExportable belongs$/,
      ],
      [
        'a comma after the last record',
        (lines) => {
          const at = lineOf(lines, '  "nonExportable"') - 3;
          return lines.map((line, n) => (n === at ? `${line},` : line));
        },
        /line \d+ closes items after a comma$/,
      ],
      [
        'no comma between records',
        (lines) => {
          const at = lineOf(lines, '    {"zipPath":"INBOX/000002.eml"') - 1;
          return lines.map((line, n) => (n === at ? line.replace(/,$/, '') : line));
        },
        /line \d+ follows a record without a comma$/,
      ],
    ];
    for (const [what, change, refusal] of cases) {
      const named = await withManifest(`${what.replaceAll(' ', '-')}.zip`, change);
      assert.equal(named.length, 1, `${what}: ${named.join('\n')}`);
      assert.match(named[0] ?? '', refusal, what);
      assert.match(named[0] ?? '', /^manifest\.json: cannot be read: /, what);
    }
  });

  it('refuses a manifest holding bytes that are not UTF-8', async () => {
    const named = await withManifest('latin1.zip', (lines) => {
      const at = lineOf(lines, '  "jobId"') - 1;
      const [before, after] = (lines[at] as string).split('job-1') as [string, string];
      return [
        ...lines.slice(0, at),
        Buffer.concat([Buffer.from(before), Buffer.from([0x6a, 0xff]), Buffer.from(after)]),
        ...lines.slice(at + 1),
      ];
    });
    assert.deepEqual(named, ['manifest.json: cannot be read: it holds bytes that are not UTF-8']);
  });

  it('reports a folder directory the zip lacks', async () => {
    const path = await rebuilt('no-calendar-directory.zip', (name, bytes) => {
      if (name === 'Calendar/') return [];
      // One entry more keeps the count of names the manifest may promise.
      if (name === 'manifest.json')
        return [
          ['INBOX/extra.eml', bytes],
          [name, bytes],
        ];
      return [[name, bytes]];
    });
    const report = await verifyExport(path, (runs.store as ExportRun).result.log);
    const named = report.problems.map((p) => `${p.entry}: ${p.message}`);
    assert.ok(named.includes('Calendar/: is in the manifest but not in the zip'), named.join('\n'));
  });

  it('reads a long manifest line in small chunks and refuses a longer one', async () => {
    // Several MB in chunks of a few bytes: the line is scanned once, not once per chunk. The
    // `é` makes some chunks end inside a character.
    const reason = 'é'.repeat(1_500_000);
    const record = JSON.stringify({ folder: 'INBOX', sourceId: '1', kind: 'message', reason });
    const text = (line: string): string =>
      '{\n  "format": "mailbox-export-manifest",\n  "version": 1,\n  "jobId": "job-1",\n' +
      '  "startTime": "2026-03-01T10:00:00.000Z",\n  "compression": "store",\n' +
      '  "folders": [],\n  "items": [],\n  "nonExportable": [],\n' +
      `  "unreadable": [\n    ${line}\n  ],\n  "deleted": []\n}\n`;
    async function* chunks(bytes: Buffer): AsyncGenerator<Buffer> {
      for (let at = 0; at < bytes.length; at += 33) yield bytes.subarray(at, at + 33);
    }

    const reasons: string[] = [];
    const summary = await readManifestLines(chunks(Buffer.from(text(record))), {
      problem: (problem) => void reasons.push(problem.reason),
    });
    assert.equal(summary.counts.unreadable, 1);
    assert.deepEqual(reasons, [reason]);

    const longer = JSON.stringify({ reason: 'x'.repeat(LIMITS.manifestLineChars) });
    await assert.rejects(
      readManifestLines(chunks(Buffer.from(text(longer))), {}),
      new RegExp(`^Error: line 11 is longer than ${LIMITS.manifestLineChars} characters$`),
    );
  });
});
