import { ApiError } from '../../core/errors.js';
import type { Organization } from '../../core/model.js';
import type { Operation } from '../context.js';
import { activeOrganization, findUser } from './common.js';

/**
 * Gives a user a mailbox and a primary address, and enables it. The address must be in one
 * of the organization's domains: its default mail domain or `<alias>.awsapps.com`. A retry
 * with the same address succeeds again; a user already registered under another address
 * is refused.
 */
export const registerToWorkMail: Operation<'RegisterToWorkMail'> = async (input, ctx) => {
  const organization = await activeOrganization(ctx, input.OrganizationId);
  const user = await findUser(ctx, organization, input.EntityId);
  const email = input.Email.toLowerCase();

  if (user.state === 'DELETED') {
    throw new ApiError('EntityStateException', `User ${user.userId} is deleted.`);
  }
  if (user.state === 'ENABLED') {
    if (user.email?.toLowerCase() === email) return {};
    throw new ApiError(
      'EntityAlreadyRegisteredException',
      `User ${user.userId} is already registered as ${user.email ?? 'another address'}.`,
    );
  }

  const domain = email.slice(email.lastIndexOf('@') + 1);
  if (!domainsOf(organization).includes(domain)) {
    throw new ApiError(
      'MailDomainNotFoundException',
      `${domain} is not a mail domain of organization ${organization.organizationId}; use ` +
        `${domainsOf(organization).join(' or ')}.`,
    );
  }
  const holder = await ctx.store.findUser(organization.organizationId, email);
  if (holder !== undefined && holder.userId !== user.userId) {
    throw new ApiError(
      'EmailAddressInUseException',
      `${email} is already used by ${holder.userId} in organization ` +
        `${organization.organizationId}.`,
    );
  }

  await ctx.mailboxes.create(organization, user);
  await ctx.store.updateUser({ ...user, email, state: 'ENABLED', enabledAt: ctx.now() });
  return {};
};

function domainsOf(organization: Organization): string[] {
  const own = `${organization.alias.toLowerCase()}.awsapps.com`;
  const domain = organization.defaultMailDomain.toLowerCase();
  return domain === own ? [own] : [domain, own];
}
