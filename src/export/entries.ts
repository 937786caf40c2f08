import { Readable } from 'node:stream';
import { ExportError, messageOf } from '../core/errors.js';
import type { ExportOptions } from '../core/export.js';
import {
  EXPORTABLE_KINDS,
  ItemVanishedError,
  type SourceFolder,
  type SourceItem,
} from '../core/source.js';
import { writeEvent, writeMessage, type ItemTarget } from './item-writer.js';
import { MANIFEST_NAME, itemFileName, orderItems, type FolderPlacement } from './layout.js';
import { manifestJson, type ManifestDraft, type PartialEntry } from './manifest.js';
import type { ProgressReporter } from './progress.js';
import type { ZipWriter } from './zip-writer.js';

/** The job's consistent cut: every folder and item as listed once, at the start. */
export interface Cut {
  readonly placements: readonly FolderPlacement[];
  readonly items: ReadonlyMap<SourceFolder, readonly SourceItem[]>;
}

export interface EntryContext {
  readonly options: ExportOptions;
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
    context.progress.counters.foldersDone++;
    context.progress.tick();
  }
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
  const exportable: SourceItem[] = [];
  for (const item of orderItems(context.cut.items.get(placement.folder) ?? [])) {
    if (EXPORTABLE_KINDS.has(item.kind)) {
      exportable.push(item);
      continue;
    }
    manifest.nonExportable.push({
      folder: placement.zipPath,
      sourceId: item.id,
      kind: item.kind,
      ...(item.note !== undefined ? { note: item.note } : {}),
    });
  }
  if (exportable.length === 0) return;

  // Ids are looked up rather than trusted to come back in order; a list per id keeps items
  // apart even if a store repeats an id.
  const sequences = new Map<string, number[]>();
  exportable.forEach((item, index) => {
    const list = sequences.get(item.id) ?? [];
    list.push(index + 1);
    sequences.set(item.id, list);
  });

  try {
    for await (const content of options.source.readItems(placement.folder, exportable, signal)) {
      if (signal.aborted) throw signal.reason;
      const sequence = sequences.get(content.item.id)?.shift();
      if (sequence === undefined) {
        const message =
          `job ${options.jobId}: folder ${folderName(placement)} returned item ` +
          `${content.item.id}, which was not asked for`;
        throw new ExportError('SourceUnavailable', message);
      }
      const item = exportable[sequence - 1] as SourceItem;

      if ('error' in content) {
        recordProblem(context, totals, placement, item, content.error);
      } else {
        await writeItem(context, totals, placement, item, sequence, content.body);
      }
      context.progress.counters.itemsDone++;
      context.progress.tick();
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (error instanceof ExportError) throw error;
    const message = `job ${options.jobId}: could not read folder ${folderName(placement)}`;
    throw new ExportError('SourceUnavailable', message, { cause: error });
  }

  for (const [id, left] of sequences) {
    for (const sequence of left) {
      const item = exportable[sequence - 1] as SourceItem;
      const error = new Error(`the source did not return item ${id}`);
      recordProblem(context, totals, placement, item, error);
    }
  }
}

async function writeItem(
  context: EntryContext,
  totals: EntryTotals,
  placement: FolderPlacement,
  item: SourceItem,
  sequence: number,
  body: Readable | Buffer,
): Promise<void> {
  const target: ItemTarget = {
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
  const outcome = await (item.kind === 'event' ? writeEvent : writeMessage)(target, body);
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
