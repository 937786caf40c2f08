import type { Readable } from 'node:stream';

/**
 * What a mailbox is made of, as seen by the export. Every backend (the embedded Maildir store,
 * IMAP, CalDAV) describes its content with these types, and the export pipeline never learns
 * which backend it reads.
 */

/** The kind of a folder decides how its items are exported. */
export type FolderKind = 'mail' | 'calendar' | 'contacts';

/**
 * The kind of one item. Messages and calendar events are exported; contacts, tasks and notes
 * are counted as non-exportable, as the WorkMail export does.
 */
export type ItemKind = 'message' | 'event' | 'contact' | 'task' | 'note';

export const EXPORTABLE_KINDS: ReadonlySet<ItemKind> = new Set(['message', 'event']);

export interface SourceFolder {
  /**
   * Path from the mailbox root, one decoded Unicode name per level, exactly as the store names
   * it (not yet made safe for a file system): `['INBOX', 'Projects', 'Q3']`.
   */
  readonly path: readonly string[];
  readonly kind: FolderKind;
  /**
   * Identity of this generation of the folder's item ids (IMAP UIDVALIDITY, a CalDAV sync
   * token, a Maildir's creation marker). Ids are only comparable under the same validity.
   */
  readonly validity?: string;
  /** RFC 6154 special use (`\Sent`, `\Trash`, ...), where the store tells it. */
  readonly specialUse?: string;
}

export interface SourceItem {
  /** Stable id of the item inside its folder (Maildir unique name, IMAP UID, CalDAV href). */
  readonly id: string;
  readonly kind: ItemKind;
  /** Size in bytes as the store reports it, when it reports one before reading. */
  readonly size?: number;
  /** IMAP-style flags: `\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`, keywords. */
  readonly flags?: readonly string[];
  /** When the store received the item (IMAP INTERNALDATE, Maildir delivery time). */
  readonly internalDate?: Date;
  /** Why the item is listed but will not be exported or cannot be classified. */
  readonly note?: string;
  /**
   * Where the source found the item, in terms only the source reads (a Maildir file name
   * relative to its folder). The export keeps it with the item and gives it back unchanged:
   * the cut is kept on disk, so an item handed back to `readItems` is a copy of the one
   * listed, never the same object.
   */
  readonly locator?: string;
}

/**
 * One item's bytes, or the reason they could not be read. A source that already holds a small
 * item whole gives it as a Buffer, which spares the export a stream per item; any other body
 * is a stream.
 */
export type ItemContent =
  | { readonly item: SourceItem; readonly body: Readable | Buffer }
  | { readonly item: SourceItem; readonly error: Error };

/**
 * A mailbox to export. A job calls `listFolders` and `listItems` once at its start: that is its
 * consistent cut. Items listed then are read with `readItems`, in runs of any length, and
 * compared by id and value only; one that has vanished since is reported as an error entry,
 * never silently skipped.
 */
export interface MailboxSource {
  listFolders(signal: AbortSignal): Promise<SourceFolder[]>;
  /**
   * The folder's items, a chunk at a time, in any order. A folder may hold millions of
   * items: a source yields them as it finds them rather than gathering them, so that listing
   * one costs memory for a chunk, not for the folder. Ids are meant to be unique in a folder;
   * an id listed twice (two files that claim one Maildir name) is two items, both exported.
   */
  listItems(folder: SourceFolder, signal: AbortSignal): AsyncIterable<readonly SourceItem[]>;
  /**
   * Yields the items in the given order. The consumer reads each body to its end (or destroys
   * it) before it asks for the next, so a backend may pipeline requests but never has to hold
   * more than one body open.
   */
  readItems(
    folder: SourceFolder,
    items: readonly SourceItem[],
    signal: AbortSignal,
  ): AsyncIterable<ItemContent>;
  /**
   * Where a listed item's bytes lie whole in a local file, for a reader that reads them on a
   * thread of its own; undefined when the source does not know or has no such file (a remote
   * store). A reader that finds the file gone or unreadable reads the item through `readItems`
   * instead, which tells a renamed item from a deleted one.
   */
  localFile?(folder: SourceFolder, item: SourceItem): string | undefined;
  close(): Promise<void>;
}

/**
 * The item was listed at the job's start and deleted before it was read. The export reports
 * it as deleted; it does not count as unreadable.
 */
export class ItemVanishedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ItemVanishedError';
  }
}

/** Every item of a folder at once, for callers that hold a folder's listing anyway. */
export async function listAllItems(
  source: MailboxSource,
  folder: SourceFolder,
  signal: AbortSignal,
): Promise<SourceItem[]> {
  const items: SourceItem[] = [];
  for await (const chunk of source.listItems(folder, signal)) items.push(...chunk);
  return items;
}
