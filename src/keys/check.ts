import { KeyError, type KeyDescription, type KeyService } from '../core/key-service.js';

/**
 * Fails with a `KeyError` unless the key exists, is enabled, is a symmetric encryption key and
 * lives in `region` (the organization's). Called before a job writes anything, so that a wrong
 * key fails the job at once instead of after the first part of the upload.
 */
export async function checkKey(
  keys: KeyService,
  arn: string,
  region: string,
  signal?: AbortSignal,
): Promise<KeyDescription> {
  const key = await keys.describeKey(arn, signal);
  if (key.region !== region) {
    throw new KeyError(
      'wrong-region',
      arn,
      `The key ${arn} is in region ${key.region}, but the organization is in ${region}: ` +
        `use a key of region ${region}.`,
    );
  }

  if (!key.enabled) {
    throw new KeyError(
      'disabled',
      arn,
      `The key ${arn} is disabled: enable it, or name another key.`,
    );
  }

  if (!key.symmetric) {
    throw new KeyError(
      'not-symmetric',
      arn,
      `The key ${arn} is not a symmetric encryption key: use one with KeySpec ` +
        'SYMMETRIC_DEFAULT and KeyUsage ENCRYPT_DECRYPT.',
    );
  }

  return key;
}
