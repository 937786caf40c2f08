import { ApiError } from '../../core/errors.js';
import type { Operation } from '../context.js';
import { findOrganization } from './common.js';

/**
 * Deletes an organization: its running export jobs are cancelled and it goes straight to
 * `Deleted`. Its users and jobs stay in the store (describable, not usable), whatever
 * `DeleteDirectory` says, since the directory is the service's own. Deleting a deleted
 * organization answers the same again, so that a retry is harmless.
 */
export const deleteOrganization: Operation<'DeleteOrganization'> = async (input, ctx) => {
  const organization = await findOrganization(ctx, input.OrganizationId);
  const answer = { OrganizationId: organization.organizationId, State: 'Deleted' };
  if (organization.state === 'Deleted') return answer;
  if (organization.state !== 'Active') {
    throw new ApiError(
      'OrganizationStateException',
      `Organization ${organization.organizationId} is ${organization.state}; it can be ` +
        'deleted once Active.',
    );
  }

  await cancelRunningJobs(ctx, organization.organizationId);
  await ctx.store.setOrganizationState(organization.organizationId, 'Deleted');
  return answer;
};

async function cancelRunningJobs(
  ctx: Parameters<Operation<'DeleteOrganization'>>[1],
  organizationId: string,
): Promise<void> {
  // All jobs, not only the seven days a listing shows: a large export may run longer.
  let nextToken: string | undefined;
  do {
    const page = await ctx.store.listJobs(organizationId, new Date(0), {
      maxResults: 100,
      nextToken,
    });
    for (const job of page.jobs) {
      if (job.state === 'RUNNING') await ctx.engine.cancel(organizationId, job.jobId);
    }
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
}
