import type { Readable } from 'node:stream';

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

export interface ObjectStore {
  /**
   * Fails with a `BucketError` unless the bucket exists, is not public, and is in the region.
   * Called before any data is written, so that a misconfigured job fails at once.
   */
  checkBucket(check: BucketCheck, signal?: AbortSignal): Promise<void>;
  put(request: PutObjectRequest): Promise<PutObjectResult>;
  /** Reads an object back, decrypted: what the caller once sent to `put`. */
  get(bucket: string, key: string, signal?: AbortSignal): Promise<Readable>;
  head(bucket: string, key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined>;
  /** Keys under a prefix, for tests and for the `get` command; not used by the export. */
  list(bucket: string, prefix: string, signal?: AbortSignal): Promise<string[]>;
}
