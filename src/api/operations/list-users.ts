import type { User } from '../../core/model.js';
import type { Operation } from '../context.js';
import type { ListUsersFilters } from '../generated/types.js';
import { activeOrganization, pageOf } from './common.js';

/**
 * The organization's users in creation order, narrowed by the filters. Prefixes match
 * whatever the case. Users have no identity-provider id here, so that filter matches none.
 */
export const listUsers: Operation<'ListUsers'> = async (input, ctx) => {
  await activeOrganization(ctx, input.OrganizationId);

  const users = (await ctx.store.listUsers(input.OrganizationId)).filter((user) =>
    matches(user, input.Filters),
  );
  const { page, nextToken } = pageOf(
    users,
    (user) => ({ createdMs: user.createdAt.getTime(), id: user.userId }),
    input,
  );

  return {
    Users: page.map((user) => ({
      Id: user.userId,
      Email: user.email,
      Name: user.name,
      DisplayName: user.displayName,
      State: user.state,
      UserRole: user.role,
      EnabledDate: user.enabledAt,
      DisabledDate: user.disabledAt,
    })),
    NextToken: nextToken,
  };
};

function startsWith(value: string | undefined, prefix: string | undefined): boolean {
  if (prefix === undefined) return true;
  return value !== undefined && value.toLowerCase().startsWith(prefix.toLowerCase());
}

function matches(user: User, filters: ListUsersFilters | undefined): boolean {
  if (filters === undefined) return true;
  return (
    startsWith(user.name, filters.UsernamePrefix) &&
    startsWith(user.displayName, filters.DisplayNamePrefix) &&
    startsWith(user.email, filters.PrimaryEmailPrefix) &&
    (filters.State === undefined || user.state === filters.State) &&
    filters.IdentityProviderUserIdPrefix === undefined
  );
}
