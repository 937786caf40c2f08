import {
  GetBucketAclCommand,
  GetBucketLocationCommand,
  GetBucketPolicyStatusCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

import { BucketError, type BucketCheck, type BucketCheckResult } from '../core/object-store.js';
import { isAccessDenied, isNotImplemented, toBucketError } from '../aws/errors.js';

const PUBLIC_GROUPS = new Set([
  'http://acs.amazonaws.com/groups/global/AllUsers',
  'http://acs.amazonaws.com/groups/global/AuthenticatedUsers',
]);

/**
 * Checks that a bucket exists, is in the organization's region and is not public.
 *
 * Region: GetBucketLocation, whose LocationConstraint is empty (or null) for us-east-1 and may
 * be the legacy `EU` for eu-west-1 ("GetBucketLocation", Amazon S3 API Reference). A role
 * without s3:GetBucketLocation (AWS's documented WorkMail export policy lacks it) gets a warning.
 *
 * Public: GetBucketPolicyStatus, whose IsPublic accounts for the bucket policy and the public
 * access block. A server that does not implement it (it answers NotImplemented, or, as moto
 * does, an answer without IsPublic) gets a warning, not a failure, and the bucket's ACL is read
 * instead: a grant to AllUsers or AuthenticatedUsers makes it public. Such a server's bucket
 * policy is not evaluated; the warning says so.
 */
export async function checkS3Bucket(
  client: S3Client,
  check: BucketCheck,
  where: string,
  signal?: AbortSignal,
): Promise<BucketCheckResult> {
  const { bucket, region } = check;
  const options = signal ? { abortSignal: signal } : {};
  const warnings: string[] = [];

  try {
    const answer = await client.send(new GetBucketLocationCommand({ Bucket: bucket }), options);
    const location = bucketRegion(answer.LocationConstraint);
    if (location !== region) {
      throw new BucketError(
        'wrong-region',
        bucket,
        `The bucket ${bucket} at ${where} is in region ${location}, but the organization is ` +
          `in ${region}: use a bucket of region ${region}.`,
      );
    }
  } catch (error) {
    if (!isAccessDenied(error) || error instanceof BucketError) {
      throw toBucketError(error, { bucket, where, operation: 's3:GetBucketLocation' });
    }

    warnings.push(
      `The region of bucket ${bucket} was not checked: the role may not call ` +
        's3:GetBucketLocation on it.',
    );
  }

  let isPublic: boolean | undefined;
  try {
    const answer = await client.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }), options);
    isPublic = answer.PolicyStatus?.IsPublic;
  } catch (error) {
    if (!isNotImplemented(error)) {
      throw toBucketError(error, { bucket, where, operation: 's3:GetBucketPolicyStatus' });
    }
  }

  if (isPublic === undefined) {
    isPublic = await aclIsPublic(client, bucket, where, options);
    warnings.push(
      `${where} does not report whether bucket ${bucket} is public (no GetBucketPolicyStatus); ` +
        (isPublic === undefined
          ? 'its ACL could not be read either, so nothing was checked.'
          : 'its ACL was checked, its bucket policy was not.'),
    );
  }

  if (isPublic) {
    throw new BucketError(
      'public',
      bucket,
      `The bucket ${bucket} at ${where} is public: block public access on it (or remove the ` +
        'policy statements and ACL grants that open it) before exporting mailboxes into it.',
    );
  }

  return { warnings };
}

export function bucketRegion(locationConstraint: string | undefined | null): string {
  if (!locationConstraint) return 'us-east-1';
  if (locationConstraint === 'EU') return 'eu-west-1';
  return locationConstraint;
}

async function aclIsPublic(
  client: S3Client,
  bucket: string,
  where: string,
  options: { abortSignal?: AbortSignal },
): Promise<boolean | undefined> {
  try {
    const acl = await client.send(new GetBucketAclCommand({ Bucket: bucket }), options);
    return (acl.Grants ?? []).some((grant) => PUBLIC_GROUPS.has(grant.Grantee?.URI ?? ''));
  } catch (error) {
    if (isAccessDenied(error) || isNotImplemented(error)) return undefined;
    throw toBucketError(error, { bucket, where, operation: 's3:GetBucketAcl' });
  }
}
