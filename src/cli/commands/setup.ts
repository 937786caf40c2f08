import type { App } from '../../app/app.js';
import type { MailboxBinding, Organization, User } from '../../core/model.js';
import type { GlobalOptions } from '../main.js';
import { callOperation, withApp } from '../app-context.js';
import { UsageError } from '../usage-error.js';

export interface SetupOptions extends GlobalOptions {
  org: string;
  user: string;
  bucket: string;
  /** A configured mail server for a new organization's mailboxes, instead of the default. */
  mailServer?: string;
  json?: boolean;
}

export interface SetupResult {
  readonly organization: Organization;
  readonly user: User;
  /** The embedded key; absent when keys come from a KMS API. */
  readonly kmsKeyArn?: string;
  readonly bucket: string;
  readonly roleArn: string;
}

/**
 * Makes what an export needs, each only if missing: the organization (by alias), the user with
 * a mailbox and an address, an embedded key and an embedded bucket. Running it again changes
 * nothing, so scripts may call it before every import.
 */
export async function setUp(app: App, options: SetupOptions): Promise<SetupResult> {
  let organization = await app.store.findOrganizationByAlias(options.org);
  if (!organization) {
    const binding = options.mailServer ? bindingTo(app, options.mailServer) : app.defaultBinding;
    const { OrganizationId } = await callOperation(
      app,
      'CreateOrganization',
      { Alias: options.org },
      binding,
    );
    organization = await app.store.getOrganization(OrganizationId!);
  }
  if (!organization) throw new Error(`The organization ${options.org} vanished as it was made.`);

  let user = await app.store.findUser(organization.organizationId, options.user);
  if (!user) {
    const { UserId } = await callOperation(app, 'CreateUser', {
      OrganizationId: organization.organizationId,
      Name: options.user,
      DisplayName: options.user,
    });
    user = await app.store.getUser(organization.organizationId, UserId!);
  }
  if (!user) throw new Error(`The user ${options.user} vanished as it was made.`);

  if (user.state !== 'ENABLED') {
    await callOperation(app, 'RegisterToWorkMail', {
      OrganizationId: organization.organizationId,
      EntityId: user.userId,
      Email: `${user.name}@${organization.defaultMailDomain}`.toLowerCase(),
    });
    user = (await app.store.getUser(organization.organizationId, user.userId)) ?? user;
  }

  // Keys and buckets are made here only on the embedded defaults; a KMS or S3 API has its own.
  const kmsKeyArn = app.config.kms ? undefined : await embeddedKey(app, organization);
  if (!app.config.s3) {
    await app.buckets.createBucket(options.bucket, { region: organization.region });
  }

  return {
    organization,
    user,
    ...(kmsKeyArn ? { kmsKeyArn } : {}),
    bucket: options.bucket,
    roleArn: defaultRoleArn(organization.accountId),
  };
}

/** The first enabled embedded key of the organization's region, made if there is none. */
async function embeddedKey(app: App, organization: Organization): Promise<string> {
  const keys = (await app.localKeys.listKeys()).filter(
    (key) => key.enabled && key.region === organization.region,
  );
  const key =
    keys[0] ??
    (await app.localKeys.createKey({
      region: organization.region,
      accountId: organization.accountId,
      description: 'mailbox-export exports',
    }));
  return key.arn;
}

function bindingTo(app: App, name: string): MailboxBinding {
  if (!app.config.mailServers.some((server) => server.name === name)) {
    const known = app.config.mailServers.map((server) => server.name).join(', ') || 'none';
    throw new UsageError(`No mail server ${name} in the configuration (configured: ${known}).`);
  }
  return { kind: 'remote', imap: name };
}

/** The role named in embedded exports when the caller names none; nothing assumes it. */
export function defaultRoleArn(accountId: string): string {
  return `arn:aws:iam::${accountId}:role/mailbox-export`;
}

export async function runSetup(options: SetupOptions): Promise<void> {
  const result = await withApp(options, (app) => setUp(app, options), { recover: false });
  if (options.json) {
    process.stdout.write(`${JSON.stringify(setupSummary(result))}\n`);
    return;
  }
  for (const [name, value] of Object.entries(setupSummary(result))) {
    process.stdout.write(`${name.padEnd(16)} ${value}\n`);
  }
}

export function setupSummary(result: SetupResult): Record<string, string> {
  return {
    organizationId: result.organization.organizationId,
    alias: result.organization.alias,
    userId: result.user.userId,
    email: result.user.email ?? '',
    kmsKeyArn: result.kmsKeyArn ?? '(keys come from the configured KMS API)',
    bucket: result.bucket,
    roleArn: result.roleArn,
  };
}
