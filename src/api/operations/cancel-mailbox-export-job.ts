import type { Operation } from '../context.js';
import { activeOrganization, findJob } from './common.js';

/**
 * Cancels a job. Cancelling a job that already ended succeeds and changes nothing (the
 * engine's rule), so a retried cancel is harmless; an unknown job is an error.
 */
export const cancelMailboxExportJob: Operation<'CancelMailboxExportJob'> = async (input, ctx) => {
  const organization = await activeOrganization(ctx, input.OrganizationId);
  await findJob(ctx, organization, input.JobId);

  await ctx.engine.cancel(input.OrganizationId, input.JobId);
  return {};
};
