import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import { PutBucketAclCommand, type S3Client } from '@aws-sdk/client-s3';
import type { KMS } from '@aws-sdk/client-kms';

import { BucketError, ObjectError } from '../../src/core/object-store.js';
import { S3ObjectStore } from '../../src/objectstore/s3-store.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import {
  REGION,
  assertNothingLeft,
  createKey,
  distinctBytes,
  freshBucket,
  headObject,
  inspector,
  kmsClient,
  motoEndpoint,
  readAll,
  sha384,
} from './fixtures/s3-moto.js';

const MiB = 1024 * 1024;

describe('S3ObjectStore against moto', () => {
  let moto: Moto;
  let s3: S3Client;
  let kms: KMS;
  let store: S3ObjectStore;
  let keyArn: string;

  before(async () => {
    moto = await startMoto();
    s3 = inspector(moto.endpoint);
    kms = kmsClient(moto.endpoint);
    keyArn = await createKey(kms, { Description: 'export key' });
    store = new S3ObjectStore({ ...motoEndpoint(moto.endpoint), partSize: 5 * MiB });
  });

  after(async () => {
    store?.close();
    s3?.destroy();
    kms?.destroy();
    await moto?.stop();
  });

  it('puts 20 MB in 5 MiB parts under SSE-KMS and gets the same bytes back', async () => {
    const bucket = await freshBucket(moto.endpoint);
    const bytes = distinctBytes(20 * 1000 * 1000, randomBytes(64 * 1024));

    const result = await store.put({
      bucket,
      key: 'exports/big.zip',
      body: Readable.from(chunksOf(bytes, 64 * 1024)),
      kmsKeyArn: keyArn,
      contentType: 'application/zip',
    });
    assert.equal(result.bytes, bytes.length);
    // A multipart object's ETag is "<md5 of the part md5s>-<parts>": 20 MB in 5 MiB is 4.
    assert.match(result.etag ?? '', /-4"?$/);

    const head = await headObject(s3, bucket, 'exports/big.zip');
    assert.equal(head.ServerSideEncryption, 'aws:kms');
    assert.ok(
      head.SSEKMSKeyId === keyArn || keyArn.endsWith(`/${head.SSEKMSKeyId}`),
      `stored under ${head.SSEKMSKeyId}, not ${keyArn}`,
    );
    assert.equal(head.ContentLength, bytes.length);
    assert.equal(head.ContentType, 'application/zip');

    const back = await readAll(await store.get(bucket, 'exports/big.zip'));
    assert.equal(back.length, bytes.length);
    assert.equal(sha384(back), sha384(bytes));

    assert.deepEqual(await store.head(bucket, 'exports/big.zip'), {
      bytes: bytes.length,
      kmsKeyArn: head.SSEKMSKeyId,
    });
    assert.equal(await store.head(bucket, 'exports/absent.zip'), undefined);
    assert.deepEqual(await store.list(bucket, 'exports/'), ['exports/big.zip']);
  });

  it('puts a small object in one request', async () => {
    const bucket = await freshBucket(moto.endpoint);
    const result = await store.put({
      bucket,
      key: 'log.json',
      body: Readable.from([Buffer.from('{"a":"1"}\n')]),
      kmsKeyArn: keyArn,
    });
    assert.equal(result.bytes, 10);
    assert.equal((await headObject(s3, bucket, 'log.json')).ServerSideEncryption, 'aws:kms');
    assert.equal((await readAll(await store.get(bucket, 'log.json'))).toString(), '{"a":"1"}\n');
  });

  it('deletes an object, and takes a missing one as deleted', async () => {
    const bucket = await freshBucket(moto.endpoint);
    const body = Readable.from([Buffer.from('x')]);
    await store.put({ bucket, key: 'gone.zip', body, kmsKeyArn: keyArn });
    await store.delete(bucket, 'gone.zip');
    assert.equal(await store.head(bucket, 'gone.zip'), undefined);
    await store.delete(bucket, 'gone.zip');
    await assert.rejects(store.delete('mbx-no-such-bucket', 'a.zip'), BucketError);
  });

  it('passes a private bucket of the region, warning that moto lacks GetBucketPolicyStatus', async () => {
    const bucket = await freshBucket(moto.endpoint);
    const result = await store.checkBucket({ bucket, region: REGION });
    // moto answers GetBucketPolicyStatus without IsPublic; the ACL is read instead.
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0] ?? '', /does not report whether bucket .* is public/);
    assert.match(result.warnings[0] ?? '', /its ACL was checked, its bucket policy was not/);
  });

  it('refuses a bucket of another region, naming both regions', async () => {
    const bucket = await freshBucket(moto.endpoint, 'us-west-2');
    await assert.rejects(store.checkBucket({ bucket, region: REGION }), (error: unknown) => {
      assert.ok(error instanceof BucketError);
      assert.equal(error.reason, 'wrong-region');
      assert.equal(error.code, 'BucketInvalid');
      assert.match(error.message, new RegExp(`${bucket} .* is in region us-west-2`));
      assert.match(error.message, /organization is in eu-west-1/);
      return true;
    });
  });

  it('takes us-east-1 for a bucket without a location constraint', async () => {
    const bucket = await freshBucket(moto.endpoint, 'us-east-1');
    await assert.rejects(store.checkBucket({ bucket, region: REGION }), /in region us-east-1/);
  });

  it('refuses a bucket whose ACL grants everyone read', async () => {
    const bucket = await freshBucket(moto.endpoint);
    await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }));
    await assert.rejects(store.checkBucket({ bucket, region: REGION }), (error: unknown) => {
      assert.ok(error instanceof BucketError);
      assert.equal(error.reason, 'public');
      assert.match(error.message, /is public: block public access/);
      return true;
    });
  });

  it('refuses a missing bucket', async () => {
    await assert.rejects(
      store.checkBucket({ bucket: 'mbx-no-such-bucket', region: REGION }),
      (error: unknown) => {
        assert.ok(error instanceof BucketError);
        assert.equal(error.reason, 'not-found');
        assert.match(error.message, /No bucket mbx-no-such-bucket at http:\/\/127\.0\.0\.1:\d+/);
        return true;
      },
    );
  });

  it('fails a put into a missing bucket and says which', async () => {
    await assert.rejects(
      store.put({
        bucket: 'mbx-no-such-bucket',
        key: 'a.zip',
        body: Readable.from([Buffer.from('x')]),
        kmsKeyArn: keyArn,
      }),
      (error: unknown) => {
        assert.ok(error instanceof BucketError, String(error));
        assert.equal(error.reason, 'not-found');
        return true;
      },
    );
  });

  describe('behind a server that ignores SSE-KMS', () => {
    let proxy: FaultProxy;
    let ignoring: S3ObjectStore;

    before(async () => {
      // The proxy drops the SSE headers, so moto stores the object unencrypted, as a server
      // without KMS support would.
      proxy = await startFaultProxy(moto.endpoint, {
        stripHeaders: [
          'x-amz-server-side-encryption',
          'x-amz-server-side-encryption-aws-kms-key-id',
        ],
      });
      ignoring = new S3ObjectStore({ ...motoEndpoint(proxy.endpoint), partSize: 5 * MiB });
    });

    after(async () => {
      ignoring?.close();
      await proxy?.close();
    });

    it('fails the put with not-encrypted and deletes the object', async () => {
      const bucket = await freshBucket(moto.endpoint);
      await assert.rejects(
        ignoring.put({
          bucket,
          key: 'plain.zip',
          body: Readable.from([randomBytes(6 * MiB)]),
          kmsKeyArn: keyArn,
        }),
        (error: unknown) => {
          assert.ok(error instanceof ObjectError, String(error));
          assert.equal(error.reason, 'not-encrypted');
          assert.match(error.message, /with no server-side encryption, not SSE-KMS under/);
          assert.match(error.message, /it was deleted/);
          assert.match(error.message, /set clientSideEncryption for this endpoint/);
          return true;
        },
      );
      assert.ok(
        proxy.requests.some((r) => r.partNumber === 2),
        'the put was not multipart',
      );
      await assertNothingLeft(s3, bucket);
    });
  });
});

function* chunksOf(bytes: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) {
    yield bytes.subarray(offset, offset + size);
  }
}
