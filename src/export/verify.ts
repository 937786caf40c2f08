import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import type { Entry } from 'yauzl';
import { LIMITS } from '../core/limits.js';
import type { ExportLog } from '../core/model.js';
import { MANIFEST_NAME } from './layout.js';
import { readManifestLines, type ManifestSummary } from './manifest-reader.js';
import { nameProblem, openZipFile, type OpenedZip } from './zip-reader.js';

/**
 * Checks a downloaded export against its log: the zip's size and SHA-384, every entry against
 * the manifest (present, with its SHA-256, nothing extra), and the log's counts against the
 * manifest. It reports; it never throws for a bad zip, only for one it cannot open at all.
 *
 * The log can be forged along with the zip, so the entry checks stand on their own: each entry
 * is checked as other tools would extract it, and neither the zip nor the manifest can make
 * the check cost much more than reading the zip once and holding its names.
 */

export interface VerifyProblem {
  /** The zip path concerned, or `(zip)`, `(export log)`, `(manifest)` for the whole. */
  readonly entry: string;
  readonly message: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  /** The first LIMITS.verifyProblemsKept problems found. */
  readonly problems: readonly VerifyProblem[];
  /** Problems found past those kept, counted only. */
  readonly problemsNotKept: number;
  /** Entries of the zip whose content was read and compared. */
  readonly entriesChecked: number;
}

/** The problems found, the first ones kept, each cut to a length that prints. */
class Problems {
  readonly kept: VerifyProblem[] = [];
  notKept = 0;

  add(entry: string, message: string): void {
    if (this.kept.length === LIMITS.verifyProblemsKept) {
      this.notKept++;
      return;
    }
    this.kept.push({ entry: quoted(entry), message: quoted(message) });
  }
}

function quoted(text: string): string {
  if (text.length <= LIMITS.verifyQuotedChars) return text;
  return `${text.slice(0, LIMITS.verifyQuotedChars)}… (${text.length} characters)`;
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

function hex8(crc: number): string {
  return crc.toString(16).padStart(8, '0');
}

/** The entry's size and SHA-256 as extracted; throws for a CRC-32 that extractors refuse. */
async function hashEntry(opened: OpenedZip, entry: Entry, dataStart: number): Promise<Expected> {
  const hash = createHash('sha256');
  let crc = 0;
  let size = 0;
  for await (const chunk of opened.content(entry, dataStart)) {
    hash.update(chunk);
    crc = crc32(chunk, crc);
    size += chunk.length;
  }
  if (crc !== entry.crc32) {
    throw new Error(`its CRC-32 is ${hex8(crc)}, the central directory says ${hex8(entry.crc32)}`);
  }
  return expected(size, hash.digest('hex'));
}

/** What the zip's central directory holds, counted on the first pass. */
interface ZipNames {
  readonly entries: number;
  /** UTF-16 units, as the manifest's zip paths are compared. */
  readonly longest: number;
}

/**
 * What the manifest promises: each file with its size and hash, each directory its folders
 * bring, listed as a folder itself (true) or holding one (false).
 */
interface Promised {
  readonly files: Map<string, Expected>;
  readonly directories: Map<string, boolean>;
  readonly summary: ManifestSummary;
}

const SHA256 = /^[0-9a-f]{64}$/;

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`has no ${what}`);
  return value;
}

function byteCount(value: unknown, what: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new Error(`has no ${what}`);
  return value as number;
}

function sha256(value: unknown, what: string): string {
  if (typeof value !== 'string' || !SHA256.test(value)) throw new Error(`has no ${what}`);
  return value;
}

/**
 * Reads the manifest's promises. Every name promised should be a distinct entry of the zip: a
 * manifest that promises a name longer than any the zip holds, or twice as many names as it
 * holds entries, is refused as soon as it does. Up to that, names the zip lacks are reported
 * one by one, as for a zip that lost entries; and their characters together may not outnumber
 * the zip's bytes: long names compress well, and the promises never outgrow the zip.
 */
async function readPromises(
  opened: OpenedZip,
  manifest: Entry,
  names: ZipNames,
): Promise<Promised> {
  const files = new Map<string, Expected>();
  const directories = new Map<string, boolean>();
  let namesLeft = 2 * names.entries;
  let charsLeft = opened.size;
  const promise = (name: string): void => {
    if (name.length > names.longest) throw new Error('names a path longer than any in the zip');
    charsLeft -= name.length;
    if (--namesLeft < 0 || charsLeft < 0) throw new Error('promises more than the zip holds');
  };
  const file = (name: string, promised: Expected): void => {
    if (files.has(name)) throw new Error(`lists ${name} twice`);
    promise(name);
    files.set(name, promised);
  };

  const bytes = opened.content(manifest, await opened.dataStart(manifest));
  let crc = 0;
  const checked = async function* (): AsyncGenerator<Buffer> {
    for await (const chunk of bytes) {
      crc = crc32(chunk, crc);
      yield chunk;
    }
  };
  const summary = await readManifestLines(checked(), {
    folder(record) {
      const zipPath = text(record.zipPath, 'zipPath');
      const directory = `${zipPath}/`;
      if (directory.length > names.longest) {
        throw new Error('names a path longer than any in the zip');
      }
      // As layout.ts caps folder paths; counted before anything is built from the path.
      let levels = 1;
      for (let at = zipPath.indexOf('/'); at !== -1; at = zipPath.indexOf('/', at + 1)) {
        if (++levels > LIMITS.folderDepth) {
          throw new Error(`names a folder deeper than ${LIMITS.folderDepth} levels`);
        }
      }

      const listed = directories.get(directory);
      if (listed === true) throw new Error(`lists ${directory} twice`);
      directories.set(directory, true);
      if (listed === false) return;
      promise(directory);
      // Deepest first: once a parent is known, so are all of its own, and each path is built
      // once, whatever the depth.
      for (let at = zipPath.lastIndexOf('/'); at > 0; at = zipPath.lastIndexOf('/', at - 1)) {
        const parent = zipPath.slice(0, at + 1);
        if (directories.has(parent)) break;
        promise(parent);
        directories.set(parent, false);
      }
    },
    item(item) {
      const size = byteCount(item.entrySize ?? item.size, 'size');
      file(
        text(item.zipPath, 'zipPath'),
        expected(size, sha256(item.entrySha256 ?? item.sha256, 'sha256')),
      );
    },
    problem({ partialEntry }) {
      const partial = partialEntry as unknown;
      if (partial === undefined) return;
      if (typeof partial !== 'object' || partial === null) throw new Error('has no partialEntry');
      const { zipPath, size, sha256: hash } = partial as Record<string, unknown>;
      file(text(zipPath, 'zipPath'), expected(byteCount(size, 'size'), sha256(hash, 'sha256')));
    },
  });
  if (crc !== manifest.crc32) {
    throw new Error(
      `its CRC-32 is ${hex8(crc)}, the central directory says ${hex8(manifest.crc32)}`,
    );
  }
  return { files, directories, summary };
}

function checkLog(log: ExportLog, summary: ManifestSummary, problems: Problems): void {
  const counts: [keyof ExportLog, number][] = [
    ['totalMessages', summary.counts.items],
    ['totalNonExportableItems', summary.counts.nonExportable],
    ['totalFolders', summary.counts.folders],
  ];
  for (const [member, count] of counts) {
    if (log[member] !== String(count)) {
      problems.add('(export log)', `${member} is ${log[member]}, the manifest lists ${count}`);
    }
  }
  const { startTime } = summary.head;
  const start = String(Math.floor(Date.parse(startTime) / 1000));
  if (log.startTime !== start) {
    problems.add('(export log)', `startTime is ${log.startTime}, the manifest says ${startTime}`);
  }
}

/**
 * What the manifest, the zip's last entry, promises. The central directory is read through
 * once for it, keeping only the number of its names and the longest's length: a second pass then reads the
 * entries it promises.
 */
async function readManifest(zipPath: string): Promise<Promised | VerifyProblem> {
  const opened = await openZipFile(zipPath);
  const { zip } = opened;
  try {
    let last: Entry | undefined;
    let entries = 0;
    let longest = 0;
    for await (const entry of zip.eachEntry()) {
      last = entry;
      entries++;
      longest = Math.max(longest, entry.fileName.length);
    }
    if (last === undefined || last.fileName !== MANIFEST_NAME) {
      return { entry: MANIFEST_NAME, message: 'is not the last entry of the zip' };
    }
    try {
      return await readPromises(opened, last, { entries, longest });
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
 *
 * Entries must follow one another in the zip as the central directory lists them, none inside
 * another: records that point at the same data would have it read again for each.
 */
async function checkEntries(
  zipPath: string,
  promised: Promised,
  problems: Problems,
): Promise<number> {
  const { files, directories } = promised;
  // From here on a directory's flag says whether the zip held it.
  for (const name of directories.keys()) directories.set(name, false);
  let checked = 0;
  let manifests = 0;
  let previousEnd = 0;
  const opened = await openZipFile(zipPath);
  const { zip } = opened;
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      const renamed = nameProblem(entry);
      if (renamed !== undefined) {
        problems.add(name, renamed);
        continue;
      }
      if (entry.relativeOffsetOfLocalHeader < previousEnd) {
        problems.add(name, 'starts inside or before the entry listed before it');
        continue;
      }
      let dataStart: number;
      try {
        dataStart = await opened.dataStart(entry);
      } catch (error) {
        problems.add(name, `cannot be read: ${(error as Error).message}`);
        continue;
      }
      previousEnd = dataStart + entry.compressedSize;

      if (name === MANIFEST_NAME) {
        if (++manifests === 2) problems.add(name, 'the zip holds this name twice');
        continue;
      }
      if (name.endsWith('/')) {
        const seen = directories.get(name);
        if (seen === undefined) problems.add(name, 'is not in the manifest');
        else if (seen) problems.add(name, 'the zip holds this name twice');
        else directories.set(name, true);
        if (entry.compressedSize !== 0 || entry.uncompressedSize !== 0) {
          problems.add(name, 'is a directory that holds data');
        }
        continue;
      }

      const promise = files.get(name);
      if (promise === undefined) {
        problems.add(name, 'is not in the manifest');
        continue;
      }
      if (promise === CHECKED) {
        problems.add(name, 'the zip holds this name twice');
        continue;
      }
      files.set(name, CHECKED);
      try {
        const actual = await hashEntry(opened, entry, dataStart);
        checked++;
        if (actual !== promise) {
          const [size, sha256] = actual.split(' ');
          const [wantedSize, wantedSha256] = promise.split(' ');
          const message =
            `holds ${size} bytes with SHA-256 ${sha256}, ` +
            `the manifest says ${wantedSize} bytes with ${wantedSha256}`;
          problems.add(name, message);
        }
      } catch (error) {
        problems.add(name, `cannot be read: ${(error as Error).message}`);
      }
    }
  } finally {
    zip.close();
  }

  for (const [name, promise] of files) {
    if (promise !== CHECKED) problems.add(name, 'is in the manifest but not in the zip');
  }
  for (const [name, seen] of directories) {
    if (!seen) problems.add(name, 'is in the manifest but not in the zip');
  }
  return checked;
}

export async function verifyExport(zipPath: string, log: ExportLog): Promise<VerifyReport> {
  const problems = new Problems();
  const size = (await stat(zipPath)).size;
  if (String(size) !== log.totalBytes) {
    problems.add('(zip)', `${size} bytes, the log says ${log.totalBytes}`);
  }
  const sha384 = await hashFile(zipPath);
  if (sha384 !== log.sha384Hash) {
    problems.add('(zip)', `SHA-384 is ${sha384}, the log says ${log.sha384Hash}`);
  }
  const report = (entriesChecked: number): VerifyReport => ({
    ok: problems.kept.length === 0,
    problems: problems.kept,
    problemsNotKept: problems.notKept,
    entriesChecked,
  });

  let promised: Promised | VerifyProblem;
  try {
    promised = await readManifest(zipPath);
  } catch (error) {
    problems.add('(zip)', `cannot be read as a zip: ${(error as Error).message}`);
    return report(0);
  }
  if ('message' in promised) {
    problems.add(promised.entry, promised.message);
    return report(0);
  }
  checkLog(log, promised.summary, problems);

  let checked: number;
  try {
    checked = await checkEntries(zipPath, promised, problems);
  } catch (error) {
    problems.add('(zip)', `cannot be read as a zip: ${(error as Error).message}`);
    return report(0);
  }
  return report(checked);
}
