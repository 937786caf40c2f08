import type { Operation } from '../context.js';
import { activeOrganization, DEFAULT_PAGE_SIZE } from './common.js';

/** How far back a listing reaches: WorkMail lists the jobs of the last seven days. */
const LISTING_DAYS = 7;

/**
 * The organization's recent jobs, newest first. Items carry only the summary members of the
 * model's `MailboxExportJob` (no role, key, prefix or error text); the serializer drops any
 * other member.
 */
export const listMailboxExportJobs: Operation<'ListMailboxExportJobs'> = async (input, ctx) => {
  await activeOrganization(ctx, input.OrganizationId);

  const since = new Date(ctx.now().getTime() - LISTING_DAYS * 86_400_000);
  const page = await ctx.store.listJobs(input.OrganizationId, since, {
    maxResults: input.MaxResults ?? DEFAULT_PAGE_SIZE,
    nextToken: input.NextToken,
  });

  return {
    Jobs: page.jobs.map((job) => ({
      JobId: job.jobId,
      EntityId: job.entityId,
      Description: job.description,
      S3BucketName: job.s3BucketName,
      S3Path: job.s3Path,
      EstimatedProgress: job.estimatedProgress,
      State: job.state,
      StartTime: job.startTime,
      EndTime: job.endTime,
    })),
    NextToken: page.nextToken,
  };
};
