import type { KeyringNode } from '@aws-crypto/client-node';

import { ExportError } from './errors.js';

/**
 * Keys that protect exports, named by KMS-style ARNs
 * (`arn:aws:kms:<region>:<account>:key/<id>`). The embedded service keeps key material on disk
 * sealed by a master key; the KMS backend asks any KMS API endpoint.
 */

export interface KeyDescription {
  readonly arn: string;
  readonly region: string;
  readonly enabled: boolean;
  /** Only symmetric encryption keys may protect an export. */
  readonly symmetric: boolean;
  readonly description?: string;
}

export interface KeyService {
  /** Fails with a `KeyError` if the key does not exist; never returns key material. */
  describeKey(arn: string, signal?: AbortSignal): Promise<KeyDescription>;
  /**
   * A keyring of the AWS Encryption SDK for envelope encryption under this key: data keys are
   * made and unwrapped by the key service, objects are sealed with them.
   */
  keyring(arn: string): Promise<KeyringNode>;
}

/** Why a key cannot protect an export. */
export type KeyErrorReason =
  | 'invalid-arn'
  | 'not-found'
  | 'disabled'
  | 'not-symmetric'
  | 'wrong-region'
  | 'access-denied'
  | 'unreachable';

/**
 * A key that is missing, unusable or out of reach. Its `code` is the export error code the job
 * reports (`KeyInvalid`, or `AccessDenied` when the caller may not use the key); `reason` tells
 * which check failed, and the message says what to fix.
 */
export class KeyError extends ExportError {
  readonly reason: KeyErrorReason;
  readonly arn: string;

  constructor(reason: KeyErrorReason, arn: string, message: string, options?: { cause?: unknown }) {
    super(reason === 'access-denied' ? 'AccessDenied' : 'KeyInvalid', message, options);
    this.name = 'KeyError';
    this.reason = reason;
    this.arn = arn;
  }
}
