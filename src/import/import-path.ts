import { lstat, open, readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';

import { LIMITS } from '../core/limits.js';
import { messageOf } from '../core/errors.js';
import { compareStrings } from '../store/embedded-source.js';
import { INBOX } from '../store/layout.js';
import { MailboxWriter } from '../store/writer.js';
import { type ImportContext, baseName, folderOf } from './context.js';
import { importCalendar, importContacts, importMbox, importMessageFile } from './file-importers.js';
import { NAME_NOT_UTF8, namesNotUtf8 } from './file-names.js';
import { importMaildir, isMaildirDir, isMaildirMetadata } from './maildir-import.js';
import { isSeparatorLine } from './mbox-scan.js';
import { DEFAULT_MBOX_FORMAT, type MboxFormat } from './mbox-unescape.js';
import { type ImportReport, ReportBuilder } from './report.js';

export interface ImportOptions {
  /** How `From ` lines in mbox files were escaped; default `mboxrd` (see mbox-unescape.ts). */
  readonly mboxFormat?: MboxFormat;
  /** Folder for single `.eml` files and message files at the top of a tree; default INBOX. */
  readonly folder?: readonly string[];
  /** Flush each stored item to disk before going on (default true). */
  readonly durable?: boolean;
  readonly signal?: AbortSignal;
}

type FileKind = 'eml' | 'message' | 'mbox' | 'calendar' | 'contacts';

/**
 * Imports a file or a directory into the mailbox in `mailboxDir`, telling each input by its
 * kind: a directory with cur/ or new/ is a Maildir (Maildir++ subfolders included); any other
 * directory is a folder of a tree (a top-level `inbox` is INBOX, Thunderbird's `X.sbd` holds
 * the subfolders of X); a file is an mbox (`.mbox`, or starting with a `From ` line), a
 * message (`.eml`, or starting with a header field), a calendar (`.ics`) or contacts (`.vcf`).
 * Whatever is not stored is listed in the report with its reason, except the files beside the
 * mail that hold none (Thunderbird's summaries, a Maildir's index), which are passed over.
 */
export async function importPath(
  mailboxDir: string,
  inputPath: string,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const ctx: ImportContext = {
    writer: await MailboxWriter.open(mailboxDir, { durable: options.durable ?? true }),
    report: new ReportBuilder(),
    mboxFormat: options.mboxFormat ?? DEFAULT_MBOX_FORMAT,
    messageFolder: options.folder ? folderOf(options.folder) : [INBOX],
    signal: options.signal,
  };

  const info = await lstat(inputPath);
  if (info.isDirectory()) await importDirectory(ctx, inputPath, [], 0);
  else if (info.isFile()) await importFile(ctx, inputPath, []);
  else ctx.report.skip(inputPath, 'not a regular file or a directory');
  return ctx.report.build();
}

async function importDirectory(ctx: ImportContext, dir: string, levels: string[], depth: number) {
  ctx.signal?.throwIfAborted();
  if (depth > LIMITS.importDirectoryDepth) {
    ctx.report.skip(dir, `deeper than ${LIMITS.importDirectoryDepth} levels below the input`);
    return;
  }

  const listed = await readdir(dir, { withFileTypes: true });
  const names = listed.map((entry) => entry.name);
  const notUtf8 = await namesNotUtf8(dir, names);
  for (const path of notUtf8.shown) ctx.report.skip(path, NAME_NOT_UTF8);
  const entries = listed
    .filter((entry) => notUtf8.real(entry.name))
    .sort((a, b) => compareStrings(a.name, b.name));
  const maildir = isMaildirDir(entries);
  if (maildir) {
    const folder = levels.length > 0 ? folderOf(levels) : [INBOX];
    await guarded(ctx, dir, () => importMaildir(ctx, dir, entries, folder, folderOf(levels)));
  }

  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (maildir && (['cur', 'new', 'tmp'].includes(entry.name) || entry.name.startsWith('.')))
      continue;
    if (maildir && isMaildirMetadata(entry.name)) continue;
    if (entry.name.startsWith('.')) ctx.report.skip(path, 'hidden file or directory');
    else if (entry.isSymbolicLink()) ctx.report.skip(path, 'symbolic link, not followed');
    else if (entry.isDirectory()) {
      const name = entry.name.toLowerCase().endsWith('.sbd') ? entry.name.slice(0, -4) : entry.name;
      await importDirectory(ctx, path, [...levels, name], depth + 1);
    } else if (entry.isFile()) await importFile(ctx, path, levels);
    else ctx.report.skip(path, 'not a regular file or a directory');
  }
}

/** Runs one input's import; a failure is reported for that input and the walk goes on. */
async function guarded(ctx: ImportContext, input: string, run: () => Promise<void>) {
  try {
    await run();
  } catch (error) {
    if (ctx.signal?.aborted) throw error;
    ctx.report.skip(input, `could not be imported: ${messageOf(error)}`);
  }
}

async function importFile(ctx: ImportContext, file: string, levels: string[]): Promise<void> {
  ctx.signal?.throwIfAborted();
  const extension = extname(file).toLowerCase();
  if (isThunderbirdBookkeeping(basename(file), extension)) return;

  const kind = await guessKind(file, extension);
  if (typeof kind === 'object') {
    ctx.report.skip(file, kind.reason);
    return;
  }

  await guarded(ctx, file, async () => {
    if (kind === 'calendar') await importCalendar(ctx, file);
    else if (kind === 'contacts') await importContacts(ctx, file);
    else if (kind === 'mbox') await importMbox(ctx, file, folderOf([...levels, baseName(file)]));
    else
      await importMessageFile(ctx, file, levels.length > 0 ? folderOf(levels) : ctx.messageFolder);
  });
}

/**
 * Files Thunderbird keeps beside its mbox files that hold no mail: `.msf` summaries (an index
 * of the mbox beside them, rebuilt from it when missing), its filter rules, its POP3 state and
 * its filter and junk logs. Leaving them out loses nothing, so they are not skipped input:
 * a whole profile's mail folder imports without a skip to report.
 */
const THUNDERBIRD_FILES: ReadonlySet<string> = new Set([
  'msgfilterrules.dat',
  'popstate.dat',
  'filterlog.html',
  'junklog.html',
]);

function isThunderbirdBookkeeping(name: string, extension: string): boolean {
  return extension === '.msf' || THUNDERBIRD_FILES.has(name.toLowerCase());
}

const BY_EXTENSION: Readonly<Record<string, FileKind>> = {
  '.eml': 'eml',
  '.mbox': 'mbox',
  '.mbx': 'mbox',
  '.ics': 'calendar',
  '.ical': 'calendar',
  '.vcf': 'contacts',
  '.vcard': 'contacts',
};

/** RFC 5322 section 2.2: a field name is printable ASCII but `:`, then a colon. */
const HEADER_FIELD = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;

async function guessKind(file: string, extension: string): Promise<FileKind | { reason: string }> {
  const known = BY_EXTENSION[extension];
  if (known) return known;

  const handle = await open(file, 'r');
  let head: string;
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(1024), 0, 1024, 0);
    if (bytesRead === 0) return { reason: 'empty file' };
    head = buffer
      .subarray(0, bytesRead)
      .toString('latin1')
      .replace(/^\xef\xbb\xbf/, '');
  } finally {
    await handle.close();
  }

  const firstLine = head.split('\n', 1)[0]!.replace(/\r$/, '');
  if (isSeparatorLine(firstLine)) return 'mbox';
  if (/^BEGIN:VCALENDAR/i.test(firstLine)) return 'calendar';
  if (/^BEGIN:VCARD/i.test(firstLine)) return 'contacts';
  if (HEADER_FIELD.test(firstLine)) return 'message';
  return { reason: `not a message, mbox, calendar or contact file (${basename(file)})` };
}
