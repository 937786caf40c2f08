import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { LIMITS } from '../core/limits.js';
import type { ExportLog } from '../core/model.js';
import { MANIFEST_NAME } from './layout.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest } from './manifest.js';

/**
 * Checks a downloaded export against its log: the zip's size and SHA-384, every entry against
 * the manifest (present, with its SHA-256, nothing extra), and the log's counts against the
 * manifest. It reports; it never throws for a bad zip, only for one it cannot open at all.
 */

export interface VerifyProblem {
  /** The zip path concerned, or `(zip)`, `(export log)`, `(manifest)` for the whole. */
  readonly entry: string;
  readonly message: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly problems: readonly VerifyProblem[];
  /** Entries of the zip whose content was read and compared. */
  readonly entriesChecked: number;
}

interface Expected {
  readonly size: number;
  readonly sha256: string;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha384');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function hashEntry(zip: ZipFile, entry: Entry): Promise<{ size: number; sha256: string }> {
  const stream: Readable = await zip.openReadStreamPromise(entry);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

async function readManifest(zip: ZipFile, entry: Entry): Promise<Manifest> {
  if (entry.uncompressedSize > LIMITS.manifestBytesVerified) {
    throw new Error(`it is larger than ${LIMITS.manifestBytesVerified} bytes`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
  const manifest = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Manifest;
  if (manifest.format !== MANIFEST_FORMAT || manifest.version !== MANIFEST_VERSION) {
    throw new Error(`format ${String(manifest.format)} ${String(manifest.version)} is unknown`);
  }
  return manifest;
}

/** Every file the manifest promises, with what it must hold. */
function expectedFiles(manifest: Manifest): Map<string, Expected> {
  const files = new Map<string, Expected>();
  for (const item of manifest.items) {
    files.set(item.zipPath, {
      size: item.entrySize ?? item.size,
      sha256: item.entrySha256 ?? item.sha256,
    });
  }
  for (const problem of [...manifest.unreadable, ...manifest.deleted]) {
    const partial = problem.partialEntry;
    if (partial !== undefined) files.set(partial.zipPath, partial);
  }
  return files;
}

function expectedDirectories(manifest: Manifest): Set<string> {
  const directories = new Set<string>();
  for (const folder of manifest.folders) {
    const levels = folder.zipPath.split('/');
    for (let depth = 1; depth <= levels.length; depth++) {
      directories.add(`${levels.slice(0, depth).join('/')}/`);
    }
  }
  return directories;
}

function checkLog(log: ExportLog, manifest: Manifest, problems: VerifyProblem[]): void {
  const counts: [keyof ExportLog, number][] = [
    ['totalMessages', manifest.items.length],
    ['totalNonExportableItems', manifest.nonExportable.length],
    ['totalFolders', manifest.folders.length],
  ];
  for (const [member, count] of counts) {
    if (log[member] !== String(count)) {
      const message = `${member} is ${log[member]}, the manifest lists ${count}`;
      problems.push({ entry: '(export log)', message });
    }
  }
  const start = String(Math.floor(Date.parse(manifest.startTime) / 1000));
  if (log.startTime !== start) {
    const message = `startTime is ${log.startTime}, the manifest says ${manifest.startTime}`;
    problems.push({ entry: '(export log)', message });
  }
}

async function listEntries(zip: ZipFile, problems: VerifyProblem[]): Promise<Entry[]> {
  const entries: Entry[] = [];
  const names = new Set<string>();
  for await (const entry of zip.eachEntry()) {
    if (names.has(entry.fileName)) {
      problems.push({ entry: entry.fileName, message: 'the zip holds this name twice' });
    }
    names.add(entry.fileName);
    entries.push(entry);
  }
  return entries;
}

export async function verifyExport(zipPath: string, log: ExportLog): Promise<VerifyReport> {
  const problems: VerifyProblem[] = [];
  const size = (await stat(zipPath)).size;
  if (String(size) !== log.totalBytes) {
    problems.push({ entry: '(zip)', message: `${size} bytes, the log says ${log.totalBytes}` });
  }
  const sha384 = await hashFile(zipPath);
  if (sha384 !== log.sha384Hash) {
    problems.push({
      entry: '(zip)',
      message: `SHA-384 is ${sha384}, the log says ${log.sha384Hash}`,
    });
  }

  let zip: ZipFile;
  let entries: Entry[];
  try {
    zip = await yauzl.openPromise(zipPath, {
      lazyEntries: true,
      autoClose: false,
      validateEntrySizes: true,
    });
    entries = await listEntries(zip, problems);
  } catch (error) {
    const message = `cannot be read as a zip: ${(error as Error).message}`;
    return { ok: false, problems: [...problems, { entry: '(zip)', message }], entriesChecked: 0 };
  }

  let checked = 0;
  try {
    const last = entries[entries.length - 1];
    if (last === undefined || last.fileName !== MANIFEST_NAME) {
      problems.push({ entry: MANIFEST_NAME, message: 'is not the last entry of the zip' });
      return { ok: false, problems, entriesChecked: checked };
    }
    let manifest: Manifest;
    try {
      manifest = await readManifest(zip, last);
    } catch (error) {
      problems.push({
        entry: MANIFEST_NAME,
        message: `cannot be read: ${(error as Error).message}`,
      });
      return { ok: false, problems, entriesChecked: checked };
    }
    checkLog(log, manifest, problems);

    const files = expectedFiles(manifest);
    const directories = expectedDirectories(manifest);
    for (const entry of entries.slice(0, -1)) {
      const name = entry.fileName;
      if (name.endsWith('/')) {
        if (!directories.has(name))
          problems.push({ entry: name, message: 'is not in the manifest' });
        continue;
      }
      const expected = files.get(name);
      if (expected === undefined) {
        problems.push({ entry: name, message: 'is not in the manifest' });
        continue;
      }
      files.delete(name);
      try {
        const actual = await hashEntry(zip, entry);
        checked++;
        if (actual.size !== expected.size || actual.sha256 !== expected.sha256) {
          const message =
            `holds ${actual.size} bytes with SHA-256 ${actual.sha256}, ` +
            `the manifest says ${expected.size} bytes with ${expected.sha256}`;
          problems.push({ entry: name, message });
        }
      } catch (error) {
        problems.push({ entry: name, message: `cannot be read: ${(error as Error).message}` });
      }
    }
    for (const name of files.keys()) {
      problems.push({ entry: name, message: 'is in the manifest but not in the zip' });
    }
  } finally {
    zip.close();
  }
  return { ok: problems.length === 0, problems, entriesChecked: checked };
}
