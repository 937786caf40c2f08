import { randomUUID } from 'node:crypto';

import type { OperationContext } from '../api/context.js';
import { DEFAULT_MAILBOX_QUOTA_MB } from '../api/context.js';
import { OPERATIONS, type OperationName } from '../api/generated/operations.js';
import type { OperationInputs, OperationOutputs } from '../api/generated/types.js';
import { OPERATION_HANDLERS } from '../api/operations/index.js';
import { validateInput } from '../api/validate.js';
import { openApp, type App, type OpenAppOptions } from '../app/app.js';
import { loadConfig } from '../config/config.js';
import { pino } from 'pino';

import { createLogger } from '../core/log.js';
import type { MailboxBinding, Organization, User } from '../core/model.js';
import type { GlobalOptions } from './main.js';
import { UsageError } from './usage-error.js';

/**
 * What the commands share: the app opened from the configuration, and the directory
 * operations of the API called in-process, so that the CLI and the API make organizations and
 * users the same way and check their input against the same model.
 */

export async function withApp<T>(
  globals: GlobalOptions,
  run: (app: App) => Promise<T>,
  options: OpenAppOptions = {},
): Promise<T> {
  const config = loadConfig(globals.config, globals.dataDir ? { dataDir: globals.dataDir } : {});
  // Commands print their own results on stdout and their failures as one line on stderr; the
  // log (stderr) shows only faults of the service unless LOG_LEVEL asks for more.
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'error' }, pino.destination(2));
  const app = await openApp(config, { logger, ...options });
  try {
    return await run(app);
  } finally {
    await app.close();
  }
}

export async function callOperation<N extends OperationName>(
  app: App,
  name: N,
  input: OperationInputs[N],
  binding: MailboxBinding = app.defaultBinding,
): Promise<OperationOutputs[N]> {
  const key = app.accessKeys[0];
  const ctx: OperationContext = {
    store: app.store,
    engine: app.engine,
    mailboxes: app.mailboxes,
    caller: {
      accessKeyId: key?.accessKeyId ?? 'cli',
      accountId: key?.accountId ?? app.config.accountId,
      region: app.config.region,
    },
    requestId: randomUUID(),
    directory: { binding, mailboxQuotaMb: DEFAULT_MAILBOX_QUOTA_MB },
    now: () => new Date(),
  };
  const checked = validateInput(OPERATIONS[name].input, input) as OperationInputs[N];
  const handler = OPERATION_HANDLERS[name] as (
    input: OperationInputs[N],
    ctx: OperationContext,
  ) => Promise<OperationOutputs[N]>;
  return handler(checked, ctx);
}

/** An organization by id or alias. */
export async function findOrganization(app: App, idOrAlias: string): Promise<Organization> {
  const organization =
    (await app.store.getOrganization(idOrAlias)) ??
    (await app.store.findOrganizationByAlias(idOrAlias));
  if (!organization || organization.state === 'Deleted') {
    throw new UsageError(
      `No organization ${idOrAlias}: give an organization id or alias that \`setup\` made.`,
    );
  }
  return organization;
}

/** A user by id, name or e-mail address. */
export async function findUser(app: App, organization: Organization, who: string): Promise<User> {
  const user = await app.store.findUser(organization.organizationId, who);
  if (!user || user.state === 'DELETED') {
    throw new UsageError(
      `No user ${who} in organization ${organization.alias}: give a user id, name or address.`,
    );
  }
  return user;
}
