import { createHash } from 'node:crypto';

import type { StartJobRequest } from '../core/engine.js';

/** Where one job's objects go. */
export interface JobKeys {
  readonly zipKey: string;
  readonly logKey: string;
  /** What `DescribeMailboxExportJob` shows as `S3Path`. */
  readonly s3Path: string;
}

export interface JobTarget {
  readonly jobId: string;
  readonly s3BucketName: string;
  readonly s3Prefix: string;
}

/** Gives a job's keys; must be a pure function, since a resumed job asks for them again. */
export type KeyRule = (target: JobTarget) => JobKeys;

/** S3 object keys are at most 1024 bytes of UTF-8 (S3 User Guide, "Naming objects"). */
export const S3_KEY_MAX_BYTES = 1024;

/**
 * The default rule: `<prefix>/<jobId>.zip` and `<prefix>/<jobId>.export-log.json`, with
 * `S3Path` = `s3://<bucket>/<zip key>`. A slash is added only when the prefix does not end in
 * one, so that each key begins with the prefix exactly as given: the role's key policy allows
 * `arn:aws:s3:::<bucket>/<prefix>*` and nothing else.
 */
export const defaultKeyRule: KeyRule = (target) => {
  const base = target.s3Prefix.endsWith('/') ? target.s3Prefix : `${target.s3Prefix}/`;
  const zipKey = `${base}${target.jobId}.zip`;
  return {
    zipKey,
    logKey: `${base}${target.jobId}.export-log.json`,
    s3Path: `s3://${target.s3BucketName}/${zipKey}`,
  };
};

/** The first key longer than S3 allows, if any. */
export function tooLongKey(keys: JobKeys): string | undefined {
  return [keys.zipKey, keys.logKey].find((key) => Buffer.byteLength(key) > S3_KEY_MAX_BYTES);
}

/**
 * A stable hash of every parameter of a start request except `ClientToken`, to tell a replay
 * (same parameters) from a reuse of the token for another job. A missing description and an
 * empty one are the same request.
 */
export function requestFingerprint(request: StartJobRequest): string {
  const parameters = [
    request.organizationId,
    request.entityId,
    request.description ?? '',
    request.roleArn,
    request.kmsKeyArn,
    request.s3BucketName,
    request.s3Prefix,
  ];
  return createHash('sha256').update(JSON.stringify(parameters)).digest('hex');
}
