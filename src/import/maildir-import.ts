import { createReadStream, type Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { folderPathOfDirName } from '../store/layout.js';
import { flagsOfLetters, parseMaildirFileName, readKeywordTable } from '../store/maildir-format.js';
import { compareStrings } from '../store/embedded-source.js';
import type { ImportContext } from './context.js';
import { listFiles, type ListedFile } from './file-names.js';

/** Files a Maildir root holds beside its messages: indexes and settings of mail servers. */
export function isMaildirMetadata(name: string): boolean {
  return (
    name.startsWith('dovecot') ||
    name.startsWith('courierimap') ||
    name === 'maildirfolder' ||
    name === 'subscriptions' ||
    name === 'maildirsize'
  );
}

export function isMaildirDir(entries: readonly Dirent[]): boolean {
  return entries.some((e) => e.isDirectory() && (e.name === 'cur' || e.name === 'new'));
}

/**
 * A Maildir (its cur/ and new/) into `folder`, then its Maildir++ subfolders `.A.B` into
 * `[...folder-parent, A, B]`: below the root for a top-level Maildir (whose root is INBOX),
 * below `folder` for a Maildir found deeper in a tree. Flags, keywords and dates are kept.
 */
export async function importMaildir(
  ctx: ImportContext,
  dir: string,
  entries: readonly Dirent[],
  folder: readonly string[],
  subfolderBase: readonly string[],
): Promise<void> {
  await importMaildirFolder(ctx, dir, folder);
  for (const entry of entries) {
    if (!entry.isDirectory() || !entry.name.startsWith('.') || entry.name.length < 2) continue;
    const sub = join(dir, entry.name);
    const subEntries = await readdir(sub, { withFileTypes: true });
    if (!isMaildirDir(subEntries)) {
      ctx.report.skip(sub, 'a hidden directory that is not a Maildir++ folder');
      continue;
    }
    await importMaildirFolder(ctx, sub, [...subfolderBase, ...folderPathOfDirName(entry.name)]);
  }
}

async function importMaildirFolder(ctx: ImportContext, dir: string, folder: readonly string[]) {
  const keywords = await readKeywordTable(dir);
  await ctx.writer.createMailFolder(folder);

  for (const { shown } of await listFilesOrNone(join(dir, 'tmp'))) {
    ctx.report.skip(shown, 'in tmp/: a delivery that never finished');
  }

  // A message's file name only names it: one that is not UTF-8 is read through its bytes.
  const files: Array<{
    file: string | Buffer;
    shown: string;
    uniqueName: string;
    letters: string;
  }> = [];
  for (const sub of ['new', 'cur']) {
    for (const { name, path, shown } of await listFilesOrNone(join(dir, sub))) {
      if (name.startsWith('.')) {
        ctx.report.skip(shown, 'hidden file in a Maildir');
        continue;
      }
      const { uniqueName, flagLetters } = parseMaildirFileName(name);
      files.push({ file: path, shown, uniqueName, letters: flagLetters });
    }
  }

  files.sort((a, b) => compareStrings(a.uniqueName, b.uniqueName));
  for (const { file, shown, letters } of files) {
    ctx.signal?.throwIfAborted();
    try {
      const info = await stat(file);
      if (!info.isFile()) {
        ctx.report.skip(shown, 'not a regular file');
        continue;
      }
      const flags = flagsOfLetters(letters, keywords);
      const body = createReadStream(file);
      await ctx.writer.deliverMessage(folder, body, { flags, internalDate: info.mtime });
      ctx.report.stored('mail', folder, 'message');
    } catch (error) {
      if (ctx.signal?.aborted) throw error;
      ctx.report.skip(shown, `could not be imported: ${(error as Error).message}`);
    }
  }
}

async function listFilesOrNone(dir: string): Promise<ListedFile[]> {
  try {
    return (await listFiles(dir)).sort((a, b) => compareStrings(a.name, b.name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
