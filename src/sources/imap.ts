import type { ListResponse } from 'imapflow';

import { ExportError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import type { ItemContent, MailboxSource, SourceFolder, SourceItem } from '../core/source.js';
import {
  ImapConnectError,
  type ImapConnection,
  ImapConnector,
  type ImapSourceOptions,
} from './imap-connection.js';
import { readFolder, type ReadLimits } from './imap-read.js';
import {
  type ConnectionLender,
  FolderMissingError,
  FolderSession,
  retryPause,
} from './imap-session.js';

export type { ImapAdminAuth, ImapSourceOptions } from './imap-connection.js';
export { ImapConnectError } from './imap-connection.js';

/** Messages whose flags, sizes and dates are fetched by one FETCH while a folder is listed. */
const LISTING_CHUNK_ITEMS = 1024;

/**
 * Opens one user's mailbox on an IMAP server with an admin login, and checks the login at once
 * so that a wrong password or an unreachable server fails here with a message that says what
 * to check (an `ExportError` with code `SourceUnavailable`, the original error as `cause`).
 *
 * Folders are the personal namespace's selectable mailboxes (`\Noselect` and
 * `\NonExistent` ones are only hierarchy and are skipped), each named by its decoded path
 * split at the server's delimiter. An item's id is its UID; the folder's `validity` is its
 * UIDVALIDITY, and a read fails when that changes mid-export (the ids would name other
 * messages), telling the operator to export again.
 */
export async function openImapMailbox(
  options: ImapSourceOptions,
  signal: AbortSignal = new AbortController().signal,
): Promise<MailboxSource> {
  checkOptions(options);
  const mailbox = new ImapMailbox(new ImapConnector(options));
  try {
    const connection = await mailbox.lease(signal);
    mailbox.giveBack(connection);
  } catch (error) {
    await mailbox.close();
    throw error;
  }
  return mailbox;
}

function checkOptions(o: ImapSourceOptions): void {
  const bad = (what: string) => {
    throw new ExportError('SourceUnavailable', `IMAP source options: ${what}`);
  };
  if (!o.host) bad('host is empty');
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) bad(`port ${o.port} is invalid`);
  if (!o.user) bad('user is empty');
  if (!o.auth?.admin || typeof o.auth.password !== 'string') bad('auth needs admin and password');
  if (o.auth.kind === 'master' && o.auth.separator === '') bad('the master separator is empty');
  for (const key of [
    'maxConnections',
    'batchBytes',
    'streamThresholdBytes',
    'chunkBytes',
  ] as const) {
    const value = o[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) bad(`${key} must be > 0`);
  }
  if (o.retries !== undefined && (!Number.isInteger(o.retries) || o.retries < 0)) {
    bad('retries must be 0 or more');
  }
}

class ImapMailbox implements MailboxSource, ConnectionLender {
  readonly #connector: ImapConnector;
  readonly #limits: ReadLimits;
  readonly #idle: ImapConnection[] = [];
  readonly #busy = new Set<ImapConnection>();
  /** Server paths of the listed folders, by their path from the mailbox root. */
  readonly #serverPaths = new Map<string, string>();
  #closed = false;

  constructor(connector: ImapConnector) {
    this.#connector = connector;
    const o = connector.options;
    this.#limits = {
      batchBytes: o.batchBytes ?? LIMITS.imapBatchBytes,
      batchMessages: LIMITS.imapBatchMessages,
      streamThreshold: o.streamThresholdBytes ?? LIMITS.imapStreamThreshold,
      chunkBytes: o.chunkBytes ?? LIMITS.imapChunkBytes,
    };
  }

  get server(): string {
    return this.#connector.server;
  }

  get retries(): number {
    return this.#connector.options.retries ?? 5;
  }

  get retryDelayMs(): number {
    return this.#connector.options.retryDelayMs ?? 500;
  }

  async lease(signal: AbortSignal): Promise<ImapConnection> {
    if (this.#closed) throw new Error('the IMAP source is closed');
    let connection = this.#idle.pop();
    while (connection && !connection.usable) {
      connection.drop();
      connection = this.#idle.pop();
    }
    connection ??= await this.#connector.open(signal);
    this.#busy.add(connection);
    return connection;
  }

  giveBack(connection: ImapConnection): void {
    this.#busy.delete(connection);
    // One idle connection is kept for the next folder; more would hold permits that other
    // jobs on the same server may be waiting for.
    if (!this.#closed && connection.usable && this.#idle.length === 0) {
      this.#idle.push(connection);
    } else {
      void connection.close();
    }
  }

  async listFolders(signal: AbortSignal): Promise<SourceFolder[]> {
    const { listed, foreign } = await this.#list(signal);
    const folders: SourceFolder[] = [];
    for (const entry of listed) {
      const flags = new Set([...entry.flags].map((f) => f.toLowerCase()));
      if (flags.has('\\noselect') || flags.has('\\nonexistent')) continue;
      if (foreign.some((prefix) => entry.path.startsWith(prefix))) continue;
      const path = entry.delimiter ? entry.path.split(entry.delimiter) : [entry.path];
      this.#serverPaths.set(JSON.stringify(path), entry.path);
      const validity = entry.status?.uidValidity;
      folders.push({
        path,
        kind: 'mail',
        ...(validity !== undefined ? { validity: validity.toString() } : {}),
        // Only what the server declares (RFC 6154); imapflow also guesses from names.
        ...(entry.specialUse && entry.specialUseSource === 'extension'
          ? { specialUse: entry.specialUse }
          : {}),
      });
    }
    return folders.sort(comparePaths);
  }

  /**
   * The UIDs first, by one SEARCH, then their flags, sizes and dates by FETCH, a chunk at a
   * time: a folder of a million messages is never held whole, and a connection lost midway
   * costs a chunk again, not the folder.
   */
  async *listItems(folder: SourceFolder, signal: AbortSignal): AsyncGenerator<SourceItem[]> {
    const session = this.#session(folder, signal);
    try {
      // The UID sets to FETCH: for a folder of a chunk or less, the whole range at once, in one
      // round trip as most folders are; for a larger one, its UIDs a chunk at a time.
      const sets = await session.run(async ({ client }) => {
        const mailbox = session.mailbox;
        if (!mailbox || mailbox.exists === 0) return [];
        // UIDs below UIDNEXT at SELECT are exactly what the folder held then (RFC 3501
        // section 2.3.1.1); a message appended later gets a higher UID and is left out. A
        // server that does not tell UIDNEXT gets `1:*`: what the folder holds when asked.
        const next = mailbox.uidNext;
        const known = Number.isInteger(next) && next > 0;
        if (known && next <= 1) return [];
        const range = known ? `1:${next - 1}` : '1:*';
        if (mailbox.exists <= LISTING_CHUNK_ITEMS) return [range];

        const found = await client.search({ uid: range }, { uid: true });
        if (found === false || found === undefined) {
          throw new Error(`the server refused to SEARCH folder ${folder.path.join('/')}`);
        }
        const chunks: string[] = [];
        for (let start = 0; start < found.length; start += LISTING_CHUNK_ITEMS) {
          chunks.push(uidSet(found.slice(start, start + LISTING_CHUNK_ITEMS)));
        }
        return chunks;
      });

      for (const set of sets) {
        yield await session.run(async ({ client }) => {
          const items: SourceItem[] = [];
          const query = { uid: true, flags: true, internalDate: true, size: true };
          for await (const m of client.fetch(set, query, { uid: true })) {
            items.push(toItem(m.uid, m.size, m.flags, m.internalDate));
          }
          return items;
        });
      }
    } catch (error) {
      if (error instanceof FolderMissingError) return;
      throw error;
    } finally {
      session.release();
    }
  }

  async *readItems(
    folder: SourceFolder,
    items: readonly SourceItem[],
    signal: AbortSignal,
  ): AsyncGenerator<ItemContent> {
    const session = this.#session(folder, signal);
    try {
      yield* readFolder(session, items, this.#limits, signal);
    } finally {
      session.release();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const all = [...this.#idle.splice(0), ...this.#busy];
    this.#busy.clear();
    await Promise.all(all.map((c) => c.close()));
    this.#connector.dispose();
  }

  /** LIST with each folder's UIDVALIDITY (RFC 5819 LIST-STATUS where offered), reconnecting. */
  async #list(signal: AbortSignal): Promise<{ listed: ListResponse[]; foreign: string[] }> {
    for (let attempt = 0; ; attempt++) {
      let connection: ImapConnection | undefined;
      try {
        connection = await this.lease(signal);
        const listed = await connection.client.list({ statusQuery: { uidValidity: true } });
        const foreign = foreignPrefixes(connection);
        this.giveBack(connection);
        return { listed, foreign };
      } catch (error) {
        signal.throwIfAborted();
        const transient =
          error instanceof ImapConnectError
            ? error.transient
            : connection !== undefined && !connection.usable;
        if (connection) {
          connection.drop();
          this.#busy.delete(connection);
        }
        if (transient && attempt < this.retries) {
          await retryPause(attempt, this.retryDelayMs, signal);
          continue;
        }
        if (error instanceof ExportError) throw error;
        throw new ExportError(
          'SourceUnavailable',
          `listing the folders of ${this.#connector.options.user} on ${this.server} failed: ` +
            (error as Error).message,
          { cause: error },
        );
      }
    }
  }

  #session(folder: SourceFolder, signal: AbortSignal): FolderSession {
    if (folder.kind !== 'mail') {
      throw new Error(`the IMAP source has no ${folder.kind} folder ${folder.path.join('/')}`);
    }
    const serverPath = this.#serverPaths.get(JSON.stringify(folder.path)) ?? folder.path.join('/');
    return new FolderSession(this, folder, serverPath, signal);
  }
}

/** UIDs as an IMAP sequence set, each run of consecutive ones as `first:last`. */
export function uidSet(uids: readonly number[]): string {
  const sorted = [...uids].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    runs.push(j === i ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return runs.join(',');
}

function toItem(
  uid: number,
  size: number | undefined,
  flags: Set<string> | undefined,
  internalDate: Date | string | undefined,
): SourceItem {
  const date = internalDate === undefined ? undefined : new Date(internalDate);
  return {
    id: String(uid),
    kind: 'message',
    ...(size !== undefined ? { size } : {}),
    // \Recent belongs to the session that saw the message first, not to the message.
    flags: [...(flags ?? [])].filter((f) => f.toLowerCase() !== '\\recent'),
    ...(date && !Number.isNaN(date.getTime()) ? { internalDate: date } : {}),
  };
}

/** Prefixes of other users' and shared namespaces (RFC 2342): not part of this mailbox. */
function foreignPrefixes(connection: ImapConnection): string[] {
  const namespaces = connection.client.namespaces;
  const prefixes: string[] = [];
  for (const list of [namespaces?.other, namespaces?.shared]) {
    for (const ns of list || []) if (ns.prefix) prefixes.push(ns.prefix);
  }
  return prefixes;
}

/** INBOX first, then by path, level by level, in code point order: stable across runs. */
function comparePaths(a: SourceFolder, b: SourceFolder): number {
  const inboxA = a.path[0]?.toUpperCase() === 'INBOX';
  const inboxB = b.path[0]?.toUpperCase() === 'INBOX';
  if (inboxA !== inboxB) return inboxA ? -1 : 1;
  const n = Math.min(a.path.length, b.path.length);
  for (let i = 0; i < n; i++) {
    const x = a.path[i] as string;
    const y = b.path[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.path.length - b.path.length;
}
