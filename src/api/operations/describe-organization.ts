import type { Operation } from '../context.js';
import { findOrganization, organizationArn } from './common.js';

/**
 * One organization, in any state: a deleted organization can still be described, as on AWS.
 * `DirectoryId` is made from the organization id, since the directory is the service's own.
 */
export const describeOrganization: Operation<'DescribeOrganization'> = async (input, ctx) => {
  const organization = await findOrganization(ctx, input.OrganizationId);

  return {
    OrganizationId: organization.organizationId,
    Alias: organization.alias,
    State: organization.state,
    DirectoryId: `d-${organization.organizationId.slice(2, 12)}`,
    DirectoryType: organization.directoryType,
    DefaultMailDomain: organization.defaultMailDomain,
    CompletedDate: organization.completedAt,
    ARN: organizationArn(organization),
    InteroperabilityEnabled: false,
  };
};
