import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Entry, ZipFile } from 'yauzl';
import type { ExportLog } from '../core/model.js';
import { MANIFEST_NAME } from './layout.js';
import { readManifestLines, type ManifestSummary } from './manifest-reader.js';
import { openZipFile, type OpenedZip } from './zip-reader.js';

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

/** An entry's size and SHA-256 as the manifest gives them, or CHECKED once it was compared. */
type Expected = string;
const CHECKED = '';

function expected(size: number, sha256: string): Expected {
  return `${size} ${sha256}`;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha384');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function hashEntry({ zip, wholeEntry }: OpenedZip, entry: Entry): Promise<Expected> {
  const whole = await wholeEntry(entry);
  if (whole !== undefined) {
    return expected(whole.length, createHash('sha256').update(whole).digest('hex'));
  }
  const stream: Readable = await zip.openReadStreamPromise(entry);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return expected(size, hash.digest('hex'));
}

/** What the manifest promises: each file with its size and hash, each folder's directories. */
interface Promised {
  readonly files: Map<string, Expected>;
  readonly directories: Set<string>;
  readonly summary: ManifestSummary;
}

async function readPromises(zip: ZipFile, entry: Entry): Promise<Promised> {
  const files = new Map<string, Expected>();
  const directories = new Set<string>();
  const summary = await readManifestLines(await zip.openReadStreamPromise(entry), {
    folder({ zipPath }) {
      const levels = zipPath.split('/');
      for (let depth = 1; depth <= levels.length; depth++) {
        directories.add(`${levels.slice(0, depth).join('/')}/`);
      }
    },
    item(item) {
      files.set(
        item.zipPath,
        expected(item.entrySize ?? item.size, item.entrySha256 ?? item.sha256),
      );
    },
    problem({ partialEntry }) {
      if (partialEntry !== undefined) {
        files.set(partialEntry.zipPath, expected(partialEntry.size, partialEntry.sha256));
      }
    },
  });
  return { files, directories, summary };
}

function checkLog(log: ExportLog, summary: ManifestSummary, problems: VerifyProblem[]): void {
  const counts: [keyof ExportLog, number][] = [
    ['totalMessages', summary.counts.items],
    ['totalNonExportableItems', summary.counts.nonExportable],
    ['totalFolders', summary.counts.folders],
  ];
  for (const [member, count] of counts) {
    if (log[member] !== String(count)) {
      const message = `${member} is ${log[member]}, the manifest lists ${count}`;
      problems.push({ entry: '(export log)', message });
    }
  }
  const { startTime } = summary.head;
  const start = String(Math.floor(Date.parse(startTime) / 1000));
  if (log.startTime !== start) {
    const message = `startTime is ${log.startTime}, the manifest says ${startTime}`;
    problems.push({ entry: '(export log)', message });
  }
}

/**
 * What the manifest, the zip's last entry, promises. The central directory is read through
 * once for it, keeping no other entry: a second pass then reads the entries it promises.
 */
async function readManifest(zipPath: string): Promise<Promised | VerifyProblem> {
  const { zip } = await openZipFile(zipPath);
  try {
    let last: Entry | undefined;
    for await (const entry of zip.eachEntry()) last = entry;
    if (last === undefined || last.fileName !== MANIFEST_NAME) {
      return { entry: MANIFEST_NAME, message: 'is not the last entry of the zip' };
    }
    try {
      return await readPromises(zip, last);
    } catch (error) {
      return { entry: MANIFEST_NAME, message: `cannot be read: ${(error as Error).message}` };
    }
  } finally {
    zip.close();
  }
}

/**
 * Reads the zip once more, entry by entry, against what the manifest promised. Memory holds
 * the promises, about a hundred bytes per item, and one entry at a time.
 */
async function checkEntries(
  zipPath: string,
  promised: Promised,
  problems: VerifyProblem[],
): Promise<number> {
  const { files, directories } = promised;
  const seenDirectories = new Set<string>();
  let checked = 0;
  let manifests = 0;
  const opened = await openZipFile(zipPath);
  const { zip } = opened;
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      if (name === MANIFEST_NAME) {
        if (++manifests === 2)
          problems.push({ entry: name, message: 'the zip holds this name twice' });
        continue;
      }
      if (name.endsWith('/')) {
        if (seenDirectories.has(name)) {
          problems.push({ entry: name, message: 'the zip holds this name twice' });
        } else if (!directories.has(name)) {
          problems.push({ entry: name, message: 'is not in the manifest' });
        }
        seenDirectories.add(name);
        continue;
      }

      const promise = files.get(name);
      if (promise === undefined) {
        problems.push({ entry: name, message: 'is not in the manifest' });
        continue;
      }
      if (promise === CHECKED) {
        problems.push({ entry: name, message: 'the zip holds this name twice' });
        continue;
      }
      files.set(name, CHECKED);
      try {
        const actual = await hashEntry(opened, entry);
        checked++;
        if (actual !== promise) {
          const [size, sha256] = actual.split(' ');
          const [wantedSize, wantedSha256] = promise.split(' ');
          const message =
            `holds ${size} bytes with SHA-256 ${sha256}, ` +
            `the manifest says ${wantedSize} bytes with ${wantedSha256}`;
          problems.push({ entry: name, message });
        }
      } catch (error) {
        problems.push({ entry: name, message: `cannot be read: ${(error as Error).message}` });
      }
    }
  } finally {
    zip.close();
  }

  for (const [name, promise] of files) {
    if (promise !== CHECKED) {
      problems.push({ entry: name, message: 'is in the manifest but not in the zip' });
    }
  }
  return checked;
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
  const failed = (entry: string, message: string): VerifyReport => ({
    ok: false,
    problems: [...problems, { entry, message }],
    entriesChecked: 0,
  });

  let promised: Promised | VerifyProblem;
  try {
    promised = await readManifest(zipPath);
  } catch (error) {
    return failed('(zip)', `cannot be read as a zip: ${(error as Error).message}`);
  }
  if ('message' in promised) return failed(promised.entry, promised.message);
  checkLog(log, promised.summary, problems);

  let checked: number;
  try {
    checked = await checkEntries(zipPath, promised, problems);
  } catch (error) {
    return failed('(zip)', `cannot be read as a zip: ${(error as Error).message}`);
  }
  return { ok: problems.length === 0, problems, entriesChecked: checked };
}
