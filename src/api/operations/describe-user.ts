import type { Operation } from '../context.js';
import { activeOrganization, findUser } from './common.js';

/** One user, found by id, name or e-mail address. */
export const describeUser: Operation<'DescribeUser'> = async (input, ctx) => {
  const organization = await activeOrganization(ctx, input.OrganizationId);
  const user = await findUser(ctx, organization, input.UserId);

  return {
    UserId: user.userId,
    Name: user.name,
    Email: user.email,
    DisplayName: user.displayName,
    State: user.state,
    UserRole: user.role,
    EnabledDate: user.enabledAt,
    DisabledDate: user.disabledAt,
    // Registering is what gives a user a mailbox, so the two dates are one here.
    MailboxProvisionedDate: user.email === undefined ? undefined : user.enabledAt,
  };
};
