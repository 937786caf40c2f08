import { type FileHandle, link, mkdir, open, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import {
  CALENDARS,
  CONTACTS,
  MAILDIR,
  encodeFileName,
  decodeFileName,
  maildirDirName,
  normalizeFolderPath,
} from './layout.js';
import {
  KEYWORD_LETTERS,
  lettersOfFlags,
  newUniqueName,
  readKeywordTable,
} from './maildir-format.js';

/** Bytes to store: given whole, or streamed (a Readable is an AsyncIterable of chunks). */
export type ItemBody = Uint8Array | string | AsyncIterable<Uint8Array | string>;

export interface MailboxWriterOptions {
  /**
   * Flush every item and its directory to disk before the call returns (default true). Off,
   * a crash may lose recent items but never leaves a partial one in cur/ or a collection.
   */
  readonly durable?: boolean;
}

export interface DeliverOptions {
  /** IMAP flags and keywords; `\Recent` is ignored, flags Maildir cannot hold are returned. */
  readonly flags?: readonly string[];
  /** Becomes the file's mtime, which is the message's internal date. Default: now. */
  readonly internalDate?: Date;
}

export interface StoredItem {
  /** The id the store lists the item under: the Maildir unique name, the item's name. */
  readonly id: string;
  /** The file the bytes were written to. */
  readonly file: string;
  readonly size: number;
  /** Flags that could not be stored (not a valid keyword, or the folder's 26 are taken). */
  readonly droppedFlags: readonly string[];
}

interface KeywordTable {
  readonly byLetter: Map<string, string>;
  readonly letterOf: Map<string, string>;
}

/**
 * Writes into an embedded mailbox. Every item appears whole or not at all: its bytes go to a
 * temporary file that is flushed, then renamed (Maildir) or linked (collections) into place.
 * Bytes are written exactly as given.
 */
export class MailboxWriter {
  private readonly keywordTables = new Map<string, KeywordTable>();
  private readonly createdDirs = new Set<string>();

  private constructor(
    readonly mailboxDir: string,
    private readonly durable: boolean,
  ) {}

  /** Opens (and creates, with its INBOX) the mailbox in `mailboxDir`. */
  static async open(
    mailboxDir: string,
    options: MailboxWriterOptions = {},
  ): Promise<MailboxWriter> {
    const writer = new MailboxWriter(mailboxDir, options.durable ?? true);
    await writer.createMailFolder(['INBOX']);
    return writer;
  }

  /** Creates a mail folder (cur/, new/, tmp/ as Dovecot does); returns its directory. */
  async createMailFolder(path: readonly string[]): Promise<string> {
    const dirName = maildirDirName(path);
    const dir = join(this.mailboxDir, MAILDIR, dirName);
    if (this.createdDirs.has(dir)) return dir;

    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, sub), { recursive: true });
    if (dirName !== '') await writeFile(join(dir, 'maildirfolder'), '', { flag: 'a' });
    this.createdDirs.add(dir);
    return dir;
  }

  /**
   * Delivers one message: written to tmp/, flushed, given its internal date as mtime, then
   * renamed into cur/ as `<unique name>:2,<flags>`.
   */
  async deliverMessage(
    path: readonly string[],
    body: ItemBody,
    options: DeliverOptions = {},
  ): Promise<StoredItem> {
    const dir = await this.createMailFolder(normalizeFolderPath(path));
    const table = await this.keywordTable(dir);
    const before = table.byLetter.size;
    const { letters, dropped } = lettersOfFlags(options.flags ?? [], (k) =>
      this.letterFor(table, k),
    );
    if (table.byLetter.size !== before) await this.saveKeywordTable(dir, table);

    const uniqueName = newUniqueName();
    const tmpFile = join(dir, 'tmp', uniqueName);
    const file = join(dir, 'cur', `${uniqueName}:2,${letters}`);
    const size = await this.writeTemp(tmpFile, body, options.internalDate ?? new Date());
    try {
      await rename(tmpFile, file);
    } catch (error) {
      await unlink(tmpFile).catch(() => undefined);
      throw error;
    }

    if (this.durable) await syncDir(join(dir, 'cur'));
    return { id: uniqueName, file, size, droppedFlags: dropped };
  }

  /** Creates a calendar; returns its directory. */
  async createCalendar(name: string): Promise<string> {
    return this.createCollection(CALENDARS, name);
  }

  /** Creates an address book; returns its directory. */
  async createAddressBook(name: string): Promise<string> {
    return this.createCollection(CONTACTS, name);
  }

  /**
   * Adds one calendar item as `<name>.ics`. A name already taken gets a `~2`, `~3`... suffix:
   * an item is never replaced.
   */
  async addCalendarItem(
    calendar: string,
    itemName: string,
    body: ItemBody,
    options: { readonly date?: Date } = {},
  ): Promise<StoredItem> {
    const dir = await this.createCalendar(calendar);
    return this.addCollectionItem(dir, itemName, '.ics', body, options.date);
  }

  /** Adds one contact as `<name>.vcf`, with the same naming rule as calendar items. */
  async addContact(
    addressBook: string,
    itemName: string,
    body: ItemBody,
    options: { readonly date?: Date } = {},
  ): Promise<StoredItem> {
    const dir = await this.createAddressBook(addressBook);
    return this.addCollectionItem(dir, itemName, '.vcf', body, options.date);
  }

  private async createCollection(root: string, name: string): Promise<string> {
    const dir = join(this.mailboxDir, root, encodeFileName(name));
    if (!this.createdDirs.has(dir)) await mkdir(dir, { recursive: true });
    this.createdDirs.add(dir);
    return dir;
  }

  private async addCollectionItem(
    dir: string,
    itemName: string,
    extension: string,
    body: ItemBody,
    date: Date | undefined,
  ): Promise<StoredItem> {
    const tmpFile = join(dir, `.tmp-${newUniqueName()}`);
    const size = await this.writeTemp(tmpFile, body, date ?? new Date());
    const base = encodeFileName(itemName);
    try {
      for (let n = 1; ; n += 1) {
        const fileBase = n === 1 ? base : `${base}~${n}`;
        const file = join(dir, fileBase + extension);
        try {
          // link() fails rather than replace an existing item, where rename() would not.
          await link(tmpFile, file);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
          throw error;
        }

        if (this.durable) await syncDir(dir);
        return { id: decodeFileName(fileBase), file, size, droppedFlags: [] };
      }
    } finally {
      await unlink(tmpFile).catch(() => undefined);
    }
  }

  private async writeTemp(file: string, body: ItemBody, date: Date): Promise<number> {
    const handle = await open(file, 'wx');
    try {
      const size = await writeBody(handle, body);
      if (this.durable) await handle.sync();
      await handle.utimes(date, date);
      await handle.close();
      return size;
    } catch (error) {
      await handle.close().catch(() => undefined);
      await unlink(file).catch(() => undefined);
      throw error;
    }
  }

  private async keywordTable(dir: string): Promise<KeywordTable> {
    let table = this.keywordTables.get(dir);
    if (table) return table;
    const byLetter = await readKeywordTable(dir);
    table = { byLetter, letterOf: new Map([...byLetter].map(([l, k]) => [k, l])) };
    this.keywordTables.set(dir, table);
    return table;
  }

  /**
   * `$Forwarded` is stored as a Dovecot keyword, not as the Maildir `P` letter: Dovecot does
   * not read `P` as `$Forwarded`, so a keyword keeps the flag visible over IMAP too.
   */
  private letterFor(table: KeywordTable, keyword: string): string | undefined {
    const known = table.letterOf.get(keyword);
    if (known !== undefined) return known;
    const free = [...KEYWORD_LETTERS].find((letter) => !table.byLetter.has(letter));
    if (free === undefined) return undefined;
    table.byLetter.set(free, keyword);
    table.letterOf.set(keyword, free);
    return free;
  }

  private async saveKeywordTable(dir: string, table: KeywordTable): Promise<void> {
    const lines = [...table.byLetter]
      .map(([letter, keyword]) => [KEYWORD_LETTERS.indexOf(letter), keyword] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([index, keyword]) => `${index} ${keyword}\n`);
    const tmpFile = join(dir, 'tmp', `keywords-${newUniqueName()}`);
    await writeFile(tmpFile, lines.join(''), { flag: 'wx' });
    await rename(tmpFile, join(dir, 'dovecot-keywords'));
  }
}

/** Small chunks are gathered up to this size so that each costs no write call of its own. */
const WRITE_BYTES = 64 * 1024;

async function writeBody(handle: FileHandle, body: ItemBody): Promise<number> {
  if (typeof body === 'string' || body instanceof Uint8Array) return writeAll(handle, body);
  let size = 0;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const chunk of body) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    pending.push(bytes);
    pendingBytes += bytes.length;
    if (pendingBytes >= WRITE_BYTES) {
      size += await writeAll(handle, Buffer.concat(pending));
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pendingBytes > 0) size += await writeAll(handle, Buffer.concat(pending));
  return size;
}

async function writeAll(handle: FileHandle, chunk: Uint8Array | string): Promise<number> {
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
  return bytes.length;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
