import { tmpdir } from 'node:os';

import { ExportError, messageOf } from '../core/errors.js';
import {
  EXPORTABLE_KINDS,
  type ItemKind,
  type MailboxSource,
  type SourceFolder,
  type SourceItem,
} from '../core/source.js';
import { compareItemIds, orderItems, planFolders, type FolderPlacement } from './layout.js';
import { mergeSorted } from './merge.js';
import { openSpool, type RecordSpool, type SpoolRange } from './spool.js';

/**
 * The job's consistent cut: every folder and item as listed once, at the job's start. The items
 * wait on disk, each folder's as one run of records in the order they are written, and come
 * back a chunk at a time when their folder's turn comes. An export of a million messages so
 * holds a chunk of them in memory, not the mailbox. A folder of up to SORT_RUN_ITEMS items is
 * sorted in memory; a larger one is sorted a run of that many at a time, the runs kept on disk
 * too, and then merged, so that not even a folder of a million messages is held whole.
 */

/**
 * Folders whose items are listed at once. A mail server answers each listing in a round trip
 * or more (a SELECT, then a FETCH of every UID, flag, size and date); one after the other,
 * the listings of a mailbox of 200 folders took a quarter of an export over IMAP.
 */
const LISTING_CONCURRENCY = 4;

/** Items given back at a time by `Cut.items`. */
export const CUT_CHUNK_ITEMS = 1024;

/**
 * Items of a folder sorted in memory at once: about 8 MiB of them, for each folder being
 * listed at a time.
 */
export const SORT_RUN_ITEMS = 16384;

/** Bytes read at a time from each sorted run while they are merged: dozens are read at once. */
const MERGE_READ_BYTES = 64 * 1024;

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
  readonly #jobId: string;
  readonly #spool: RecordSpool<ItemRecord>;
  /** Sorted runs of folders too large to sort at once, made when the first is. */
  #runs: RecordSpool<ItemRecord> | undefined;
  readonly #folders = new Map<SourceFolder, SpoolRange>();
  /** A folder's records go into the spool together: a merge waits for none to come between. */
  #writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly placements: readonly FolderPlacement[],
    jobId: string,
    private readonly runItems: number,
  ) {
    this.#jobId = jobId;
    this.#spool = openSpool(jobId, 'the cut');
  }

  /**
   * Lists every folder of `source`; resolves once every listing is on disk. `runItems` is for
   * tests, which sort small folders in runs.
   */
  static async take(
    source: MailboxSource,
    jobId: string,
    signal: AbortSignal,
    runItems = SORT_RUN_ITEMS,
  ): Promise<Cut> {
    const failure = (error: unknown, folder?: SourceFolder): unknown => {
      if (signal.aborted) return signal.reason;
      // The spool is ours: a temporary folder that fails it is not the source's fault.
      if (error instanceof ExportError && error.code === 'Internal') return error;
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

    const cut = new Cut(planFolders(folders), jobId, runItems);
    try {
      let next = 0;
      let failed = false;
      const lister = async (): Promise<void> => {
        while (next < folders.length && !failed) {
          const folder = folders[next++]!;
          try {
            await cut.#list(source, folder, signal);
          } catch (error) {
            failed = true;
            throw failure(error, folder);
          }
        }
      };
      const count = Math.min(LISTING_CONCURRENCY, folders.length);
      const settled = await Promise.allSettled(Array.from({ length: count }, lister));
      const rejected = settled.find((outcome) => outcome.status === 'rejected');
      if (rejected) throw rejected.reason;

      // A temporary folder too full for the cut shows now, not once the zip is half written.
      cut.#spool.flush();
    } catch (error) {
      cut.close();
      throw error;
    } finally {
      cut.#runs?.close();
    }
    if (!cut.#sizesKnown) cut.bytesTotal = 0;
    return cut;
  }

  /** The folder's items in the order they are written (layout.ts), a chunk at a time. */
  async *items(folder: SourceFolder): AsyncGenerator<SourceItem[]> {
    const range = this.#folders.get(folder);
    if (range === undefined) return;
    let chunk: SourceItem[] = [];
    for await (const line of this.#readBack(this.#spool, range)) {
      chunk.push(itemOf(line));
      if (chunk.length < CUT_CHUNK_ITEMS) continue;
      yield chunk;
      chunk = [];
    }
    if (chunk.length > 0) yield chunk;
  }

  close(): void {
    this.#spool.close();
    this.#runs?.close();
  }

  /**
   * Lists a folder into the spool in the order its items are written: sorted at once when it
   * fits in a run, else sorted run by run and merged.
   */
  async #list(source: MailboxSource, folder: SourceFolder, signal: AbortSignal): Promise<void> {
    const runs: SpoolRange[] = [];
    let pending: SourceItem[] = [];
    for await (const chunk of source.listItems(folder, signal)) {
      signal.throwIfAborted();
      for (const item of chunk) this.#count(item);
      pending.push(...chunk);
      if (pending.length < this.runItems) continue;
      runs.push(this.#writeRun(pending));
      pending = [];
    }

    if (runs.length === 0) {
      await this.#exclusive(() => this.#keep(folder, orderItems(pending).map(recordOf)));
      return;
    }
    runs.push(this.#writeRun(pending));
    pending = [];
    const spool = this.#runs!;
    const sorted = mergeSorted(
      runs.map((run) => this.#records(spool, run)),
      (a, b) => compareItemIds(a[0], b[0]),
    );
    await this.#exclusive(() => this.#keep(folder, sorted));
  }

  /** Writes a folder's records into the spool as its run. */
  async #keep(
    folder: SourceFolder,
    records: Iterable<ItemRecord> | AsyncIterable<ItemRecord>,
  ): Promise<void> {
    const start = this.#spool.bytes;
    for await (const record of records) this.#spool.push(record);
    this.#folders.set(folder, { start, end: this.#spool.bytes });
  }

  #writeRun(items: readonly SourceItem[]): SpoolRange {
    this.#runs ??= openSpool(this.#jobId, 'the sorting of a large folder');
    const start = this.#runs.bytes;
    for (const item of orderItems(items)) this.#runs.push(recordOf(item));
    return { start, end: this.#runs.bytes };
  }

  async *#records(spool: RecordSpool<ItemRecord>, range: SpoolRange): AsyncGenerator<ItemRecord> {
    for await (const line of this.#readBack(spool, range, MERGE_READ_BYTES)) {
      yield JSON.parse(line) as ItemRecord;
    }
  }

  /** A spool's lines; the file is ours, so a failure to read it back is not the source's. */
  async *#readBack(
    spool: RecordSpool<ItemRecord>,
    range: SpoolRange,
    chunkBytes?: number,
  ): AsyncGenerator<string> {
    const lines = spool.lines(range, chunkBytes);
    try {
      for (;;) {
        let next: IteratorResult<string>;
        try {
          next = await lines.next();
        } catch (error) {
          if (error instanceof ExportError) throw error;
          const message = `the job's cut could not be read back from ${tmpdir()}: ${messageOf(error)}`;
          throw new ExportError('Internal', message, { cause: error });
        }
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      await lines.return(undefined);
    }
  }

  #count(item: SourceItem): void {
    if (!EXPORTABLE_KINDS.has(item.kind)) return;
    this.itemsTotal++;
    if (item.size === undefined) this.#sizesKnown = false;
    else this.bytesTotal += item.size;
  }

  /** Runs `write` once no other folder's records are being written. */
  #exclusive(write: () => Promise<void>): Promise<void> {
    const done = this.#writing.then(write);
    this.#writing = done.catch(() => undefined);
    return done;
  }
}
