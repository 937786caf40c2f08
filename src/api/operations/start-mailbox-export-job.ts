import type { Operation } from '../context.js';
import { activeOrganization } from './common.js';

/**
 * Starts an export of one mailbox. The engine resolves the entity, applies the limits and the
 * client token's replay rule, and throws the WorkMail error for each refusal.
 */
export const startMailboxExportJob: Operation<'StartMailboxExportJob'> = async (input, ctx) => {
  await activeOrganization(ctx, input.OrganizationId);

  const job = await ctx.engine.start({
    organizationId: input.OrganizationId,
    entityId: input.EntityId,
    description: input.Description,
    roleArn: input.RoleArn,
    kmsKeyArn: input.KmsKeyArn,
    s3BucketName: input.S3BucketName,
    s3Prefix: input.S3Prefix,
    clientToken: input.ClientToken,
  });
  return { JobId: job.jobId };
};
