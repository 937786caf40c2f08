import type { Readable } from 'node:stream';

import { ExportError } from './errors.js';

/**
 * Where exports are written: a directory per bucket on disk by default, any S3 API otherwise.
 * Objects are whole or absent: `put` either completes or leaves nothing behind (an aborted
 * multipart upload, a removed temporary file).
 */

export interface PutObjectRequest {
  readonly bucket: string;
  readonly key: string;
  readonly body: Readable;
  /** The key that protects the object at rest (SSE-KMS on S3, envelope encryption locally). */
  readonly kmsKeyArn: string;
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

export interface PutObjectResult {
  /** Bytes stored as the caller sent them (before any encryption). */
  readonly bytes: number;
  readonly etag?: string;
}

export interface ObjectInfo {
  readonly bytes: number;
  readonly kmsKeyArn?: string;
}

export interface BucketCheck {
  readonly bucket: string;
  /** The organization's region: the bucket must be in it. */
  readonly region: string;
}

/**
 * What a bucket check could not prove. A server that lacks an API the check relies on (an S3
 * clone without GetBucketPolicyStatus) gets a warning, not a failure; the caller decides
 * whether to log it.
 */
export interface BucketCheckResult {
  readonly warnings: readonly string[];
}

export interface ObjectStore {
  /**
   * Fails with a `BucketError` unless the bucket exists, is not public, and is in the region.
   * Called before any data is written, so that a misconfigured job fails at once.
   */
  checkBucket(check: BucketCheck, signal?: AbortSignal): Promise<BucketCheckResult | void>;
  put(request: PutObjectRequest): Promise<PutObjectResult>;
  /** Reads an object back, decrypted: what the caller once sent to `put`. */
  get(bucket: string, key: string, signal?: AbortSignal): Promise<Readable>;
  head(bucket: string, key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined>;
  /**
   * Removes an object; succeeds when there is none. The export calls it to take back a zip
   * whose export log could not be stored, so that a failed job leaves nothing behind.
   */
  delete(bucket: string, key: string, signal?: AbortSignal): Promise<void>;
  /** Keys under a prefix, for tests and for the `get` command; not used by the export. */
  list(bucket: string, prefix: string, signal?: AbortSignal): Promise<string[]>;
}

/** Why a bucket cannot receive an export. */
export type BucketErrorReason =
  'invalid-name' | 'not-found' | 'public' | 'wrong-region' | 'access-denied' | 'unreachable';

/**
 * A bucket that is missing, public, in another region or out of reach. `code` is the export
 * error code (`BucketInvalid`, `AccessDenied`, or `WriteFailed` for an unreachable endpoint).
 */
export class BucketError extends ExportError {
  readonly reason: BucketErrorReason;
  readonly bucket: string;

  constructor(
    reason: BucketErrorReason,
    bucket: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(bucketErrorCode(reason), message, options);
    this.name = 'BucketError';
    this.reason = reason;
    this.bucket = bucket;
  }
}

function bucketErrorCode(
  reason: BucketErrorReason,
): 'AccessDenied' | 'WriteFailed' | 'BucketInvalid' {
  if (reason === 'access-denied') return 'AccessDenied';
  if (reason === 'unreachable') return 'WriteFailed';
  return 'BucketInvalid';
}

/** Why reading or writing one object failed. */
export type ObjectErrorReason =
  | 'invalid-key'
  | 'not-found'
  | 'access-denied'
  | 'unreachable'
  | 'not-encrypted'
  | 'undecryptable'
  | 'write-failed';

/**
 * A put, get or head that failed for one object. `code` is `AccessDenied` when the caller may
 * not do it, `WriteFailed` otherwise; the message names the bucket, key and endpoint.
 */
export class ObjectError extends ExportError {
  readonly reason: ObjectErrorReason;
  readonly bucket: string;
  readonly key: string;

  constructor(
    reason: ObjectErrorReason,
    target: { readonly bucket: string; readonly key: string },
    message: string,
    options?: { cause?: unknown },
  ) {
    super(reason === 'access-denied' ? 'AccessDenied' : 'WriteFailed', message, options);
    this.name = 'ObjectError';
    this.reason = reason;
    this.bucket = target.bucket;
    this.key = target.key;
  }
}
