import { randomBytes } from 'node:crypto';

import { ApiError } from '../../core/errors.js';
import type { Organization } from '../../core/model.js';
import type { Operation } from '../context.js';

/** WorkMail's kind of directory for organizations that keep their own users. */
const DIRECTORY_TYPE = 'VpcDirectory';

/**
 * Creates an organization in the caller's account and region. It is Active at once: there is
 * no directory to set up, and the CLI and tests use it straight away.
 *
 * - The alias is unique across the service, whatever its case, and stays taken after the
 *   organization is deleted (it names the default mail domain `<alias>.awsapps.com`).
 * - `Domains` may name one domain, which becomes the default mail domain; the
 *   `<alias>.awsapps.com` domain is accepted for addresses too. More than one is refused:
 *   the directory keeps one domain per organization.
 * - `DirectoryId` (an existing AWS Directory Service directory) cannot be served.
 * - `KmsKeyArn` (the key of mailbox contents at rest) and `EnableInteroperability` are
 *   accepted and have no effect: mailboxes live in the mail store, which encrypts as it is
 *   set up to.
 * - `ClientToken` is not remembered: a retried create answers NameAvailabilityException.
 */
export const createOrganization: Operation<'CreateOrganization'> = async (input, ctx) => {
  if (input.DirectoryId !== undefined) {
    throw new ApiError(
      'DirectoryUnavailableException',
      `Directory ${input.DirectoryId} cannot be used: this service keeps its own directory; ` +
        'leave DirectoryId out.',
    );
  }
  const domains = input.Domains ?? [];
  if (domains.length > 1) {
    throw new ApiError(
      'InvalidParameterException',
      'Domains may name at most one domain: an organization here has one mail domain.',
    );
  }

  const alias = input.Alias;
  const defaultMailDomain = (domains[0]?.DomainName ?? `${alias}.awsapps.com`).toLowerCase();
  await checkAvailable(ctx.store.listOrganizations(), alias, defaultMailDomain);

  const now = ctx.now();
  const organization: Organization = {
    organizationId: `m-${randomBytes(16).toString('hex')}`,
    alias,
    state: 'Active',
    region: ctx.caller.region,
    accountId: ctx.caller.accountId,
    defaultMailDomain,
    directoryType: DIRECTORY_TYPE,
    binding: ctx.directory.binding,
    createdAt: now,
    completedAt: now,
  };

  try {
    await ctx.store.createOrganization(organization);
  } catch (error) {
    // Two creates of one alias can race past the check; the store's uniqueness decides.
    await checkAvailable(ctx.store.listOrganizations(), alias, defaultMailDomain);
    throw error;
  }
  return { OrganizationId: organization.organizationId };
};

async function checkAvailable(
  existing: Promise<Organization[]>,
  alias: string,
  domain: string,
): Promise<void> {
  for (const organization of await existing) {
    if (organization.alias.toLowerCase() === alias.toLowerCase()) {
      throw new ApiError('NameAvailabilityException', `The alias ${alias} is already taken.`);
    }
    if (organization.defaultMailDomain === domain) {
      throw new ApiError(
        'NameAvailabilityException',
        `The domain ${domain} already belongs to organization ${organization.organizationId}.`,
      );
    }
  }
}
