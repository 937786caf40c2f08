import type { Operation } from '../context.js';
import { activeOrganization, findJob } from './common.js';

/** The model's bound on `ErrorInfo`; a longer text from the engine is cut to fit. */
const ERROR_INFO_CHARS = 1024;

/** One job in full. WorkMail's answer has no `JobId`: the caller already knows it. */
export const describeMailboxExportJob: Operation<'DescribeMailboxExportJob'> = async (
  input,
  ctx,
) => {
  const organization = await activeOrganization(ctx, input.OrganizationId);
  const job = await findJob(ctx, organization, input.JobId);

  return {
    EntityId: job.entityId,
    Description: job.description,
    RoleArn: job.roleArn,
    KmsKeyArn: job.kmsKeyArn,
    S3BucketName: job.s3BucketName,
    S3Prefix: job.s3Prefix,
    S3Path: job.s3Path,
    EstimatedProgress: job.estimatedProgress,
    State: job.state,
    ErrorInfo: job.errorInfo === undefined ? undefined : job.errorInfo.slice(0, ERROR_INFO_CHARS),
    StartTime: job.startTime,
    EndTime: job.endTime,
  };
};
