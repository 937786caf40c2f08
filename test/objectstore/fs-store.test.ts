import { buildClient, CommitmentPolicy } from '@aws-crypto/client-node';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rename, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';

import { KeyError } from '../../src/core/key-service.js';
import { BucketError, ObjectError } from '../../src/core/object-store.js';
import { LocalKeyService } from '../../src/keys/local-keys.js';
import { FsObjectStore } from '../../src/objectstore/fs-store.js';
import { encodeRecord, RECORD_BYTES } from '../../src/objectstore/object-record.js';

const { decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
const PLAINTEXT = 'Subject: quarterly figures\r\n\r\nThe secret number is 4242.\r\n'.repeat(5000);

describe('FsObjectStore', () => {
  let folder: string;
  let keys: LocalKeyService;
  let store: FsObjectStore;
  let keyArn: string;
  let otherArn: string;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'mbx-'));
    keys = new LocalKeyService(join(folder, 'data'));
    store = new FsObjectStore(join(folder, 'buckets'), keys);
    keyArn = (await keys.createKey({ region: 'us-east-1', accountId: '111122223333' })).arn;
    otherArn = (await keys.createKey({ region: 'us-east-1', accountId: '111122223333' })).arn;
    await store.createBucket('exports', { region: 'us-east-1' });
  });

  after(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  function objectPath(bucket: string, key: string): string {
    return join(folder, 'buckets', bucket, ...key.split('/'));
  }

  async function bucketFiles(bucket: string): Promise<string[]> {
    const entries = await readdir(join(folder, 'buckets', bucket), { recursive: true });
    return entries.map(String).sort();
  }

  it('round-trips an object, tells its size and key, and lists it by prefix', async () => {
    const key = 'org-1/job-1/mailbox.zip';
    const result = await store.put({
      bucket: 'exports',
      key,
      body: Readable.from([PLAINTEXT]),
      kmsKeyArn: keyArn,
      contentType: 'application/zip',
    });
    assert.equal(result.bytes, Buffer.byteLength(PLAINTEXT));

    assert.equal(await text(await store.get('exports', key)), PLAINTEXT);
    assert.deepEqual(await store.head('exports', key), { bytes: result.bytes, kmsKeyArn: keyArn });
    assert.equal(await store.head('exports', 'org-1/job-1/other.zip'), undefined);

    await store.put({
      bucket: 'exports',
      key: 'org-1/job-1/mailbox.json',
      body: Readable.from(['{}']),
      kmsKeyArn: keyArn,
    });
    await store.put({
      bucket: 'exports',
      key: 'org-2/x',
      body: Readable.from([]),
      kmsKeyArn: keyArn,
    });
    assert.deepEqual(await store.list('exports', 'org-1/'), [
      'org-1/job-1/mailbox.json',
      'org-1/job-1/mailbox.zip',
    ]);
    assert.deepEqual(await store.list('exports', 'org-1/job-1/mailbox.z'), [key]);
    assert.equal(await text(await store.get('exports', 'org-2/x')), '');
    assert.ok((await store.list('exports', '')).includes('org-2/x'));
  });

  it('stores no plaintext, only a message that needs the key', async () => {
    const key = 'plain/check.eml';
    await store.put({
      bucket: 'exports',
      key,
      body: Readable.from([PLAINTEXT]),
      kmsKeyArn: keyArn,
    });

    const stored = await readFile(objectPath('exports', key));
    assert.equal(stored.includes('secret number'), false);
    assert.equal(stored.includes('quarterly'), false);

    const message = stored.subarray(RECORD_BYTES);
    const opened = await decrypt(await keys.keyring(keyArn), message);
    assert.equal(opened.plaintext.toString('utf8'), PLAINTEXT);
    assert.deepEqual(
      {
        bucket: opened.messageHeader.encryptionContext['mailbox-export:bucket'],
        key: opened.messageHeader.encryptionContext['mailbox-export:key'],
      },
      { bucket: 'exports', key },
    );
    await assert.rejects(decrypt(await keys.keyring(otherArn), message));
  });

  it('refuses to open an object whose record names another key', async () => {
    const key = 'swap/key.zip';
    await store.put({
      bucket: 'exports',
      key,
      body: Readable.from([PLAINTEXT]),
      kmsKeyArn: keyArn,
    });

    const path = objectPath('exports', key);
    const stored = await readFile(path);
    const forged = encodeRecord({
      version: 1,
      bytes: Buffer.byteLength(PLAINTEXT),
      kmsKeyArn: otherArn,
      createdAt: new Date().toISOString(),
    });
    await writeFile(path, Buffer.concat([forged, stored.subarray(RECORD_BYTES)]));

    await assert.rejects(text(await store.get('exports', key)), (error: unknown) => {
      assert.ok(error instanceof ObjectError);
      assert.equal(error.reason, 'undecryptable');
      assert.match(error.message, new RegExp(`could not be decrypted with key ${otherArn}`));
      return true;
    });
  });

  it('refuses an object renamed or copied to another key', async () => {
    await store.put({
      bucket: 'exports',
      key: 'moved/from.zip',
      body: Readable.from([PLAINTEXT]),
      kmsKeyArn: keyArn,
    });
    await rename(objectPath('exports', 'moved/from.zip'), objectPath('exports', 'moved/to.zip'));

    assert.deepEqual(await store.list('exports', 'moved/'), ['moved/to.zip']);
    const received: Buffer[] = [];
    const stream = await store.get('exports', 'moved/to.zip');
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) received.push(chunk);
      })(),
      (error: unknown) => {
        assert.ok(error instanceof ObjectError);
        assert.equal(error.reason, 'undecryptable');
        assert.match(error.message, /sealed for bucket "exports", key "moved\/from.zip"/);
        return true;
      },
    );
    assert.equal(Buffer.concat(received).length, 0);

    await store.createBucket('elsewhere', { region: 'us-east-1' });
    await mkdir(join(folder, 'buckets', 'elsewhere', 'moved'));
    await rename(objectPath('exports', 'moved/to.zip'), objectPath('elsewhere', 'moved/from.zip'));
    await assert.rejects(text(await store.get('elsewhere', 'moved/from.zip')), /sealed for/);
  });

  it('leaves nothing when the body fails after some data', async () => {
    const before = await bucketFiles('exports');
    async function* failing() {
      yield Buffer.alloc(3 * 1024 * 1024, 'a');
      yield Buffer.alloc(1024 * 1024, 'b');
      throw new Error('the zip writer failed');
    }

    await assert.rejects(
      store.put({
        bucket: 'exports',
        key: 'failed/one.zip',
        body: Readable.from(failing()),
        kmsKeyArn: keyArn,
      }),
      (error: unknown) => {
        assert.ok(error instanceof ObjectError);
        assert.equal(error.reason, 'write-failed');
        assert.equal(error.code, 'WriteFailed');
        assert.match(error.message, /failed\/one\.zip.*the zip writer failed.*Nothing was stored/s);
        assert.equal((error.cause as Error).message, 'the zip writer failed');
        return true;
      },
    );
    assert.deepEqual(await bucketFiles('exports'), before);
    assert.equal(await store.head('exports', 'failed/one.zip'), undefined);
  });

  it('leaves nothing when the put is aborted, and rejects with the abort reason', async () => {
    const before = await bucketFiles('exports');
    const controller = new AbortController();
    const reason = new Error('job cancelled');
    let sent = 0;
    const body = new Readable({
      read() {
        sent += 1;
        if (sent === 4) controller.abort(reason);
        this.push(Buffer.alloc(1024 * 1024, sent));
      },
    });

    await assert.rejects(
      store.put({
        bucket: 'exports',
        key: 'aborted/one.zip',
        body,
        kmsKeyArn: keyArn,
        signal: controller.signal,
      }),
      (error: unknown) => error === reason,
    );
    assert.deepEqual(await bucketFiles('exports'), before);
    assert.ok(body.destroyed);
  });

  it('refuses keys that could leave the bucket folder or clash with its own files', async () => {
    const bad = [
      '../escape',
      'a/../../b',
      '/etc/passwd',
      'a//b',
      'a/',
      '.',
      '.mailbox-export-bucket.json',
      'x\0y',
      '',
    ];
    for (const key of bad) {
      await assert.rejects(
        store.put({ bucket: 'exports', key, body: Readable.from(['x']), kmsKeyArn: keyArn }),
        (error: unknown) => error instanceof ObjectError && error.reason === 'invalid-key',
        JSON.stringify(key),
      );
      await assert.rejects(store.get('exports', key), ObjectError);
    }
  });

  it('checks buckets: missing, in another region, or fine', async () => {
    assert.deepEqual(await store.checkBucket({ bucket: 'exports', region: 'us-east-1' }), {
      warnings: [],
    });
    await assert.rejects(
      store.checkBucket({ bucket: 'nope', region: 'us-east-1' }),
      (error: unknown) => {
        assert.ok(error instanceof BucketError);
        assert.equal(error.reason, 'not-found');
        assert.equal(error.code, 'BucketInvalid');
        assert.match(error.message, /No bucket nope/);
        return true;
      },
    );
    await assert.rejects(
      store.checkBucket({ bucket: 'exports', region: 'eu-west-1' }),
      (error: unknown) => {
        assert.ok(error instanceof BucketError);
        assert.equal(error.reason, 'wrong-region');
        assert.match(error.message, /is in region us-east-1, but the organization is in eu-west-1/);
        return true;
      },
    );
    await assert.rejects(
      store.checkBucket({ bucket: 'Bad_Name', region: 'us-east-1' }),
      BucketError,
    );
    await assert.rejects(store.createBucket('exports', { region: 'eu-west-1' }), BucketError);
    assert.deepEqual(
      (await store.listBuckets()).map((b) => [b.name, b.region]),
      [
        ['elsewhere', 'us-east-1'],
        ['exports', 'us-east-1'],
      ],
    );
  });

  it('refuses a put to a missing bucket or under a disabled key, and drains nothing', async () => {
    const body = Readable.from(['x']);
    await assert.rejects(
      store.put({ bucket: 'missing', key: 'k', body, kmsKeyArn: keyArn }),
      BucketError,
    );
    assert.ok(body.destroyed);

    const disabled = (await keys.createKey({ region: 'us-east-1', accountId: '111122223333' })).arn;
    await keys.disableKey(disabled);
    await assert.rejects(
      store.put({ bucket: 'exports', key: 'k', body: Readable.from(['x']), kmsKeyArn: disabled }),
      (error: unknown) => error instanceof KeyError && error.reason === 'disabled',
    );
  });

  it('lets a reader stop early or abort without harm to the process', async () => {
    const key = 'early/stop.bin';
    const big = Buffer.alloc(8 * 1024 * 1024, 'z');
    await store.put({ bucket: 'exports', key, body: Readable.from([big]), kmsKeyArn: keyArn });

    const stream = await store.get('exports', key);
    for await (const chunk of stream) {
      assert.ok(chunk.length > 0);
      break;
    }
    assert.ok(stream.destroyed);

    const controller = new AbortController();
    const aborted = await store.get('exports', key, controller.signal);
    const reason = new Error('reader went away');
    controller.abort(reason);
    await assert.rejects(text(aborted), (error: unknown) => (error as Error).name === 'AbortError');

    // The store still serves the object whole afterwards.
    assert.equal((await text(await store.get('exports', key))).length, big.length);
  });
});
