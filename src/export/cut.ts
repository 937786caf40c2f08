import { tmpdir } from 'node:os';

import { ExportError, messageOf } from '../core/errors.js';
import {
  EXPORTABLE_KINDS,
  type ItemKind,
  type MailboxSource,
  type SourceFolder,
  type SourceItem,
} from '../core/source.js';
import { orderItems, planFolders, type FolderPlacement } from './layout.js';
import { openSpool, type RecordSpool } from './spool.js';

/**
 * The job's consistent cut: every folder and item as listed once, at the job's start. The items
 * wait on disk, each folder's as one run of records in the order they are written, and come
 * back a chunk at a time when their folder's turn comes. An export of a million messages so
 * holds a chunk of them in memory, not the mailbox; a folder's listing is in memory only while
 * it is sorted and written down.
 */

/**
 * Folders whose items are listed at once. A mail server answers each listing in a round trip
 * or more (a SELECT, then a FETCH of every UID, flag, size and date); one after the other,
 * the listings of a mailbox of 200 folders took a quarter of an export over IMAP.
 */
const LISTING_CONCURRENCY = 4;

/** Items given back at a time by `Cut.items`. */
export const CUT_CHUNK_ITEMS = 1024;

/** An item as one line of the spool: a list rather than an object, to spare the keys. */
type ItemRecord = [
  id: string,
  kind: ItemKind,
  size: number | null,
  flags: readonly string[] | null,
  internalDate: number | null,
  note: string | null,
  locator: string | null,
];

function recordOf(item: SourceItem): ItemRecord {
  const time = item.internalDate?.getTime();
  return [
    item.id,
    item.kind,
    item.size ?? null,
    item.flags ?? null,
    time === undefined || Number.isNaN(time) ? null : time,
    item.note ?? null,
    item.locator ?? null,
  ];
}

function itemOf(line: string): SourceItem {
  const [id, kind, size, flags, time, note, locator] = JSON.parse(line) as ItemRecord;
  const item: { -readonly [K in keyof SourceItem]: SourceItem[K] } = { id, kind };
  if (size !== null) item.size = size;
  if (flags !== null) item.flags = flags;
  if (time !== null) item.internalDate = new Date(time);
  if (note !== null) item.note = note;
  if (locator !== null) item.locator = locator;
  return item;
}

export class Cut {
  /** Exportable items (messages and events) in the cut. */
  itemsTotal = 0;
  /** Their bytes as the source announced them; 0 when it did not announce every size. */
  bytesTotal = 0;
  #sizesKnown = true;
  readonly #spool: RecordSpool<ItemRecord>;
  readonly #runs = new Map<SourceFolder, { start: number; end: number }>();

  private constructor(
    readonly placements: readonly FolderPlacement[],
    spool: RecordSpool<ItemRecord>,
  ) {
    this.#spool = spool;
  }

  /** Lists every folder of `source`; resolves once every listing is on disk. */
  static async take(source: MailboxSource, jobId: string, signal: AbortSignal): Promise<Cut> {
    const failure = (error: unknown, folder?: SourceFolder): unknown => {
      if (signal.aborted) return signal.reason;
      const where = folder ? `the items of folder ${folder.path.join('/')}` : 'the folders';
      return new ExportError('SourceUnavailable', `job ${jobId}: could not list ${where}`, {
        cause: error,
      });
    };

    let folders: SourceFolder[];
    try {
      folders = await source.listFolders(signal);
    } catch (error) {
      throw failure(error);
    }

    const cut = new Cut(planFolders(folders), openSpool(jobId, 'the cut'));
    try {
      let next = 0;
      let failed = false;
      const lister = async (): Promise<void> => {
        while (next < folders.length && !failed) {
          const folder = folders[next++]!;
          try {
            cut.#add(folder, await source.listItems(folder, signal));
          } catch (error) {
            failed = true;
            throw error instanceof ExportError && error.code === 'Internal'
              ? error
              : failure(error, folder);
          }
        }
      };
      const count = Math.min(LISTING_CONCURRENCY, folders.length);
      const settled = await Promise.allSettled(Array.from({ length: count }, lister));
      const rejected = settled.find((outcome) => outcome.status === 'rejected');
      if (rejected) throw rejected.reason;
    } catch (error) {
      cut.close();
      throw error;
    }
    if (!cut.#sizesKnown) cut.bytesTotal = 0;
    // A temporary folder too full for the cut shows now, not once the zip is half written.
    try {
      cut.#spool.flush();
    } catch (error) {
      cut.close();
      throw error;
    }
    return cut;
  }

  /** The folder's items in the order they are written (layout.ts), a chunk at a time. */
  async *items(folder: SourceFolder): AsyncGenerator<SourceItem[]> {
    const run = this.#runs.get(folder);
    if (run === undefined) return;
    let chunk: SourceItem[] = [];
    const lines = this.#spool.lines(run);
    try {
      for (;;) {
        // The file is ours: a failure to read it back is not the source's.
        let next: IteratorResult<string>;
        try {
          next = await lines.next();
        } catch (error) {
          if (error instanceof ExportError) throw error;
          const message = `the job's cut could not be read back from ${tmpdir()}: ${messageOf(error)}`;
          throw new ExportError('Internal', message, { cause: error });
        }
        if (next.done === true) break;
        chunk.push(itemOf(next.value));
        if (chunk.length < CUT_CHUNK_ITEMS) continue;
        yield chunk;
        chunk = [];
      }
      if (chunk.length > 0) yield chunk;
    } finally {
      await lines.return(undefined);
    }
  }

  close(): void {
    this.#spool.close();
  }

  #add(folder: SourceFolder, items: readonly SourceItem[]): void {
    const start = this.#spool.bytes;
    for (const item of orderItems(items)) {
      this.#spool.push(recordOf(item));
      if (!EXPORTABLE_KINDS.has(item.kind)) continue;
      this.itemsTotal++;
      if (item.size === undefined) this.#sizesKnown = false;
      else this.bytesTotal += item.size;
    }
    this.#runs.set(folder, { start, end: this.#spool.bytes });
  }
}
