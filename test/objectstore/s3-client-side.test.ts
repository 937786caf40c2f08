import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { KMS } from '@aws-sdk/client-kms';

import { KeyError } from '../../src/core/key-service.js';
import { ObjectError } from '../../src/core/object-store.js';
import { KmsKeyService } from '../../src/keys/kms-keys.js';
import { S3ObjectStore, type S3ObjectStoreOptions } from '../../src/objectstore/s3-store.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { MOTO_ACCOUNT, startMoto, type Moto } from '../helpers/moto.js';
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
  rawObject,
  readAll,
  sha384,
} from './fixtures/s3-moto.js';

const MiB = 1024 * 1024;
const MARKER = Buffer.from('PLAINTEXT-MARKER-');

/** Text that shows up in the stored bytes if they are not encrypted. */
function plaintext(bytes: number): Buffer {
  const out = distinctBytes(bytes, randomBytes(64 * 1024));
  for (let offset = 1024; offset + MARKER.length < bytes; offset += 256 * 1024) {
    MARKER.copy(out, offset);
  }
  return out;
}

/**
 * Client-side envelope encryption: the store seals each object with the Encryption SDK under a
 * data key from moto's KMS before it leaves the process, for servers that ignore SSE-KMS.
 */
describe('S3ObjectStore with client-side encryption', () => {
  let moto: Moto;
  let s3: S3Client;
  let kms: KMS;
  let keys: KmsKeyService;
  let keyArn: string;
  let ignoring: FaultProxy;
  const stores: S3ObjectStore[] = [];

  function storeAt(endpoint: string, extra: Partial<S3ObjectStoreOptions> = {}): S3ObjectStore {
    const store = new S3ObjectStore({
      ...motoEndpoint(endpoint),
      partSize: 5 * MiB,
      clientSideEncryption: true,
      keyService: keys,
      ...extra,
    });
    stores.push(store);
    return store;
  }

  before(async () => {
    moto = await startMoto();
    s3 = inspector(moto.endpoint);
    kms = kmsClient(moto.endpoint);
    keys = new KmsKeyService(motoEndpoint(moto.endpoint));
    keyArn = await createKey(kms);
    // A server that ignores SSE-KMS: the proxy drops the headers before moto sees them.
    ignoring = await startFaultProxy(moto.endpoint, {
      stripHeaders: ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id'],
    });
  });

  after(async () => {
    for (const store of stores) store.close();
    keys?.close();
    kms?.destroy();
    s3?.destroy();
    await ignoring?.close();
    await moto?.stop();
  });

  it('seals a multipart object that the server stores unencrypted, and opens it', async () => {
    const bucket = await freshBucket(moto.endpoint);
    const store = storeAt(ignoring.endpoint);
    const bytes = plaintext(12 * MiB);
    const result = await store.put({
      bucket,
      key: 'sealed.zip',
      body: Readable.from([bytes]),
      kmsKeyArn: keyArn,
    });
    assert.equal(result.bytes, bytes.length);

    const head = await headObject(s3, bucket, 'sealed.zip');
    assert.equal(head.ServerSideEncryption, undefined, 'the proxy let SSE through');
    const raw = await rawObject(s3, bucket, 'sealed.zip');
    assert.ok(raw.length > bytes.length, 'the stored object is not larger than the plaintext');
    assert.equal(raw.indexOf(MARKER), -1, 'the stored bytes hold plaintext');
    assert.notEqual(sha384(raw), sha384(bytes));

    const opened = await readAll(await store.get(bucket, 'sealed.zip'));
    assert.equal(sha384(opened), sha384(bytes));
    assert.deepEqual(await store.head(bucket, 'sealed.zip'), {
      bytes: bytes.length,
      kmsKeyArn: keyArn,
    });
  });

  it('seals without asking for SSE at all, when so configured', async () => {
    const bucket = await freshBucket(moto.endpoint);
    const store = storeAt(moto.endpoint, { requestServerSideEncryption: false });
    const bytes = plaintext(300 * 1024);
    await store.put({ bucket, key: 'small.json', body: Readable.from([bytes]), kmsKeyArn: keyArn });

    assert.equal((await headObject(s3, bucket, 'small.json')).ServerSideEncryption, undefined);
    assert.equal((await rawObject(s3, bucket, 'small.json')).indexOf(MARKER), -1);
    assert.deepEqual(await readAll(await store.get(bucket, 'small.json')), bytes);
  });

  it('will not open a sealed object without a key service', async () => {
    const bucket = await freshBucket(moto.endpoint);
    await storeAt(moto.endpoint).put({
      bucket,
      key: 'a.zip',
      body: Readable.from([plaintext(1000)]),
      kmsKeyArn: keyArn,
    });
    const plain = new S3ObjectStore(motoEndpoint(moto.endpoint));
    stores.push(plain);
    await assert.rejects(plain.get(bucket, 'a.zip'), (error: unknown) => {
      assert.ok(error instanceof ObjectError);
      assert.equal(error.reason, 'undecryptable');
      assert.match(error.message, new RegExp(`sealed on the client under ${keyArn}`));
      return true;
    });
  });

  it('refuses a sealed object whose stored bytes were changed', async () => {
    const bucket = await freshBucket(moto.endpoint);
    const store = storeAt(moto.endpoint);
    await store.put({
      bucket,
      key: 'b.zip',
      body: Readable.from([plaintext(2 * MiB)]),
      kmsKeyArn: keyArn,
    });
    const head = await headObject(s3, bucket, 'b.zip');
    const raw = await rawObject(s3, bucket, 'b.zip');
    const middle = Math.floor(raw.length / 2);
    raw[middle] = (raw[middle] as number) ^ 0x01;
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'b.zip', Body: raw, Metadata: head.Metadata }),
    );

    await assert.rejects(async () => readAll(await store.get(bucket, 'b.zip')));
  });

  it('fails before writing anything when the key is disabled', async () => {
    const bucket = await freshBucket(moto.endpoint);
    const disabled = await createKey(kms);
    await kms.disableKey({ KeyId: disabled.slice(disabled.lastIndexOf('/') + 1) });
    await assert.rejects(
      storeAt(moto.endpoint).put({
        bucket,
        key: 'c.zip',
        body: Readable.from([plaintext(6 * MiB)]),
        kmsKeyArn: disabled,
      }),
      (error: unknown) => {
        assert.ok(error instanceof KeyError, String(error));
        assert.equal(error.reason, 'disabled');
        return true;
      },
    );
    await assertNothingLeft(s3, bucket);
  });

  it('fails before writing anything when the key is asymmetric', async () => {
    const bucket = await freshBucket(moto.endpoint);
    const rsa = await createKey(kms, { KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    await assert.rejects(
      storeAt(moto.endpoint).put({
        bucket,
        key: 'e.zip',
        body: Readable.from([plaintext(1000)]),
        kmsKeyArn: rsa,
      }),
      (error: unknown) => {
        assert.ok(error instanceof KeyError, String(error));
        assert.equal(error.reason, 'not-symmetric');
        return true;
      },
    );
    await assertNothingLeft(s3, bucket);
  });

  it('fails before writing anything when the key does not exist', async () => {
    const bucket = await freshBucket(moto.endpoint);
    const missing = `arn:aws:kms:${REGION}:${MOTO_ACCOUNT}:key/${randomUUID()}`;
    await assert.rejects(
      storeAt(moto.endpoint).put({
        bucket,
        key: 'd.zip',
        body: Readable.from([plaintext(1000)]),
        kmsKeyArn: missing,
      }),
      (error: unknown) => {
        assert.ok(error instanceof KeyError, String(error));
        assert.equal(error.reason, 'not-found');
        return true;
      },
    );
    await assertNothingLeft(s3, bucket);
  });
});
