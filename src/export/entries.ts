import { Readable } from 'node:stream';
import { ExportError, messageOf } from '../core/errors.js';
import type { ExportOptions } from '../core/export.js';
import {
  EXPORTABLE_KINDS,
  ItemVanishedError,
  type ItemContent,
  type SourceItem,
} from '../core/source.js';
import {
  writeEvent,
  writeMessage,
  writeWholeMessages,
  type ItemOutcome,
  type ItemTarget,
  type WholeMessage,
} from './item-writer.js';
import type { Cut } from './cut.js';
import { MANIFEST_NAME, itemFileName, type FolderPlacement } from './layout.js';
import { manifestJson, type ManifestDraft, type PartialEntry } from './manifest.js';
import type { ProgressReporter } from './progress.js';
import type { InOrder } from './in-order.js';
import { WHOLE_ENTRY_BYTES, WHOLE_GROUP_ENTRIES, type ZipWriter } from './zip-writer.js';

/**
 * Items read through the source in one `readItems` call at most: a remote source streams a
 * run, and a run has to be known whole before it starts.
 */
const RUN_ITEMS = 1024;

/** An exportable item and its number in its folder (layout.ts). */
interface Numbered {
  readonly item: SourceItem;
  readonly sequence: number;
}

export interface EntryContext {
  readonly options: ExportOptions;
  /** Where items' outcomes are taken, in the items' order. */
  readonly outcomes: InOrder;
  readonly cut: Cut;
  readonly zip: ZipWriter;
  readonly manifest: ManifestDraft;
  readonly progress: ProgressReporter;
  readonly signal: AbortSignal;
}

export interface EntryTotals {
  itemsExported: number;
  unreadable: number;
  deleted: number;
}

/** Writes every folder's directory and items, in the layout's order (layout.ts). */
export async function writeEntries(context: EntryContext): Promise<EntryTotals> {
  const totals: EntryTotals = { itemsExported: 0, unreadable: 0, deleted: 0 };
  for (const placement of context.cut.placements) {
    for (const parent of placement.impliedParents) context.zip.addDirectory(parent);
    context.zip.addDirectory(placement.zipPath);

    const { folder } = placement;
    context.manifest.folders.push({
      zipPath: placement.zipPath,
      sourcePath: [...folder.path],
      kind: folder.kind,
      ...(folder.validity !== undefined ? { validity: folder.validity } : {}),
      ...(folder.specialUse !== undefined ? { specialUse: folder.specialUse } : {}),
    });
    await writeFolder(context, placement, totals);
    context.outcomes.run(() => {
      context.progress.counters.foldersDone++;
      context.progress.tick();
    });
  }
  await context.outcomes.drain();
  return totals;
}

/** The manifest goes last, so that it can name everything before it. */
export async function writeManifest(zip: ZipWriter, manifest: ManifestDraft): Promise<void> {
  await zip.addFile(MANIFEST_NAME, Readable.from(manifestJson(manifest), { objectMode: false }));
}

function folderName(placement: FolderPlacement): string {
  return JSON.stringify(placement.folder.path.join('/'));
}

async function writeFolder(
  context: EntryContext,
  placement: FolderPlacement,
  totals: EntryTotals,
): Promise<void> {
  const { manifest, options, signal } = context;

  // Small messages whose whole file the source names are read on the entry threads; the runs
  // of other items between them are read through the source, in the same order.
  const run: Numbered[] = [];
  const gathering = new Gathering(context, totals, placement);
  let sequence = 0;
  try {
    for await (const chunk of context.cut.items(placement.folder)) {
      for (const item of chunk) {
        if (!EXPORTABLE_KINDS.has(item.kind)) {
          manifest.nonExportable.push({
            folder: placement.zipPath,
            sourceId: item.id,
            kind: item.kind,
            ...(item.note !== undefined ? { note: item.note } : {}),
          });
          continue;
        }

        sequence++;
        const file = localFileOf(context, placement, item);
        if (file === undefined) {
          run.push({ item, sequence });
          if (run.length >= RUN_ITEMS) await readRun(context, gathering, run.splice(0));
          continue;
        }
        if (run.length > 0) await readRun(context, gathering, run.splice(0));

        if (signal.aborted) throw signal.reason;
        context.outcomes.check();
        await gathering.add(item, {
          target: targetOf(context, placement, item, sequence),
          input: file,
          reread: () => rereadItem(context, placement, item),
        });
        context.progress.counters.itemsDone++;
        context.progress.tick();
      }
    }
    if (run.length > 0) await readRun(context, gathering, run.splice(0));
    await gathering.flush();
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    // A failure of the zip or of the entry threads is not the source's: it is what it is.
    const ours = error === context.zip.failure || context.outcomes.caused(error);
    if (error instanceof ExportError || ours) throw error;
    const message = `job ${options.jobId}: could not read folder ${folderName(placement)}`;
    throw new ExportError('SourceUnavailable', message, { cause: error });
  }
}

/** The file of a small message, where its source names one. */
function localFileOf(
  context: EntryContext,
  placement: FolderPlacement,
  item: SourceItem,
): { path: string; size: number } | undefined {
  const { size } = item;
  if (item.kind !== 'message' || size === undefined || size > WHOLE_ENTRY_BYTES) return undefined;
  const path = context.options.source.localFile?.(placement.folder, item);
  return path === undefined ? undefined : { path, size };
}

/**
 * An item read again through its source, when its file could not be read where listed: the
 * item's bytes, or why the source could not give them. A source that fails as a whole fails
 * the job, as it would have in the first read.
 */
async function rereadItem(
  context: EntryContext,
  placement: FolderPlacement,
  item: SourceItem,
): Promise<Buffer | Error> {
  const { options, signal } = context;
  let items: AsyncIterator<ItemContent>;
  let first: IteratorResult<ItemContent>;
  try {
    items = options.source.readItems(placement.folder, [item], signal)[Symbol.asyncIterator]();
    first = await items.next();
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    const message = `job ${options.jobId}: could not read folder ${folderName(placement)}`;
    throw new ExportError('SourceUnavailable', message, { cause: error });
  }
  try {
    if (first.done === true) return new Error(`the source did not return item ${item.id}`);
    const content = first.value;
    if ('error' in content) return content.error;
    if (Buffer.isBuffer(content.body)) return content.body;
    // The body failing as it is read is the item's failure, as for a body streamed at once.
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of content.body) chunks.push(chunk as Buffer);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
    return Buffer.concat(chunks);
  } finally {
    await items.return?.();
  }
}

/**
 * Reads the items of `run` through the source, after what is gathered before them. Ids are
 * looked up rather than trusted to come back in order; a list per id keeps items apart even if
 * a store repeats an id.
 */
async function readRun(
  context: EntryContext,
  gathering: Gathering,
  run: readonly Numbered[],
): Promise<void> {
  const { options, signal } = context;
  const { totals, placement } = gathering;
  await gathering.flush();
  const asked = new Map<string, Numbered[]>();
  for (const numbered of run) {
    const list = asked.get(numbered.item.id) ?? [];
    list.push(numbered);
    asked.set(numbered.item.id, list);
  }

  const items = run.map(({ item }) => item);
  for await (const content of options.source.readItems(placement.folder, items, signal)) {
    if (signal.aborted) throw signal.reason;
    const numbered = asked.get(content.item.id)?.shift();
    if (numbered === undefined) {
      const message =
        `job ${options.jobId}: folder ${folderName(placement)} returned item ` +
        `${content.item.id}, which was not asked for`;
      throw new ExportError('SourceUnavailable', message);
    }
    const { item, sequence } = numbered;

    context.outcomes.check();
    const target = targetOf(context, placement, item, sequence);
    if ('body' in content && isWholeMessage(item, content.body)) {
      const body = content.body;
      await gathering.add(item, { target, input: body, reread: () => Promise.resolve(body) });
    } else {
      // What is gathered goes first, so that entries and records keep the items' order.
      await gathering.flush();
      if ('error' in content) {
        const { error } = content;
        context.outcomes.run(() => recordProblem(context, totals, placement, item, error));
      } else {
        const write = item.kind === 'event' ? writeEvent : writeMessage;
        const outcome = await write(target, content.body);
        context.outcomes.run(() => takeOutcome(context, totals, placement, item, outcome));
      }
    }
    context.progress.counters.itemsDone++;
    context.progress.tick();
  }
  await gathering.flush();

  for (const [id, left] of asked) {
    for (const { item } of left) {
      const error = new Error(`the source did not return item ${id}`);
      context.outcomes.run(() => recordProblem(context, totals, placement, item, error));
    }
  }
}

function isWholeMessage(item: SourceItem, body: Readable | Buffer): body is Buffer {
  return item.kind === 'message' && Buffer.isBuffer(body) && body.length <= WHOLE_ENTRY_BYTES;
}

/**
 * Small messages gathered to go to the entry threads, and then into the manifest, together:
 * one batch of promises and records for dozens of messages rather than one each.
 */
class Gathering {
  #items: SourceItem[] = [];
  #messages: WholeMessage[] = [];

  constructor(
    readonly context: EntryContext,
    readonly totals: EntryTotals,
    readonly placement: FolderPlacement,
  ) {}

  async add(item: SourceItem, message: WholeMessage): Promise<void> {
    this.#items.push(item);
    this.#messages.push(message);
    if (this.#messages.length >= WHOLE_GROUP_ENTRIES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#messages.length === 0) return;
    const items = this.#items;
    const messages = this.#messages;
    this.#items = [];
    this.#messages = [];

    const { context, totals, placement } = this;
    const { outcomes } = await writeWholeMessages(context.zip, messages);
    context.outcomes.add(outcomes, (known) => {
      known.forEach((outcome, index) => {
        takeOutcome(context, totals, placement, items[index]!, outcome);
      });
    });
  }
}

function targetOf(
  context: EntryContext,
  placement: FolderPlacement,
  item: SourceItem,
  sequence: number,
): ItemTarget {
  return {
    zip: context.zip,
    folder: placement.zipPath,
    zipPath: `${placement.zipPath}/${itemFileName(sequence)}`,
    item,
    signal: context.signal,
    onBytes: (bytes) => {
      context.progress.counters.bytesDone += bytes;
      context.progress.tick();
    },
  };
}

/** An item's outcome, into the manifest or the lists of problems. */
function takeOutcome(
  context: EntryContext,
  totals: EntryTotals,
  placement: FolderPlacement,
  item: SourceItem,
  outcome: ItemOutcome,
): void {
  if (outcome.ok) {
    context.manifest.items.push(outcome.record);
    totals.itemsExported++;
  } else {
    recordProblem(context, totals, placement, item, outcome.error, outcome.partialEntry);
  }
}

/**
 * An item deleted since the cut is reported and does not count against the bad-item limit;
 * any other failure does, and past the limit it fails the job, naming folder and item.
 */
function recordProblem(
  context: EntryContext,
  totals: EntryTotals,
  placement: FolderPlacement,
  item: SourceItem,
  error: Error,
  partialEntry?: PartialEntry,
): void {
  const record = {
    folder: placement.zipPath,
    sourceId: item.id,
    kind: item.kind,
    reason: messageOf(error),
    ...(partialEntry !== undefined ? { partialEntry } : {}),
  };
  if (error instanceof ItemVanishedError || error.name === 'ItemVanishedError') {
    context.manifest.deleted.push(record);
    totals.deleted++;
    return;
  }

  context.manifest.unreadable.push(record);
  totals.unreadable++;
  const limit = context.options.badItemLimit ?? 0;
  if (totals.unreadable > limit) {
    const message =
      `job ${context.options.jobId}: item ${item.id} in folder ${folderName(placement)} ` +
      `could not be read (${record.reason}); ${totals.unreadable} unreadable items exceed ` +
      `the bad-item limit of ${limit}`;
    throw new ExportError('ItemUnreadable', message, { cause: error });
  }
}
