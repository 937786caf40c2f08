import { ApiError } from '../../core/errors.js';
import type { Operation } from '../context.js';
import { activeOrganization, findUser } from './common.js';

/** The mailbox's quota and current size, both in MB. A user without a mailbox is not found. */
export const getMailboxDetails: Operation<'GetMailboxDetails'> = async (input, ctx) => {
  const organization = await activeOrganization(ctx, input.OrganizationId);
  const user = await findUser(ctx, organization, input.UserId);
  if (user.state !== 'ENABLED') {
    throw new ApiError(
      'EntityNotFoundException',
      `User ${user.userId} has no mailbox: register it to WorkMail first.`,
    );
  }

  return {
    MailboxQuota: user.mailboxQuotaMb,
    MailboxSize: await ctx.mailboxes.sizeMb(organization, user),
  };
};
