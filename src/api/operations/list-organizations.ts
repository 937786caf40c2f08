import type { Operation } from '../context.js';
import { pageOf } from './common.js';

/** The caller's account's organizations, deleted ones included, in creation order. */
export const listOrganizations: Operation<'ListOrganizations'> = async (input, ctx) => {
  const organizations = (await ctx.store.listOrganizations()).filter(
    (organization) => organization.accountId === ctx.caller.accountId,
  );
  const { page, nextToken } = pageOf(
    organizations,
    (organization) => ({
      createdMs: organization.createdAt.getTime(),
      id: organization.organizationId,
    }),
    input,
  );

  return {
    OrganizationSummaries: page.map((organization) => ({
      OrganizationId: organization.organizationId,
      Alias: organization.alias,
      DefaultMailDomain: organization.defaultMailDomain,
      State: organization.state,
    })),
    NextToken: nextToken,
  };
};
