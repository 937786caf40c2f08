import { KmsKeyringNode, type KeyringNode } from '@aws-crypto/client-node';
import { KMS } from '@aws-sdk/client-kms';

import { KeyError, type KeyDescription, type KeyService } from '../core/key-service.js';
import { clientConfig, endpointName, type AwsEndpoint } from '../aws/endpoint.js';
import { toKeyError } from '../aws/errors.js';
import { parseKeyArn } from './arn.js';
import { checkKey } from './check.js';

/**
 * Keys of a KMS API endpoint (AWS KMS or a compatible server). Data keys are made and opened by
 * KMS itself (GenerateDataKey, Decrypt) through the Encryption SDK's KMS keyring; the key
 * material never leaves KMS. All calls use the endpoint's credentials: for a job, its role's.
 */
export class KmsKeyService implements KeyService {
  readonly endpoint: AwsEndpoint;
  readonly client: KMS;
  private readonly where: string;

  constructor(endpoint: AwsEndpoint) {
    this.endpoint = endpoint;
    this.client = new KMS(clientConfig(endpoint));
    this.where = endpointName(endpoint, 'kms');
  }

  /**
   * DescribeKey. A key whose ARN names another region than the endpoint's is refused before
   * the call: KMS keys live in one region, and the endpoint would answer "not found".
   */
  async describeKey(arn: string, signal?: AbortSignal): Promise<KeyDescription> {
    this.checkRegion(arn);

    let metadata;
    try {
      const answer = await this.client.describeKey(
        { KeyId: arn },
        signal ? { abortSignal: signal } : {},
      );
      metadata = answer.KeyMetadata;
    } catch (error) {
      throw toKeyError(error, { arn, where: this.where, operation: 'kms:DescribeKey' });
    }

    if (!metadata) {
      throw new KeyError('not-found', arn, `${this.where} described no key for ${arn}.`);
    }

    const keySpec = metadata.KeySpec ?? metadata.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
    const keyUsage = metadata.KeyUsage ?? 'ENCRYPT_DECRYPT';
    return {
      arn: metadata.Arn ?? arn,
      region: parseKeyArn(arn).region,
      enabled: metadata.Enabled === true && (metadata.KeyState ?? 'Enabled') === 'Enabled',
      symmetric: keySpec === 'SYMMETRIC_DEFAULT' && keyUsage === 'ENCRYPT_DECRYPT',
      ...(metadata.Description ? { description: metadata.Description } : {}),
    };
  }

  /**
   * A KMS keyring whose one key is `arn`, calling KMS through this service's client. The key is
   * described first and refused unless it is enabled and symmetric: KMS itself would refuse it
   * only at the first GenerateDataKey, and some KMS servers (moto) do not refuse it at all.
   */
  async keyring(arn: string): Promise<KeyringNode> {
    await checkKey(this, arn, this.endpoint.region);
    const client = this.client;
    const region = this.endpoint.region;
    return new KmsKeyringNode({
      generatorKeyId: arn,
      clientProvider: (asked: string) => (asked === region ? client : false),
    });
  }

  /** Closes the client's connections. */
  close(): void {
    this.client.destroy();
  }

  private checkRegion(arn: string): void {
    const parsed = parseKeyArn(arn);
    if (parsed.region !== this.endpoint.region) {
      throw new KeyError(
        'wrong-region',
        arn,
        `The key ${arn} is in region ${parsed.region}, but the key service is configured for ` +
          `${this.endpoint.region}: use a key of region ${this.endpoint.region}.`,
      );
    }
  }
}
