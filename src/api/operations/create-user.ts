import { randomUUID } from 'node:crypto';

import { ApiError } from '../../core/errors.js';
import type { User } from '../../core/model.js';
import type { Operation } from '../context.js';
import { activeOrganization } from './common.js';

/**
 * Creates a user, `DISABLED` until `RegisterToWorkMail` gives it a mailbox. The name is unique
 * in the organization whatever its case. The password, names and identity-provider id are
 * checked against the model and not kept: the export reads mailboxes with the mail store's
 * administrator login, never as the user.
 */
export const createUser: Operation<'CreateUser'> = async (input, ctx) => {
  const organization = await activeOrganization(ctx, input.OrganizationId);
  await checkAvailable(ctx, input.OrganizationId, input.Name);

  const user: User = {
    userId: randomUUID(),
    organizationId: organization.organizationId,
    name: input.Name,
    displayName: input.DisplayName,
    state: 'DISABLED',
    role: input.Role ?? 'USER',
    createdAt: ctx.now(),
    mailboxQuotaMb: ctx.directory.mailboxQuotaMb,
  };

  try {
    await ctx.store.createUser(user);
  } catch (error) {
    // Two creates of one name can race past the check; the store's uniqueness decides.
    await checkAvailable(ctx, input.OrganizationId, input.Name);
    throw error;
  }
  return { UserId: user.userId };
};

async function checkAvailable(
  ctx: Parameters<Operation<'CreateUser'>>[1],
  organizationId: string,
  name: string,
): Promise<void> {
  if ((await ctx.store.findUser(organizationId, name)) !== undefined) {
    throw new ApiError(
      'NameAvailabilityException',
      `The name ${name} is already taken in organization ${organizationId}.`,
    );
  }
}
