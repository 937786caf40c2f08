import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32, deflateRawSync } from 'node:zlib';
import { LIMITS } from '../../src/core/limits.js';
import type { ExportLog } from '../../src/core/model.js';
import { verifyExport, type VerifyReport } from '../../src/export/verify.js';

/**
 * Zips written byte by byte, as an attacker would, with a forged log that matches them: the
 * entry checks must find what is wrong on their own.
 */

interface RawEntry {
  readonly name: string;
  /** What the entry extracts to. */
  readonly content: Buffer;
  readonly deflate?: boolean;
  /** Bytes stored after the deflate stream, counted in the compressed size. */
  readonly hidden?: Buffer;
  /** The name in the local header, when it differs from the central directory's. */
  readonly localName?: string;
  /** Extra fields of the central directory record. */
  readonly extra?: Buffer;
  /** The central directory records of the entry: one by default. */
  readonly names?: readonly string[];
  /** The CRC-32 the central directory gives, when it is not the content's. */
  readonly crc32?: number;
}

/** A zip of the entries in order, each with its local header (APPNOTE 4.3.7, 4.3.12). */
function rawZip(entries: readonly RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let at = 0;
  for (const entry of entries) {
    const method = entry.deflate === true ? 8 : 0;
    const data = Buffer.concat([
      method === 8 ? deflateRawSync(entry.content) : entry.content,
      entry.hidden ?? Buffer.alloc(0),
    ]);
    const crc = crc32(entry.content);
    const localName = Buffer.from(entry.localName ?? entry.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(entry.content.length, 22);
    local.writeUInt16LE(localName.length, 26);
    const offset = at;
    parts.push(local, localName, data);
    at += local.length + localName.length + data.length;

    for (const name of entry.names ?? [entry.name]) {
      const raw = Buffer.from(name);
      const extra = entry.extra ?? Buffer.alloc(0);
      const record = Buffer.alloc(46);
      record.writeUInt32LE(0x02014b50, 0);
      record.writeUInt16LE(0x031e, 4);
      record.writeUInt16LE(20, 6);
      record.writeUInt16LE(0x0800, 8);
      record.writeUInt16LE(method, 10);
      record.writeUInt16LE(0x21, 14);
      record.writeUInt32LE(entry.crc32 ?? crc, 16);
      record.writeUInt32LE(data.length, 20);
      record.writeUInt32LE(entry.content.length, 24);
      record.writeUInt16LE(raw.length, 28);
      record.writeUInt16LE(extra.length, 30);
      record.writeUInt32LE(offset, 42);
      central.push(record, raw, extra);
    }
  }
  const directory = Buffer.concat(central);
  const records = central.length / 3;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(records, 8);
  end.writeUInt16LE(records, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(at, 16);
  return Buffer.concat([...parts, directory, end]);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A manifest laid out as manifestJson writes it. */
function manifestText(folders: readonly string[], items: readonly [string, Buffer][]): string {
  const list = (key: string, records: readonly object[], last = false): string => {
    const close = last ? '\n' : ',\n';
    if (records.length === 0) return `  "${key}": []${close}`;
    const lines = records.map((record) => `    ${JSON.stringify(record)}`);
    return `  "${key}": [\n${lines.join(',\n')}\n  ]${close}`;
  };
  const folderRecords = folders.map((zipPath) => ({
    zipPath,
    sourcePath: [zipPath],
    kind: 'mail',
  }));
  const itemRecords = items.map(([zipPath, content], n) => ({
    zipPath,
    folder: zipPath.slice(0, zipPath.lastIndexOf('/')),
    sourceId: String(n + 1),
    kind: 'message',
    size: content.length,
    sha256: sha256(content),
    flags: [],
  }));
  return (
    '{\n  "format": "mailbox-export-manifest",\n  "version": 1,\n  "jobId": "job-1",\n' +
    '  "startTime": "2026-03-01T10:00:00.000Z",\n  "compression": "store",\n' +
    list('folders', folderRecords) +
    list('items', itemRecords) +
    list('nonExportable', []) +
    list('unreadable', []) +
    list('deleted', [], true) +
    '}\n'
  );
}

/** The log an attacker writes for the zip: its size and hash recomputed. */
function forgedLog(zip: Buffer, folders: number, items: number): ExportLog {
  return {
    totalNonExportableItems: '0',
    totalMessages: String(items),
    sha384Hash: createHash('sha384').update(zip).digest('hex'),
    totalBytes: String(zip.length),
    totalFolders: String(folders),
    startTime: String(Date.parse('2026-03-01T10:00:00.000Z') / 1000),
    endTime: String(Date.parse('2026-03-01T10:01:00.000Z') / 1000),
  };
}

const MESSAGE = Buffer.from('From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n');

describe('verifyExport on hostile zips with a forged log', () => {
  let root: string;
  let count = 0;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-hostile-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /**
   * Verifies a zip of the folders' directories, then `entries`, then a manifest promising
   * `folders` and `items` (each entry's content by default).
   */
  async function verifyRaw(
    entries: readonly RawEntry[],
    options: {
      folders?: readonly string[];
      items?: readonly [string, Buffer][];
      directories?: readonly RawEntry[];
      manifest?: string;
    } = {},
  ): Promise<VerifyReport> {
    const folders = options.folders ?? ['INBOX'];
    const items =
      options.items ?? entries.map((entry) => [entry.name, entry.content] as [string, Buffer]);
    const directories =
      options.directories ??
      folders.map((name) => ({ name: `${name}/`, content: Buffer.alloc(0) }));
    const manifest = options.manifest ?? manifestText(folders, items);
    const zip = rawZip([
      ...directories,
      ...entries,
      { name: 'manifest.json', content: Buffer.from(manifest), deflate: true },
    ]);
    const path = join(root, `${++count}.zip`);
    await writeFile(path, zip);
    return verifyExport(path, forgedLog(zip, folders.length, items.length));
  }

  const lines = (report: VerifyReport): string[] =>
    report.problems.map((problem) => `${problem.entry}: ${problem.message}`);

  it('passes a well-formed zip whose log was recomputed', async () => {
    const report = await verifyRaw([
      { name: 'INBOX/000001.eml', content: MESSAGE },
      { name: 'INBOX/000002.eml', content: MESSAGE, deflate: true },
    ]);
    assert.deepEqual(lines(report), []);
    assert.equal(report.entriesChecked, 2);
  });

  it('reads data that several central directory records point at once only', async () => {
    const zeros = Buffer.alloc(8 * 1024 * 1024);
    const names = Array.from(
      { length: 40 },
      (_, n) => `INBOX/${String(n + 1).padStart(6, '0')}.eml`,
    );
    const report = await verifyRaw(
      [{ name: names[0] as string, content: zeros, deflate: true, names }],
      { items: names.map((name) => [name, zeros]) },
    );
    assert.equal(report.entriesChecked, 1);
    assert.equal(report.ok, false);
    for (const name of names.slice(1)) {
      assert.ok(
        lines(report).includes(`${name}: starts inside or before the entry listed before it`),
        lines(report).join('\n'),
      );
    }
  });

  it('refuses a manifest promising more entries than the zip holds', async () => {
    const items = Array.from(
      { length: 30 },
      (_, n) => [`INBOX/${String(n + 1).padStart(6, '0')}.eml`, MESSAGE] as [string, Buffer],
    );
    const report = await verifyRaw([{ name: 'INBOX/000001.eml', content: MESSAGE }], { items });
    assert.equal(lines(report).length, 1, lines(report).join('\n'));
    assert.match(
      lines(report)[0] ?? '',
      /^manifest\.json: cannot be read: line \d+ promises more than the zip holds$/,
    );
  });

  it('names the entries a zip lost, rather than refusing its manifest', async () => {
    const items = Array.from(
      { length: 3 },
      (_, n) => [`INBOX/${String(n + 1).padStart(6, '0')}.eml`, MESSAGE] as [string, Buffer],
    );
    const report = await verifyRaw([{ name: 'INBOX/000001.eml', content: MESSAGE }], { items });
    assert.deepEqual(lines(report), [
      'INBOX/000002.eml: is in the manifest but not in the zip',
      'INBOX/000003.eml: is in the manifest but not in the zip',
    ]);
  });

  it('refuses long names promised beyond what the zip holds', async () => {
    // One long name in the zip allows each promised name to be as long, not all of them.
    const long = `INBOX/${'x'.repeat(60_000)}`;
    const entries = Array.from({ length: 40 }, (_, n) => ({
      name: `INBOX/${String(n + 1).padStart(6, '0')}.eml`,
      content: MESSAGE,
    }));
    const items = entries.map((_, n) => [`${long}${n}`, MESSAGE] as [string, Buffer]);
    const report = await verifyRaw([...entries, { name: `${long}0`, content: MESSAGE }], {
      items,
    });
    assert.equal(report.ok, false);
    assert.match(
      lines(report)[0] ?? '',
      /^manifest\.json: cannot be read: line \d+ promises more than the zip holds$/,
    );

    const longer = await verifyRaw(entries, { items: [[long, MESSAGE]] });
    assert.match(lines(longer)[0] ?? '', /names a path longer than any in the zip$/);
  });

  it('keeps the first problems and counts the rest', async () => {
    const extra = LIMITS.verifyProblemsKept + 20;
    const entries = Array.from({ length: extra }, (_, n) => ({
      name: `INBOX/extra-${n}.eml`,
      content: MESSAGE,
    }));
    const report = await verifyRaw(entries, { items: [] });
    assert.equal(report.problems.length, LIMITS.verifyProblemsKept);
    assert.equal(report.problemsNotKept, 20);
    assert.equal(report.ok, false);
  });

  it('refuses a folder deeper than an export writes', async () => {
    const deep = Array.from({ length: LIMITS.folderDepth + 1 }, () => 'a').join('/');
    const report = await verifyRaw([{ name: `${'x'.repeat(300)}.eml`, content: MESSAGE }], {
      folders: [deep],
      items: [],
      directories: [],
    });
    assert.deepEqual(lines(report), [
      `manifest.json: cannot be read: line 8 names a folder deeper than ${LIMITS.folderDepth} levels`,
    ]);
  });

  it('refuses a folder path longer than any name in the zip', async () => {
    const deep = Array.from({ length: 100_000 }, () => 'a').join('/');
    const report = await verifyRaw([], { folders: [deep], items: [], directories: [] });
    assert.deepEqual(lines(report), [
      'manifest.json: cannot be read: line 8 names a path longer than any in the zip',
    ]);
  });

  it('compares each CRC-32 with the central directory', async () => {
    // Read whole, streamed, and stored: each way of reading compares.
    const large = Buffer.alloc(2 * 1024 * 1024, 'x');
    const report = await verifyRaw([
      { name: 'INBOX/000001.eml', content: MESSAGE, deflate: true, crc32: 1 },
      { name: 'INBOX/000002.eml', content: large, deflate: true, crc32: 1 },
      { name: 'INBOX/000003.eml', content: MESSAGE, crc32: 1 },
    ]);
    const problems = lines(report);
    assert.equal(problems.length, 3, problems.join('\n'));
    for (const [n, line] of problems.entries()) {
      assert.match(
        line,
        new RegExp(
          `^INBOX/00000${n + 1}\\.eml: cannot be read: its CRC-32 is [0-9a-f]{8}, the central directory says 00000001$`,
        ),
      );
    }
  });

  it('reports an entry whose local header names another file', async () => {
    const report = await verifyRaw([
      { name: 'INBOX/000001.eml', content: MESSAGE, localName: 'INBOX/000009.eml' },
    ]);
    assert.deepEqual(lines(report), [
      'INBOX/000001.eml: cannot be read: its local header names another file',
      'INBOX/000001.eml: is in the manifest but not in the zip',
    ]);
  });

  it('reports an entry other tools would extract under another name', async () => {
    const unicodePath = Buffer.alloc(4 + 5 + 16);
    unicodePath.writeUInt16LE(0x7075, 0);
    unicodePath.writeUInt16LE(5 + 16, 2);
    unicodePath.writeUInt8(1, 4);
    unicodePath.writeUInt32LE(crc32(Buffer.from('INBOX/000001.eml')), 5);
    unicodePath.write('INBOX/000009.eml', 9);
    const report = await verifyRaw(
      [
        { name: 'INBOX/000001.eml', content: MESSAGE, extra: unicodePath },
        { name: 'INBOX\\000002.eml', content: MESSAGE },
      ],
      { items: [['INBOX/000002.eml', MESSAGE]] },
    );
    assert.deepEqual(lines(report), [
      'INBOX/000009.eml: carries a second name (an Info-ZIP Unicode Path field)',
      'INBOX/000002.eml: is named "INBOX\\\\000002.eml" in the zip\'s bytes',
      'INBOX/000002.eml: is in the manifest but not in the zip',
    ]);
  });

  it("reports bytes hidden after an entry's deflate data", async () => {
    const hidden = Buffer.from('bytes no extracting tool shows');
    const report = await verifyRaw([
      { name: 'INBOX/000001.eml', content: MESSAGE, deflate: true, hidden },
      { name: 'INBOX/000002.eml', content: Buffer.alloc(2 * 1024 * 1024), deflate: true, hidden },
    ]);
    const problems = lines(report);
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(
      problems[0] ?? '',
      /^INBOX\/000001\.eml: cannot be read: its deflate data ends after \d+ of its \d+ bytes$/,
    );
    assert.match(
      problems[1] ?? '',
      /^INBOX\/000002\.eml: cannot be read: its deflate data ends after \d+ of its \d+ bytes$/,
    );
  });

  it('reports a directory entry that holds data', async () => {
    const report = await verifyRaw([{ name: 'INBOX/000001.eml', content: MESSAGE }], {
      directories: [{ name: 'INBOX/', content: MESSAGE }],
    });
    assert.deepEqual(lines(report), ['INBOX/: is a directory that holds data']);
  });
});
