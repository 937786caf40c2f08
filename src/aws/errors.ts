import { ExportError } from '../core/errors.js';
import { KeyError, type KeyErrorReason } from '../core/key-service.js';
import {
  BucketError,
  ObjectError,
  type BucketErrorReason,
  type ObjectErrorReason,
} from '../core/object-store.js';

/**
 * Turns the SDK's errors into the project's: a `BucketError`, `ObjectError` or `KeyError` whose
 * message names the bucket, key or endpoint and says what to check, with the AWS error kept as
 * `cause`. Errors that are already the project's pass through unchanged.
 */

interface AwsErrorShape {
  readonly name?: string;
  readonly Code?: string;
  readonly code?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'TimeoutError',
  'RequestTimeout',
]);

const CREDENTIAL_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidToken',
  'CredentialsProviderError',
]);

/** The error's code as AWS names it (`NoSuchBucket`, `NotFoundException`), or a Node code. */
export function awsErrorCode(error: unknown): string {
  const shape = (error ?? {}) as AwsErrorShape;
  if (shape.code && NETWORK_CODES.has(shape.code)) return shape.code;
  if (shape.Code) return shape.Code;
  if (shape.name && shape.name !== 'Error') return shape.name;
  return shape.code ?? 'Unknown';
}

export function httpStatus(error: unknown): number | undefined {
  return ((error ?? {}) as AwsErrorShape).$metadata?.httpStatusCode;
}

export function isUnreachable(error: unknown): boolean {
  return NETWORK_CODES.has(awsErrorCode(error));
}

export function isCredentialError(error: unknown): boolean {
  return CREDENTIAL_CODES.has(awsErrorCode(error));
}

export function isAccessDenied(error: unknown): boolean {
  const code = awsErrorCode(error);
  return code === 'AccessDenied' || code === 'AccessDeniedException' || httpStatus(error) === 403;
}

/** A server that does not offer the operation at all (an S3 clone without it). */
export function isNotImplemented(error: unknown): boolean {
  const code = awsErrorCode(error);
  const status = httpStatus(error);
  return (
    code === 'NotImplemented' || code === 'MethodNotAllowed' || status === 501 || status === 405
  );
}

function detail(error: unknown): string {
  const message = ((error ?? {}) as AwsErrorShape).message;
  const code = awsErrorCode(error);
  return message && message !== code ? `${code}: ${message}` : code;
}

function unreachable(where: string, error: unknown): string {
  return (
    `Could not reach ${where}, or the connection broke (${detail(error)}): check the endpoint ` +
    'URL, that the server runs, and the network between them.'
  );
}

function credentials(where: string, error: unknown): string {
  return (
    `${where} refused the credentials (${detail(error)}): check the access key, that the ` +
    "job role's temporary credentials have not expired, and that the clock is right."
  );
}

export interface BucketContext {
  readonly bucket: string;
  readonly where: string;
  readonly operation: string;
}

export function toBucketError(error: unknown, context: BucketContext): Error {
  if (error instanceof ExportError || (error as Error)?.name === 'AbortError')
    return error as Error;
  const { bucket, where, operation } = context;
  const code = awsErrorCode(error);
  const make = (reason: BucketErrorReason, message: string) =>
    new BucketError(reason, bucket, message, { cause: error });

  if (isUnreachable(error)) return make('unreachable', unreachable(where, error));
  if (isCredentialError(error)) return make('access-denied', credentials(where, error));
  if (code === 'NoSuchBucket' || httpStatus(error) === 404) {
    return make(
      'not-found',
      `No bucket ${bucket} at ${where}: check the bucket name, the endpoint and its region.`,
    );
  }

  if (isAccessDenied(error)) {
    return make(
      'access-denied',
      `Access to bucket ${bucket} at ${where} was denied (${operation}): check that the job ` +
        `role may call ${operation} on arn:aws:s3:::${bucket} and that the bucket policy allows it.`,
    );
  }

  if (
    code === 'PermanentRedirect' ||
    code === 'AuthorizationHeaderMalformed' ||
    httpStatus(error) === 301
  ) {
    return make(
      'wrong-region',
      `The bucket ${bucket} is not in the region the request was signed for (${detail(error)}): ` +
        "use a bucket in the organization's region.",
    );
  }

  return make(
    'unreachable',
    `${operation} on bucket ${bucket} at ${where} failed: ${detail(error)}.`,
  );
}

export interface ObjectContext {
  readonly bucket: string;
  readonly key: string;
  readonly kmsKeyArn?: string;
  readonly where: string;
  readonly operation: string;
}

export function toObjectError(error: unknown, context: ObjectContext): Error {
  if (error instanceof ExportError || (error as Error)?.name === 'AbortError')
    return error as Error;
  const { bucket, key, where, operation } = context;
  const code = awsErrorCode(error);
  const make = (reason: ObjectErrorReason, message: string) =>
    new ObjectError(reason, { bucket, key }, message, { cause: error });

  if (code === 'NoSuchBucket') return toBucketError(error, context);
  if (code.startsWith('KMS.') || code === 'KMSInvalidStateException') {
    return toKeyError(error, { arn: context.kmsKeyArn ?? '', where, operation });
  }

  if (isUnreachable(error)) {
    // The object is named: a connection that breaks mid-part is not the endpoint's fault alone.
    return make(
      'unreachable',
      `${operation} of ${key} in bucket ${bucket}: ${unreachable(where, error)}`,
    );
  }

  if (isCredentialError(error)) return make('access-denied', credentials(where, error));
  if (code === 'NoSuchKey' || code === 'NotFound' || httpStatus(error) === 404) {
    return make('not-found', `No object ${key} in bucket ${bucket} at ${where}.`);
  }

  if (isAccessDenied(error)) {
    const keyHint = context.kmsKeyArn
      ? ` and kms:GenerateDataKey and kms:Decrypt on ${context.kmsKeyArn}`
      : '';
    return make(
      'access-denied',
      `Access denied for ${operation} of ${key} in bucket ${bucket} at ${where}: check that ` +
        `the job role may call ${operation} on arn:aws:s3:::${bucket}/${key}${keyHint}.`,
    );
  }

  return make(
    'write-failed',
    `${operation} of ${key} in bucket ${bucket} at ${where} failed: ${detail(error)}.`,
  );
}

export interface KeyContext {
  readonly arn: string;
  readonly where: string;
  readonly operation: string;
}

export function toKeyError(error: unknown, context: KeyContext): Error {
  if (error instanceof ExportError || (error as Error)?.name === 'AbortError')
    return error as Error;
  const { arn, where, operation } = context;
  const code = awsErrorCode(error).replace(/^KMS\./, '');
  const make = (reason: KeyErrorReason, message: string) =>
    new KeyError(reason, arn, message, { cause: error });

  if (isUnreachable(error)) return make('unreachable', unreachable(where, error));
  if (isCredentialError(error)) return make('access-denied', credentials(where, error));
  if (code === 'NotFoundException') {
    return make(
      'not-found',
      `The key ${arn} does not exist at ${where}: check the key ARN, its account and region.`,
    );
  }

  if (code === 'DisabledException') {
    return make('disabled', `The key ${arn} is disabled: enable it in KMS, or name another key.`);
  }

  if (code === 'KMSInvalidStateException') {
    return make(
      'disabled',
      `The key ${arn} cannot be used in its present state (${detail(error)}): it may be pending ` +
        'deletion or import; cancel the deletion or name another key.',
    );
  }

  if (code === 'InvalidKeyUsageException' || code === 'IncorrectKeyException') {
    return make(
      'not-symmetric',
      `The key ${arn} cannot encrypt data keys (${detail(error)}): use a symmetric encryption ` +
        'key (KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT).',
    );
  }

  if (isAccessDenied(error)) {
    return make(
      'access-denied',
      `Access to the key ${arn} was denied (${operation}): check that the job role may call ` +
        'kms:DescribeKey, kms:GenerateDataKey and kms:Decrypt on it, and that the key policy allows it.',
    );
  }

  return make('unreachable', `${operation} on key ${arn} at ${where} failed: ${detail(error)}.`);
}
