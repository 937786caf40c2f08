import { basename, extname } from 'node:path';

import type { MailboxWriter } from '../store/writer.js';
import { INBOX } from '../store/layout.js';
import type { MboxFormat } from './mbox-unescape.js';
import type { ReportBuilder } from './report.js';

/** What every importer of one input file needs. */
export interface ImportContext {
  readonly writer: MailboxWriter;
  readonly report: ReportBuilder;
  readonly mboxFormat: MboxFormat;
  /** Folder for single messages (`.eml`, message files at the top of a tree). */
  readonly messageFolder: readonly string[];
  readonly signal?: AbortSignal;
}

/** A folder path from directory names: a top-level `inbox` (any case) is INBOX. */
export function folderOf(levels: readonly string[]): string[] {
  const path = [...levels];
  if (path[0] !== undefined && path[0].toLowerCase() === 'inbox') path[0] = INBOX;
  return path;
}

/** A file's name without its extension, for naming a folder, calendar or address book. */
export function baseName(file: string): string {
  const name = basename(file);
  const stem = name.slice(0, name.length - extname(name).length);
  return stem === '' ? name : stem;
}
