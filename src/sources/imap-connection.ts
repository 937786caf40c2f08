import { ImapFlow, type ImapFlowOptions } from 'imapflow';

import { ExportError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { KeyedSemaphores, type Semaphore } from './semaphore.js';

/**
 * Opening IMAP connections for one mailbox: the admin login that may open another user's
 * mailbox, TLS settings, a cap on connections per server shared by every source of the
 * process, and errors that say what to check.
 */

/**
 * How the admin opens the user's mailbox.
 * - `master`: a Dovecot-style master user, logging in as `<user><separator><admin>` with the
 *   admin's password (Dovecot's `auth_master_user_separator`).
 * - `authzid`: SASL PLAIN (RFC 4616) with the admin as authentication identity and the user as
 *   authorization identity; Dovecot master users, Cyrus admins and others accept it.
 */
export type ImapAdminAuth =
  | {
      readonly kind: 'master';
      readonly admin: string;
      readonly password: string;
      readonly separator?: string;
    }
  | { readonly kind: 'authzid'; readonly admin: string; readonly password: string };

export interface ImapSourceOptions {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (port 993 style). Default true. */
  readonly secure?: boolean;
  /**
   * Without `secure`: true makes STARTTLS mandatory; false never upgrades. Unset upgrades when
   * the server offers it and otherwise stays in clear text (imapflow's default).
   */
  readonly starttls?: boolean;
  /** CA certificates (PEM) to trust besides the system's, for a private CA. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Name the certificate must carry when `host` is an address or an alias. */
  readonly servername?: string;
  /** Default true. Turning certificate checks off must be asked for, never implied. */
  readonly rejectUnauthorized?: boolean;
  /** The mailbox owner, whose mailbox is exported. */
  readonly user: string;
  readonly auth: ImapAdminAuth;
  /** Connections to this `host:port` at once, over every open source. Default 4. */
  readonly maxConnections?: number;
  /** Reconnects after a dropped connection before a read fails. Default 5. */
  readonly retries?: number;
  /** Wait before the first reconnect, doubled for each next one (at most 8 s). Default 500. */
  readonly retryDelayMs?: number;
  /** Bytes of small messages fetched in one command. Default `LIMITS.imapBatchBytes`. */
  readonly batchBytes?: number;
  /** Messages larger than this are streamed in chunks. Default `LIMITS.imapStreamThreshold`. */
  readonly streamThresholdBytes?: number;
  /** Bytes asked for per chunk of a streamed message. Default `LIMITS.imapChunkBytes`. */
  readonly chunkBytes?: number;
  /** A connection silent this long is dropped (and reconnected). Default 120000. */
  readonly socketTimeoutMs?: number;
}

/** The server refused or could not be reached; `transient` says whether trying again may help. */
export class ImapConnectError extends ExportError {
  constructor(
    message: string,
    readonly transient: boolean,
    options: { cause: unknown },
  ) {
    super('SourceUnavailable', message, options);
  }
}

const servers = new KeyedSemaphores();

/** One open connection, holding one of its server's permits until it is closed. */
export class ImapConnection {
  #permit?: Semaphore;

  constructor(
    readonly client: ImapFlow,
    permit: Semaphore,
  ) {
    this.#permit = permit;
  }

  get usable(): boolean {
    return this.#permit !== undefined && this.client.usable;
  }

  /** Logs out when the connection still works, drops it otherwise; frees the permit once. */
  async close(): Promise<void> {
    const permit = this.#permit;
    if (!permit) return;
    this.#permit = undefined;
    try {
      if (this.client.usable) await this.client.logout();
    } catch {
      // The connection is going away either way.
    } finally {
      this.client.close();
      permit.release();
    }
  }

  /** Drops the connection at once, for an abort or a broken connection. */
  drop(): void {
    const permit = this.#permit;
    if (!permit) return;
    this.#permit = undefined;
    this.client.close();
    permit.release();
  }
}

export class ImapConnector {
  readonly server: string;
  readonly #slot: { semaphore: Semaphore; drop(): void };

  constructor(readonly options: ImapSourceOptions) {
    this.server = `${options.host}:${options.port}`;
    this.#slot = servers.hold(this.server, options.maxConnections ?? 4);
  }

  /** The name the server sees at login: the master-user login name, or the admin. */
  get loginName(): string {
    const { auth, user } = this.options;
    return auth.kind === 'master' ? `${user}${auth.separator ?? '*'}${auth.admin}` : auth.admin;
  }

  async open(signal: AbortSignal): Promise<ImapConnection> {
    const permit = this.#slot.semaphore;
    await permit.acquire(signal);
    const client = new ImapFlow(this.#clientOptions());
    // ImapFlow emits 'error' for socket faults; an EventEmitter without a listener would
    // turn each into an uncaught exception. The failing command reports the fault itself.
    client.on('error', () => undefined);
    const onAbort = () => client.close();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await client.connect();
    } catch (error) {
      client.close();
      permit.release();
      signal.throwIfAborted();
      throw this.#explain(error);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    return new ImapConnection(client, permit);
  }

  /** Frees this source's hold on the per-server cap. */
  dispose(): void {
    this.#slot.drop();
  }

  #clientOptions(): ImapFlowOptions {
    const o = this.options;
    const auth =
      o.auth.kind === 'master'
        ? { user: this.loginName, pass: o.auth.password }
        : {
            user: o.auth.admin,
            pass: o.auth.password,
            authzid: o.user,
            loginMethod: 'AUTH=PLAIN',
          };
    return {
      host: o.host,
      port: o.port,
      secure: o.secure ?? true,
      doSTARTTLS: o.secure === false ? o.starttls : undefined,
      servername: o.servername,
      auth,
      tls: {
        ca: o.ca as string | Buffer | Array<string | Buffer> | undefined,
        rejectUnauthorized: o.rejectUnauthorized ?? true,
      },
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: 30_000,
      greetingTimeout: 16_000,
      socketTimeout: o.socketTimeoutMs ?? 120_000,
      maxLiteralSize: LIMITS.imapLiteralBytes,
      maxLineLength: LIMITS.imapLineBytes,
      maxResponseSize: LIMITS.imapLiteralBytes + LIMITS.imapLineBytes,
      clientInfo: { name: 'mailbox-export' },
    };
  }

  #explain(error: unknown): ImapConnectError {
    const e = error as { code?: string; authenticationFailed?: boolean; responseText?: string };
    const at = `${this.server}`;
    const name = this.options.servername ?? this.options.host;
    if (e.authenticationFailed) {
      const said = e.responseText ? ` (server said: ${e.responseText})` : '';
      const how =
        this.options.auth.kind === 'master'
          ? 'that the master user may log in as other users'
          : 'that the admin may act for other users through SASL PLAIN authorization';
      return new ImapConnectError(
        `IMAP login as ${this.#who()} on ${at} was refused${said}: check the admin password, ` +
          `${how}, and that the user ${this.options.user} exists`,
        false,
        { cause: error },
      );
    }

    switch (e.code) {
      case 'ECONNREFUSED':
        return this.#fault(
          `nothing accepts connections on ${at}`,
          'the host, the port and that the IMAP server runs',
          true,
          error,
        );
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return this.#fault(
          `the host name ${this.options.host} does not resolve`,
          'the host name',
          e.code === 'EAI_AGAIN',
          error,
        );
      case 'ETIMEDOUT':
      case 'CONNECT_TIMEOUT':
      case 'GREETING_TIMEOUT':
      case 'ECONNRESET':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
      case 'ClosedAfterConnectText':
      case 'ClosedAfterConnectTLS':
        return this.#fault(
          `${at} did not answer as an IMAP server (${e.code})`,
          'the host, the port, a firewall between, and whether the port wants TLS (secure)',
          true,
          error,
        );
      case 'ERR_TLS_CERT_ALTNAME_INVALID':
        return this.#fault(
          `the TLS certificate of ${at} is not valid for the name ${name}`,
          `the host name: connect by a name the certificate carries${certificateNames(error)}`,
          false,
          error,
        );
      case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      case 'SELF_SIGNED_CERT_IN_CHAIN':
      case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
        return this.#fault(
          `the TLS certificate of ${at} is not signed by a trusted authority`,
          "the certificate chain, or give the certificate of the CA that signed it (the mail server's caFile)",
          false,
          error,
        );
      case 'CERT_HAS_EXPIRED':
      case 'CERT_NOT_YET_VALID':
        return this.#fault(
          `the TLS certificate of ${at} is out of its validity period`,
          'the server certificate and the clocks',
          false,
          error,
        );
      case 'EPROTO':
      case 'ERR_SSL_WRONG_VERSION_NUMBER':
        return this.#fault(
          `the TLS handshake with ${at} failed`,
          'whether the port speaks TLS from its first byte (secure: true, usually 993) ' +
            'or plain IMAP with STARTTLS (secure: false, usually 143)',
          false,
          error,
        );
      default:
        return this.#fault(
          `the IMAP connection to ${at} failed (${e.code ?? messageText(error)})`,
          'the host, the port and the TLS settings',
          true,
          error,
        );
    }
  }

  #fault(what: string, check: string, transient: boolean, cause: unknown): ImapConnectError {
    return new ImapConnectError(
      `IMAP connection for ${this.#who()} failed: ${what}: check ${check}`,
      transient,
      { cause },
    );
  }

  #who(): string {
    return this.options.auth.kind === 'master'
      ? this.loginName
      : `${this.options.auth.admin} (for ${this.options.user})`;
  }
}

/** The names a certificate carries (its subjectAltName), as ` (DNS:a, DNS:b)`, when known. */
function certificateNames(error: unknown): string {
  const names = (error as { cert?: { subjectaltname?: unknown } }).cert?.subjectaltname;
  return typeof names === 'string' && names !== '' ? ` (${names.slice(0, 200)})` : '';
}

function messageText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
