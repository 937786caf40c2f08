import type { App } from '../../app/app.js';
import type { Organization, User } from '../../core/model.js';
import type { GlobalOptions } from '../main.js';
import { callOperation, withApp } from '../app-context.js';

export interface SetupOptions extends GlobalOptions {
  org: string;
  user: string;
  bucket: string;
  json?: boolean;
}

export interface SetupResult {
  readonly organization: Organization;
  readonly user: User;
  readonly kmsKeyArn: string;
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
    const { OrganizationId } = await callOperation(app, 'CreateOrganization', {
      Alias: options.org,
    });
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
  await app.buckets.createBucket(options.bucket, { region: organization.region });

  return {
    organization,
    user,
    kmsKeyArn: key.arn,
    bucket: options.bucket,
    roleArn: defaultRoleArn(organization.accountId),
  };
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
    kmsKeyArn: result.kmsKeyArn,
    bucket: result.bucket,
    roleArn: result.roleArn,
  };
}
