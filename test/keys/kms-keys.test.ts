import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import type { KMS } from '@aws-sdk/client-kms';

import { KeyError, type KeyErrorReason } from '../../src/core/key-service.js';
import { checkKey } from '../../src/keys/check.js';
import { KmsKeyService } from '../../src/keys/kms-keys.js';
import { freePort, MOTO_ACCOUNT, startMoto, type Moto } from '../helpers/moto.js';
import { REGION, createKey, kmsClient, motoEndpoint } from '../objectstore/fixtures/s3-moto.js';

/** moto's DisableKey and ScheduleKeyDeletion take the key id, not the ARN. */
function keyIdOf(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

function keyError(reason: KeyErrorReason, message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof KeyError, String(error));
    assert.equal(error.reason, reason);
    assert.equal(error.code, reason === 'access-denied' ? 'AccessDenied' : 'KeyInvalid');
    assert.match(error.message, message);
    return true;
  };
}

describe('KmsKeyService against moto', () => {
  let moto: Moto;
  let kms: KMS;
  let keys: KmsKeyService;

  before(async () => {
    moto = await startMoto();
    kms = kmsClient(moto.endpoint);
    keys = new KmsKeyService(motoEndpoint(moto.endpoint));
  });

  after(async () => {
    keys?.close();
    kms?.destroy();
    await moto?.stop();
  });

  it('describes an enabled symmetric key and passes the check', async () => {
    const arn = await createKey(kms, { Description: 'mail exports' });
    assert.deepEqual(await keys.describeKey(arn), {
      arn,
      region: REGION,
      enabled: true,
      symmetric: true,
      description: 'mail exports',
    });
    assert.equal((await checkKey(keys, arn, REGION)).arn, arn);
  });

  it('refuses a disabled key', async () => {
    const arn = await createKey(kms);
    await kms.disableKey({ KeyId: keyIdOf(arn) });
    await assert.rejects(checkKey(keys, arn, REGION), keyError('disabled', /is disabled/));
  });

  it('refuses a key pending deletion', async () => {
    const arn = await createKey(kms);
    await kms.scheduleKeyDeletion({ KeyId: keyIdOf(arn), PendingWindowInDays: 7 });
    await assert.rejects(checkKey(keys, arn, REGION), keyError('disabled', /is disabled/));
  });

  it('refuses a missing key, naming it', async () => {
    const arn = `arn:aws:kms:${REGION}:${MOTO_ACCOUNT}:key/${randomUUID()}`;
    await assert.rejects(
      checkKey(keys, arn, REGION),
      keyError('not-found', new RegExp(`The key ${arn} does not exist at http://127\\.0\\.0\\.1`)),
    );
  });

  it('refuses asymmetric keys', async () => {
    const rsa = await createKey(kms, { KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    await assert.rejects(
      checkKey(keys, rsa, REGION),
      keyError('not-symmetric', /is not a symmetric encryption key/),
    );
    const signing = await createKey(kms, { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    await assert.rejects(
      checkKey(keys, signing, REGION),
      keyError('not-symmetric', /SYMMETRIC_DEFAULT and KeyUsage ENCRYPT_DECRYPT/),
    );
  });

  it("refuses a key of another region than the organization's", async () => {
    const arn = await createKey(kms);
    await assert.rejects(
      checkKey(keys, arn, 'us-west-2'),
      keyError('wrong-region', /organization is in us-west-2/),
    );
  });

  it("refuses a key of another region than the key service's, before calling it", async () => {
    const arn = `arn:aws:kms:us-west-2:${MOTO_ACCOUNT}:key/${randomUUID()}`;
    await assert.rejects(
      keys.describeKey(arn),
      keyError('wrong-region', /key service is configured for eu-west-1/),
    );
    await assert.rejects(keys.keyring(arn), keyError('wrong-region', /us-west-2/));
  });

  it('says an endpoint that does not answer is unreachable', async () => {
    const port = await freePort();
    const nowhere = new KmsKeyService(motoEndpoint(`http://127.0.0.1:${port}`, { maxAttempts: 1 }));
    try {
      const arn = `arn:aws:kms:${REGION}:${MOTO_ACCOUNT}:key/${randomUUID()}`;
      await assert.rejects(
        nowhere.describeKey(arn),
        keyError(
          'unreachable',
          /Could not reach http:\/\/127\.0\.0\.1:\d+, or the connection broke \(ECONNREFUSED/,
        ),
      );
    } finally {
      nowhere.close();
    }
  });
});
