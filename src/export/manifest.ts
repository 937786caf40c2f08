import type { Compression, ExportOptions } from '../core/export.js';
import type { FolderKind, ItemKind } from '../core/source.js';
import type { CalendarFields, CalendarTime } from './calendar-fields.js';
import type { TransferEncoding } from './calendar-mime.js';
import type { HeaderFields } from './message-header.js';
import { openSpool, type RecordSpool } from './spool.js';

/**
 * `manifest.json`, the zip's last entry: what the export holds and what it left out. Zip paths
 * are the entries' names; `folder` in a record is the zip path of its folder, which
 * `folders` maps back to the source path. Sizes are bytes, hashes lowercase hex SHA-256,
 * times ISO 8601 in UTC.
 */

export const MANIFEST_FORMAT = 'mailbox-export-manifest';
export const MANIFEST_VERSION = 1;

export interface ManifestFolder {
  readonly zipPath: string;
  /** One decoded name per level, as the mail store names the folder. */
  readonly sourcePath: readonly string[];
  readonly kind: FolderKind;
  readonly validity?: string;
  readonly specialUse?: string;
}

export interface ManifestCalendar extends Omit<CalendarFields, 'dtstamp' | 'dtstart'> {
  /** ISO 8601 when UTC; as written (`2024-01-31T09:00:00`, `2024-01-31`) otherwise. */
  readonly dtstamp?: string;
  readonly dtstart?: string;
  readonly encoding: TransferEncoding;
}

export interface ManifestItem {
  readonly zipPath: string;
  readonly folder: string;
  readonly sourceId: string;
  readonly kind: 'message' | 'event';
  /** Bytes and SHA-256 of the item as the source gave it (for an event, the .ics). */
  readonly size: number;
  readonly sha256: string;
  /** For an event: bytes and SHA-256 of the .eml entry that wraps it. */
  readonly entrySize?: number;
  readonly entrySha256?: string;
  readonly flags: readonly string[];
  readonly internalDate?: string;
  readonly header?: HeaderFields;
  readonly calendar?: ManifestCalendar;
}

export interface ManifestNonExportable {
  readonly folder: string;
  readonly sourceId: string;
  readonly kind: ItemKind;
  readonly note?: string;
}

/**
 * An entry the zip holds although its item failed while it was being read: the bytes up to
 * the failure. It is named so that nobody takes it for the whole item.
 */
export interface PartialEntry {
  readonly zipPath: string;
  readonly size: number;
  readonly sha256: string;
}

export interface ManifestProblem {
  readonly folder: string;
  readonly sourceId: string;
  readonly kind: ItemKind;
  readonly reason: string;
  readonly partialEntry?: PartialEntry;
}

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: typeof MANIFEST_VERSION;
  readonly jobId: string;
  readonly startTime: string;
  readonly compression: Compression;
  readonly folders: readonly ManifestFolder[];
  readonly items: readonly ManifestItem[];
  readonly nonExportable: readonly ManifestNonExportable[];
  /** Items that could not be read, within the job's bad-item limit. */
  readonly unreadable: readonly ManifestProblem[];
  /** Items listed at the job's start and deleted before they were read. */
  readonly deleted: readonly ManifestProblem[];
}

/**
 * The manifest while the export fills it in. Its lists of items wait on disk (spool.ts):
 * each may grow by a record per item of the mailbox, items not exported included.
 */
export type ManifestDraft = Omit<Manifest, (typeof LIST_KEYS)[number]> & {
  readonly folders: ManifestFolder[];
  readonly items: RecordSpool<ManifestItem>;
  readonly nonExportable: RecordSpool<ManifestNonExportable>;
  readonly unreadable: RecordSpool<ManifestProblem>;
  readonly deleted: RecordSpool<ManifestProblem>;
};

export function openManifest(options: ExportOptions): ManifestDraft {
  const spools: RecordSpool<never>[] = [];
  const spool = <T>(what: string): RecordSpool<T> => {
    const opened = openSpool<T>(options.jobId, `the manifest's ${what}`);
    spools.push(opened as RecordSpool<never>);
    return opened;
  };
  try {
    return {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      jobId: options.jobId,
      startTime: options.startTime.toISOString(),
      compression: options.compression ?? 'default',
      folders: [],
      items: spool('items'),
      nonExportable: spool('items not exported'),
      unreadable: spool('unreadable items'),
      deleted: spool('deleted items'),
    };
  } catch (error) {
    for (const opened of spools) opened.close();
    throw error;
  }
}

export function closeManifest(manifest: ManifestDraft): void {
  for (const key of LIST_KEYS) {
    const list = manifest[key];
    if (!Array.isArray(list)) list.close();
  }
}

/** `2024-01-31T09:00:00Z` for UTC, the time as written otherwise. */
export function calendarTimeText(time: CalendarTime): string {
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const date = `${pad(time.year, 4)}-${pad(time.month)}-${pad(time.day)}`;
  if (time.dateOnly) return date;
  const clock = `${pad(time.hour)}:${pad(time.minute)}:${pad(time.second)}`;
  return `${date}T${clock}${time.utc ? 'Z' : ''}`;
}

const LIST_KEYS = ['folders', 'items', 'nonExportable', 'unreadable', 'deleted'] as const;

/**
 * The manifest as JSON, one record per line, produced piece by piece: a mailbox of many items
 * never becomes one large string.
 */
export async function* manifestJson(manifest: ManifestDraft): AsyncGenerator<Buffer> {
  const head = {
    format: manifest.format,
    version: manifest.version,
    jobId: manifest.jobId,
    startTime: manifest.startTime,
    compression: manifest.compression,
  };
  const headLines = Object.entries(head).map(
    ([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`,
  );
  yield Buffer.from(`{\n${headLines.join(',\n')},\n`);

  for (const [index, key] of LIST_KEYS.entries()) {
    const list = manifest[key];
    const close = index === LIST_KEYS.length - 1 ? '\n' : ',\n';
    if (list.length === 0) {
      yield Buffer.from(`  ${JSON.stringify(key)}: []${close}`);
      continue;
    }
    yield Buffer.from(`  ${JSON.stringify(key)}: [\n`);
    const lines = Array.isArray(list) ? list.map((record) => JSON.stringify(record)) : list.lines();
    const batch: string[] = [];
    let at = 0;
    for await (const line of lines) {
      batch.push(`    ${line}${++at === list.length ? '\n' : ',\n'}`);
      if (batch.length === 256) yield Buffer.from(batch.splice(0).join(''));
    }
    if (batch.length > 0) yield Buffer.from(batch.join(''));
    yield Buffer.from(`  ]${close}`);
  }
  yield Buffer.from('}\n');
}
