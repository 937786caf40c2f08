import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import { withCredentials } from '../../src/aws/endpoint.js';
import {
  assumeJobRole,
  jobRoleProvider,
  sessionNameFor,
  type AssumeJobRoleRequest,
} from '../../src/aws/role.js';
import { ExportError } from '../../src/core/errors.js';
import { BucketError } from '../../src/core/object-store.js';
import { checkKey } from '../../src/keys/check.js';
import { KmsKeyService } from '../../src/keys/kms-keys.js';
import { S3ObjectStore } from '../../src/objectstore/s3-store.js';
import { accessKeyOf, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { freePort, MOTO_ACCOUNT, startMoto, type Moto } from '../helpers/moto.js';
import {
  REGION,
  createKey,
  freshBucket,
  kmsClient,
  motoEndpoint,
  readAll,
} from '../objectstore/fixtures/s3-moto.js';
import {
  createJobRole,
  createServiceUser,
  enforceAccess,
  roleArnOf,
  type ServiceUser,
} from './fixtures/moto-iam.js';

const EXTERNAL_ID = 'org-0123456789abcdef';

function refused(message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ExportError, String(error));
    assert.equal(error.code, 'AccessDenied');
    assert.match(error.message, message);
    return true;
  };
}

/**
 * The job's role through moto's STS, with moto checking signatures and IAM policies: the
 * service user may only assume the role; the role may only export into one bucket under one
 * key. So an S3 or KMS call that works proves it was made with the role's credentials.
 */
describe('the job role through STS on moto', () => {
  let moto: Moto;
  let service: ServiceUser;
  let roleArn: string;
  let bucket: string;
  let keyArn: string;

  before(async () => {
    moto = await startMoto();
    bucket = await freshBucket(moto.endpoint);
    const kms = kmsClient(moto.endpoint);
    keyArn = await createKey(kms);
    kms.destroy();
    service = await createServiceUser(moto.endpoint, 'mailbox-export', [
      roleArnOf('export-role'),
      roleArnOf('strict-role'),
    ]);
    roleArn = await createJobRole(moto.endpoint, 'export-role', {
      principal: service.arn,
      externalId: EXTERNAL_ID,
      bucket,
    });
    await enforceAccess(moto.endpoint);
  });

  after(async () => {
    await moto?.stop();
  });

  function request(overrides: Partial<AssumeJobRoleRequest> = {}): AssumeJobRoleRequest {
    return {
      roleArn,
      jobId: 'job-0001',
      region: REGION,
      endpoint: moto.endpoint,
      credentials: { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
      externalId: EXTERNAL_ID,
      ...overrides,
    };
  }

  it('gives temporary credentials whose session is named after the job', async () => {
    const jobId = 'a1b2c3d4-e5f6-4789-abcd-ef0123456789';
    const credentials = await assumeJobRole(request({ jobId }));
    assert.equal(credentials.sessionName, `mailbox-export-${jobId}`);
    assert.equal(
      credentials.assumedRoleArn,
      `arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/export-role/mailbox-export-${jobId}`,
    );
    assert.match(credentials.accessKeyId, /^ASIA/);
    assert.notEqual(credentials.accessKeyId, service.accessKeyId);
    assert.ok(credentials.sessionToken.length > 0);
    assert.ok(credentials.expiration.getTime() > Date.now() + 30 * 60_000);
  });

  it('names the session within STS limits whatever the job id', async () => {
    const jobId = `job id/${'x'.repeat(80)}`;
    const credentials = await assumeJobRole(request({ jobId }));
    assert.equal(credentials.sessionName.length, 64);
    assert.equal(credentials.sessionName, sessionNameFor(jobId));
    assert.match(credentials.sessionName, /^mailbox-export-job-id-x+$/);
  });

  describe('S3 and KMS with the role', () => {
    let proxy: FaultProxy;

    before(async () => {
      // A pass-through proxy that records which credentials signed each call.
      proxy = await startFaultProxy(moto.endpoint);
    });

    after(async () => {
      await proxy?.close();
    });

    it('checks the bucket and key, puts under SSE-KMS and reads back', async () => {
      const role = jobRoleProvider(request({ endpoint: proxy.endpoint }));
      const endpoint = withCredentials(motoEndpoint(proxy.endpoint), role);
      const keys = new KmsKeyService(endpoint);
      const store = new S3ObjectStore(endpoint);
      try {
        assert.equal((await checkKey(keys, keyArn, REGION)).arn, keyArn);
        await store.checkBucket({ bucket, region: REGION });
        const body = Buffer.from('exported with the role\n');
        await store.put({
          bucket,
          key: 'role/a.txt',
          body: Readable.from([body]),
          kmsKeyArn: keyArn,
        });
        assert.deepEqual(await readAll(await store.get(bucket, 'role/a.txt')), body);
        const head = await store.head(bucket, 'role/a.txt');
        assert.ok(head?.kmsKeyArn && keyArn.endsWith(head.kmsKeyArn.replace(/^.*key\//, '')));
      } finally {
        keys.close();
        store.close();
      }

      const assumes = proxy.requests.filter((r) => r.headers['content-type']?.includes('form'));
      const calls = proxy.requests.filter((r) => !assumes.includes(r));
      assert.equal(assumes.length, 1, 'the provider did not keep its credentials');
      assert.ok(calls.length >= 6, `only ${calls.length} S3 and KMS calls`);
      for (const call of calls) {
        assert.match(accessKeyOf(call) ?? '', /^ASIA/, `${call.method} ${call.path}`);
        assert.ok(call.headers['x-amz-security-token'], `${call.method} ${call.path}`);
      }
    });
  });

  it("refuses the service's own credentials for S3: the role is what grants access", async () => {
    const store = new S3ObjectStore(
      motoEndpoint(moto.endpoint, {
        credentials: { accessKeyId: service.accessKeyId, secretAccessKey: service.secretAccessKey },
      }),
    );
    try {
      await assert.rejects(store.checkBucket({ bucket, region: REGION }), (error: unknown) => {
        assert.ok(error instanceof BucketError, String(error));
        assert.equal(error.reason, 'access-denied');
        return true;
      });
    } finally {
      store.close();
    }
  });

  it('refuses another role than the job role with a clear error', async () => {
    const other = roleArnOf('no-such-role');
    await assert.rejects(
      assumeJobRole(request({ roleArn: other })),
      refused(new RegExp(`refused to let this service assume ${other} \\(AccessDenied\\)`)),
    );
  });

  it('refuses a wrong external id, pointing at the trust policy', async () => {
    await assert.rejects(
      assumeJobRole(request({ externalId: 'org-other' })),
      refused(
        /trust policy names this service's principal and requires the configured external id/,
      ),
    );
  });

  it('says that source conditions cannot be met by a self-hosted service', async () => {
    await assert.rejects(
      assumeJobRole(request({ externalId: 'org-other', sourceAccount: '111122223333' })),
      refused(/replace them with an sts:ExternalId condition/),
    );
  });

  it('says an STS endpoint that does not answer cannot be reached', async () => {
    const port = await freePort();
    await assert.rejects(assumeJobRole(request({ endpoint: `http://127.0.0.1:${port}` })), (e) => {
      assert.ok(e instanceof ExportError, String(e));
      assert.match(e.message, /Could not reach http:\/\/127\.0\.0\.1:\d+ to assume .*ECONNREFUSED/);
      return true;
    });
  });
});
