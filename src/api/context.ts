import type { JobEngine } from '../core/engine.js';
import type { JobStore } from '../core/job-store.js';
import type { MailboxBinding, Organization, User } from '../core/model.js';
import type { OperationName } from './generated/operations.js';
import type { OperationInputs, OperationOutputs } from './generated/types.js';

/**
 * What every operation handler receives besides its validated input. Handlers hold no state
 * of their own: the directory and the jobs live in the store, running work in the engine,
 * mailboxes behind the hooks.
 */

/** The mail store's side of the directory operations, supplied by whoever runs the server. */
export interface MailboxHooks {
  /**
   * Gives a user who is being registered a mailbox. Called again when a registration is
   * retried, so it must succeed when the mailbox already exists.
   */
  create(organization: Organization, user: User): Promise<void>;
  /** The mailbox's current size in MB, as `GetMailboxDetails` reports it. */
  sizeMb(organization: Organization, user: User): Promise<number>;
}

/** Who signed the request, from the SigV4 check. */
export interface Caller {
  readonly accessKeyId: string;
  /** The access key's account, or the server's. Organizations belong to an account. */
  readonly accountId: string;
  /** The region of the request's credential scope. */
  readonly region: string;
}

/** Defaults for what `CreateOrganization` and `CreateUser` make. */
export interface DirectoryDefaults {
  /** Where a new organization's mailboxes live. */
  readonly binding: MailboxBinding;
  /** Quota of a new user's mailbox, in MB. */
  readonly mailboxQuotaMb: number;
}

export interface OperationContext {
  readonly store: JobStore;
  readonly engine: JobEngine;
  readonly mailboxes: MailboxHooks;
  readonly caller: Caller;
  readonly requestId: string;
  readonly directory: DirectoryDefaults;
  readonly now: () => Date;
}

/** Every operation has this signature; `operations/index.ts` maps names to handlers. */
export type Operation<N extends OperationName> = (
  input: OperationInputs[N],
  ctx: OperationContext,
) => Promise<OperationOutputs[N]>;

/** WorkMail's default mailbox quota: 50 GB. */
export const DEFAULT_MAILBOX_QUOTA_MB = 51_200;
