import type { MailboxObject } from 'imapflow';

import { ExportError } from '../core/errors.js';
import type { SourceFolder } from '../core/source.js';
import { ImapConnectError, type ImapConnection } from './imap-connection.js';

/** Where a folder session gets its connections from and gives them back to. */
export interface ConnectionLender {
  lease(signal: AbortSignal): Promise<ImapConnection>;
  giveBack(connection: ImapConnection): void;
  readonly server: string;
  readonly retries: number;
  readonly retryDelayMs: number;
}

/**
 * The folder is gone: SELECT answered that it does not exist. Its items were deleted after the
 * cut, so each is reported as vanished.
 */
export class FolderMissingError extends Error {
  constructor(folder: string, options: { cause: unknown }) {
    super(`folder ${folder} no longer exists`, options);
    this.name = 'FolderMissingError';
  }
}

/**
 * One folder, selected read-only (EXAMINE, so nothing read changes \Seen or \Recent) on one
 * connection. An operation that fails because the connection dropped is run again on a new
 * connection, after the folder is selected again and its UIDVALIDITY checked: ids listed under
 * another UIDVALIDITY name other messages (RFC 3501 section 2.3.1.1).
 */
export class FolderSession {
  #connection?: ImapConnection;
  #validity?: string;
  readonly #label: string;

  constructor(
    private readonly lender: ConnectionLender,
    private readonly folder: SourceFolder,
    private readonly serverPath: string,
    private readonly signal: AbortSignal,
  ) {
    this.#validity = folder.validity;
    this.#label = JSON.stringify(folder.path.join('/'));
    // A command waiting on the server ends only when its connection does.
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  readonly #onAbort = () => this.#discard();

  get label(): string {
    return this.#label;
  }

  /** The mailbox as the last SELECT saw it. */
  mailbox?: MailboxObject;

  /** Runs `op` with the folder selected, reconnecting after a dropped connection. */
  async run<T>(op: (connection: ImapConnection) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      this.signal.throwIfAborted();
      try {
        return await op(await this.#selected());
      } catch (error) {
        this.signal.throwIfAborted();
        const current = this.#connection;
        const dropped =
          error instanceof ImapConnectError
            ? error.transient
            : current !== undefined && !current.client.usable;
        if (!dropped) throw error;
        this.#discard();
        if (attempt >= this.lender.retries) {
          throw new ExportError(
            'SourceUnavailable',
            `lost the IMAP connection to ${this.lender.server} while reading folder ` +
              `${this.#label} and ${this.lender.retries} reconnects failed: ` +
              `${(error as Error).message}`,
            { cause: error },
          );
        }
        await retryPause(attempt, this.lender.retryDelayMs, this.signal);
      }
    }
  }

  /** Gives the connection back for the next folder. */
  release(): void {
    this.signal.removeEventListener('abort', this.#onAbort);
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) this.lender.giveBack(connection);
  }

  #discard(): void {
    this.#connection?.drop();
    this.#connection = undefined;
  }

  async #selected(): Promise<ImapConnection> {
    if (this.#connection?.usable) return this.#connection;
    this.#discard();
    const connection = await this.lender.lease(this.signal);
    this.#connection = connection;
    let mailbox: MailboxObject | undefined;
    try {
      mailbox = await connection.client.mailboxOpen(this.serverPath, { readOnly: true });
    } catch (error) {
      if ((error as { mailboxMissing?: boolean }).mailboxMissing) {
        throw new FolderMissingError(this.#label, { cause: error });
      }
      throw error;
    }
    // imapflow answers a SELECT cut short by the connection closing with nothing at all, before
    // the connection itself is known to be closed: that is a dropped connection too.
    if (!mailbox) {
      const message = `the connection to ${this.lender.server} closed while folder ${this.#label} was selected`;
      throw new ImapConnectError(message, true, { cause: new Error('SELECT gave no answer') });
    }

    const validity = mailbox.uidValidity.toString();
    if (this.#validity !== undefined && this.#validity !== validity) {
      throw new ExportError(
        'SourceUnavailable',
        `the UIDVALIDITY of folder ${this.#label} on ${this.lender.server} changed from ` +
          `${this.#validity} to ${validity} during the export: the folder was recreated or its ` +
          'ids were reset, so the messages listed at the start can no longer be told apart. ' +
          'Export the mailbox again.',
        { cause: new Error(`UIDVALIDITY ${this.#validity} -> ${validity}`) },
      );
    }
    this.#validity = validity;
    this.mailbox = mailbox;
    return connection;
  }
}

/** The wait before reconnect number `attempt` (from 0): doubling, at most 8 s. */
export function retryPause(attempt: number, firstMs: number, signal: AbortSignal): Promise<void> {
  const ms = Math.min(8000, firstMs * 2 ** attempt);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
