import { KeyError } from '../core/key-service.js';

/** The parts of a KMS key ARN, `arn:<partition>:kms:<region>:<account>:key/<id>`. */
export interface KeyArn {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  readonly keyId: string;
}

// Aliases (`alias/...`) are refused on purpose: an export names the key itself, so that a
// re-pointed alias cannot silently change which key protects it.
const KEY_ARN =
  /^arn:(aws[a-z-]*):kms:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):key\/([A-Za-z0-9-]{1,64})$/;

export function parseKeyArn(arn: string): KeyArn {
  const match = KEY_ARN.exec(arn);
  if (!match) {
    throw new KeyError(
      'invalid-arn',
      arn,
      `"${arn.slice(0, 200)}" is not a KMS key ARN: expected ` +
        'arn:aws:kms:<region>:<12-digit account>:key/<key id> (aliases are not accepted)',
    );
  }

  const [, partition, region, accountId, keyId] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  return { partition, region, accountId, keyId };
}

export function formatKeyArn(parts: KeyArn): string {
  return `arn:${parts.partition}:kms:${parts.region}:${parts.accountId}:key/${parts.keyId}`;
}
