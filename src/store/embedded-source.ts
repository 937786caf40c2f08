import type { Dirent } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { ExportError, messageOf } from '../core/errors.js';
import {
  ItemVanishedError,
  type ItemContent,
  type MailboxSource,
  type SourceFolder,
  type SourceItem,
} from '../core/source.js';
import { classifyCalendarFile } from './calendar-kind.js';
import { byteLocator, entryName, locatedPath } from './file-names.js';
import { openRegularFile, streamWhole } from './file-stream.js';
import { readRegularFile } from './regular-file.js';
import { TimeSlice } from './time-slice.js';
import {
  CALENDARS,
  CONTACTS,
  INBOX,
  MAILDIR,
  decodeFileName,
  encodeFileName,
  folderPathOfDirName,
  maildirDirName,
} from './layout.js';
import { MaildirIndex } from './maildir-index.js';
import { listMaildirFolder } from './maildir-listing.js';

export interface EmbeddedMailboxOptions {
  /** A Maildir++ root as Dovecot lays it out (the root is INBOX). */
  readonly maildir: string;
  /** A directory holding one directory per calendar, one `.ics` file per item. */
  readonly calendars?: string;
  /** A directory holding one directory per address book, one `.vcf` file per contact. */
  readonly contacts?: string;
}

interface FolderPlace {
  readonly dir: string;
  readonly index?: MaildirIndex;
}

/**
 * Stats and reads run at once while listing a calendar or an address book (each item is read
 * to tell its kind): enough to hide latency, few file descriptors.
 */
const STAT_CONCURRENCY = 16;

/**
 * Times an item's file is looked for again when it was renamed between the listing and its
 * read: a client may rename it back and forth as it sets and clears flags.
 */
const FIND_ATTEMPTS = 8;

/**
 * Items opened ahead of the one being read, and the bytes of small items read whole ahead of
 * it: enough to keep the thread pool busy, few file descriptors, little memory.
 */
const READ_AHEAD_ITEMS = 16;
const READ_AHEAD_BYTES = 4 * 1024 * 1024;
/** Items up to this size are read in one call rather than streamed. */
const WHOLE_ITEM_BYTES = 256 * 1024;

/** A listed item's file from its folder's directory: `cur/NAME` or `new/NAME`, or `NAME`. */
const LOCATOR = /^(?:(?:cur|new)\/)?(?!\.\.?$)[^/]+$/;

/** The file's bytes, or undefined when it is not where it was listed (renamed, or gone). */
function readIfThere(path: string | Buffer): Buffer | undefined {
  try {
    return readRegularFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Opens the mailbox in a mailbox directory: `Maildir/`, `calendars/`, `contacts/`. */
export function openMailboxDir(mailboxDir: string): MailboxSource {
  return openEmbeddedMailbox({
    maildir: join(mailboxDir, MAILDIR),
    calendars: join(mailboxDir, CALENDARS),
    contacts: join(mailboxDir, CONTACTS),
  });
}

/**
 * A mailbox read straight from disk: a Maildir++ tree (ours, or one Dovecot wrote), plus
 * calendars and address books as one file per item. Ids are Maildir unique names and item
 * names, so they stay stable across flag changes and moves from new/ to cur/.
 */
export function openEmbeddedMailbox(options: EmbeddedMailboxOptions): MailboxSource {
  return new EmbeddedMailbox(options);
}

class EmbeddedMailbox implements MailboxSource {
  private readonly folderPlaces = new WeakMap<SourceFolder, FolderPlace>();

  constructor(private readonly options: EmbeddedMailboxOptions) {}

  async listFolders(signal: AbortSignal): Promise<SourceFolder[]> {
    signal.throwIfAborted();
    const mail = await this.listMailFolders();
    const calendars = await this.listCollections(this.options.calendars, 'calendar');
    const contacts = await this.listCollections(this.options.contacts, 'contacts');
    return [...mail, ...calendars, ...contacts];
  }

  async *listItems(folder: SourceFolder, signal: AbortSignal): AsyncGenerator<SourceItem[]> {
    signal.throwIfAborted();
    const place = this.placeOf(folder);
    if (folder.kind === 'mail') yield* listMaildirFolder(place.dir, signal);
    else yield await this.listCollectionItems(folder, place.dir, signal);
  }

  /**
   * Opens items a few ahead of the one being read: on a mailbox of small messages the time
   * goes to opening and reading files, one round trip of the thread pool after another, and
   * a few at once hide that. Small items are read whole on the way, within a byte budget;
   * larger ones are only opened, and stream when their turn comes.
   */
  async *readItems(
    folder: SourceFolder,
    items: readonly SourceItem[],
    signal: AbortSignal,
  ): AsyncIterable<ItemContent> {
    const place = this.placeOf(folder);
    const where = `folder ${JSON.stringify(folder.path.join('/'))}`;
    const ahead: Array<{ content: Promise<ItemContent>; bytes: number }> = [];
    let next = 0;
    let bytesAhead = 0;
    const fill = (): void => {
      while (next < items.length && ahead.length < READ_AHEAD_ITEMS) {
        const item = items[next]!;
        const whole = item.size !== undefined && item.size <= WHOLE_ITEM_BYTES;
        const bytes = whole ? item.size! : 0;
        if (ahead.length > 0 && bytesAhead + bytes > READ_AHEAD_BYTES) break;
        next++;
        bytesAhead += bytes;
        const content = this.readItem(folder, place, item, where, whole);
        content.catch(() => undefined);
        ahead.push({ content, bytes });
      }
    };

    const slice = new TimeSlice();
    try {
      for (fill(); ahead.length > 0; fill()) {
        signal.throwIfAborted();
        await slice.giveWay();
        const first = ahead.shift()!;
        bytesAhead -= first.bytes;
        yield await first.content;
      }
    } finally {
      // A read cut short leaves open files behind it: close them.
      for (const { content } of ahead.splice(0)) {
        void content.then((left) => {
          if ('body' in left && !Buffer.isBuffer(left.body)) left.body.destroy();
        });
      }
    }
  }

  private async readItem(
    folder: SourceFolder,
    place: FolderPlace,
    item: SourceItem,
    where: string,
    whole: boolean,
  ): Promise<ItemContent> {
    try {
      if (whole) {
        const listed = this.listedFile(place, item);
        const data =
          (listed !== undefined ? readIfThere(listed) : undefined) ??
          (await this.withItemFile(folder, place, item, async (path) => readRegularFile(path)));
        return { item, body: data };
      }
      const opened = await this.withItemFile(folder, place, item, openRegularFile);
      return { item, body: streamWhole(opened) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const message =
        code === 'ENOENT'
          ? `Item ${item.id} of ${where} was deleted after the export started`
          : `Item ${item.id} of ${where} could not be read: ${messageOf(error)}`;
      const failure =
        code === 'ENOENT'
          ? new ItemVanishedError(message, { cause: error })
          : new Error(message, { cause: error });
      return { item, error: failure };
    }
  }

  /** Only a file named by text: the entry threads take a path as a string. */
  localFile(folder: SourceFolder, item: SourceItem): string | undefined {
    if (folder.kind !== 'mail') return undefined;
    const path = this.listedFile(this.placeOf(folder), item);
    return typeof path === 'string' ? path : undefined;
  }

  /**
   * Where the item's file was when it was listed. Its locator is the file's name from the
   * folder's directory (a full path would more than double what the cut keeps per item); one
   * that names anything else is not used.
   */
  private listedFile(place: FolderPlace, item: SourceItem): string | Buffer | undefined {
    const file = item.locator;
    if (file === undefined) return undefined;
    return locatedPath(place.dir, file, (relative) => LOCATOR.test(relative));
  }

  async close(): Promise<void> {}

  /** Runs `use` on the item's file, looking for it again if it was renamed meanwhile. */
  private async withItemFile<T>(
    folder: SourceFolder,
    place: FolderPlace,
    item: SourceItem,
    use: (path: string | Buffer) => Promise<T>,
  ): Promise<T> {
    const listed = this.listedFile(place, item);
    const extension = folder.kind === 'calendar' ? '.ics' : '.vcf';
    const first = listed ?? (place.index ? await place.index.find(item.id) : undefined);
    let candidate =
      first ?? (place.index ? undefined : join(place.dir, encodeFileName(item.id) + extension));
    let lastError: unknown = Object.assign(new Error(`No file for item ${item.id}`), {
      code: 'ENOENT',
    });

    // A message may be renamed (new/ to cur/, flags) between the listing and this read, even
    // back to a name already tried; it is gone only when its unique name is no longer in cur/
    // or new/.
    for (let attempt = 1; candidate !== undefined; attempt++) {
      try {
        return await use(candidate);
      } catch (error) {
        lastError = error;
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !place.index) break;
      }
      if (attempt === FIND_ATTEMPTS) {
        throw new Error(`its file was renamed ${attempt} times while it was read`, {
          cause: lastError,
        });
      }
      candidate = await place.index.find(
        item.id,
        typeof candidate === 'string' ? candidate : undefined,
      );
    }
    throw lastError;
  }

  /** Where a folder lives: as listed, or found again from its path for a copied folder. */
  private placeOf(folder: SourceFolder): FolderPlace {
    const place = this.folderPlaces.get(folder);
    if (place) return place;
    if (folder.kind === 'mail') {
      const dir = join(this.options.maildir, maildirDirName(folder.path));
      return { dir, index: new MaildirIndex(dir) };
    }

    const root = folder.kind === 'calendar' ? this.options.calendars : this.options.contacts;
    const name = folder.path[0];
    if (root === undefined || name === undefined || folder.path.length !== 1) {
      throw new Error(`Folder ${JSON.stringify(folder.path.join('/'))} is not in this mailbox`);
    }
    return { dir: join(root, encodeFileName(name)) };
  }

  private async listMailFolders(): Promise<SourceFolder[]> {
    const root = this.options.maildir;
    let entries: Dirent[];
    try {
      entries = await readdir(root, { withFileTypes: true });
    } catch (error) {
      throw new ExportError('SourceUnavailable', `Cannot read the Maildir ${root}`, {
        cause: error,
      });
    }

    const found: Array<{ path: string[]; dir: string }> = [];
    if (await isMaildirFolder(root)) found.push({ path: [INBOX], dir: root });
    for (const entry of entries) {
      if (!entry.name.startsWith('.') || entry.name === '.' || entry.name === '..') continue;
      const dir = join(root, entry.name);
      if (await isMaildirFolder(dir)) found.push({ path: folderPathOfDirName(entry.name), dir });
    }

    const folders: SourceFolder[] = [];
    for (const { path, dir } of found.sort((a, b) => comparePaths(a.path, b.path))) {
      const validity = await readUidValidity(dir);
      const folder: SourceFolder = validity
        ? { path, kind: 'mail', validity }
        : { path, kind: 'mail' };
      this.folderPlaces.set(folder, { dir, index: new MaildirIndex(dir) });
      folders.push(folder);
    }
    return folders;
  }

  private async listCollections(
    root: string | undefined,
    kind: 'calendar' | 'contacts',
  ): Promise<SourceFolder[]> {
    if (root === undefined) return [];
    let entries: Dirent[];
    try {
      entries = await readdir(root, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new ExportError('SourceUnavailable', `Cannot read ${root}`, { cause: error });
    }

    const folders = entries
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
      .map((entry) => ({ path: [decodeFileName(entry.name)], dir: join(root, entry.name) }))
      .sort((a, b) => comparePaths(a.path, b.path));
    return folders.map(({ path, dir }) => {
      const folder: SourceFolder = { path, kind };
      this.folderPlaces.set(folder, { dir });
      return folder;
    });
  }

  private async listCollectionItems(
    folder: SourceFolder,
    dir: string,
    signal: AbortSignal,
  ): Promise<SourceItem[]> {
    const extension = folder.kind === 'calendar' ? '.ics' : '.vcf';
    const names = (await bytesNamesOrEmpty(dir))
      .map(entryName)
      .filter(({ text }) => !text.startsWith('.') && text.toLowerCase().endsWith(extension))
      .sort((a, b) => compareStrings(a.text, b.text));

    const items = await mapLimit(names, STAT_CONCURRENCY, async ({ text, bytes }) => {
      signal.throwIfAborted();
      const file = bytes ? Buffer.concat([Buffer.from(`${dir}/`), bytes]) : join(dir, text);
      const info = await statOrUndefined(file);
      if (!info?.isFile()) return undefined;
      const id = decodeFileName(text.slice(0, -extension.length));
      const locator = bytes ? byteLocator(bytes) : text;
      const base = { id, size: info.size, internalDate: info.mtime, locator };
      let item: SourceItem;
      if (folder.kind === 'contacts') item = { ...base, kind: 'contact' };
      else {
        const kind = await classifyCalendarFile(file, signal).catch((error: unknown) => ({
          kind: 'event' as const,
          note: `could not be read to tell its kind: ${messageOf(error)}`,
        }));
        item = { ...base, ...kind };
      }
      return item;
    });
    return items.filter((item): item is SourceItem => item !== undefined);
  }
}

async function isMaildirFolder(dir: string): Promise<boolean> {
  for (const sub of ['cur', 'new']) {
    if ((await statOrUndefined(join(dir, sub)))?.isDirectory()) return true;
  }
  return false;
}

/** Dovecot's UIDVALIDITY from the first line of `dovecot-uidlist` (`3 V<validity> N...`). */
async function readUidValidity(dir: string): Promise<string | undefined> {
  try {
    const handle = await open(join(dir, 'dovecot-uidlist'), 'r');
    try {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(256), 0, 256, 0);
      return /^\d+ V(\d+)/.exec(buffer.subarray(0, bytesRead).toString('latin1'))?.[1];
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}

async function bytesNamesOrEmpty(dir: string): Promise<Buffer[]> {
  try {
    return await readdir(dir, { encoding: 'buffer' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function statOrUndefined(file: string | Buffer) {
  try {
    return await stat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Code unit order: the same on every machine and locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function comparePaths(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) {
    const order = compareStrings(a[i]!, b[i]!);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

async function mapLimit<T, R>(
  inputs: readonly T[],
  limit: number,
  fn: (input: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(inputs.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, inputs.length) }, async () => {
    while (next < inputs.length) {
      const index = next;
      next += 1;
      results[index] = await fn(inputs[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}
