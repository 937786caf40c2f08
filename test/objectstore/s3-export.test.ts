import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { S3Client } from '@aws-sdk/client-s3';

import { runExport } from '../../src/export/pipeline.js';
import { S3ObjectStore } from '../../src/objectstore/s3-store.js';
import { execFileAsync, readManifest, readZip, sha256 } from '../export/fixtures/helpers.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import {
  createKey,
  freshBucket,
  headObject,
  inspector,
  kmsClient,
  motoEndpoint,
  rawObject,
  sha384,
} from './fixtures/s3-moto.js';
import { exportOptions, writeTestMailbox, type TestMailbox } from './fixtures/s3-mailbox.js';

describe('the export pipeline into S3 on moto', () => {
  let moto: Moto;
  let s3: S3Client;
  let keyArn: string;
  let root: string;
  let mailbox: TestMailbox;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-'));
    moto = await startMoto();
    s3 = inspector(moto.endpoint);
    const kms = kmsClient(moto.endpoint);
    keyArn = await createKey(kms);
    kms.destroy();
    mailbox = await writeTestMailbox(join(root, 'mailbox'));
  });

  after(async () => {
    s3?.destroy();
    await moto?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('stores the zip in parts under SSE-KMS, its SHA-384 as the log says', async () => {
    const bucket = await freshBucket(moto.endpoint);
    const store = new S3ObjectStore({ ...motoEndpoint(moto.endpoint), partSize: 5 * 1024 * 1024 });
    const options = exportOptions(
      mailbox,
      'job-s3',
      store,
      bucket,
      keyArn,
      new AbortController().signal,
    );
    let result;
    try {
      result = await runExport(options);
    } finally {
      await options.source.close();
      store.close();
    }

    const zip = await rawObject(s3, bucket, options.zipKey);
    assert.equal(sha384(zip), result.log.sha384Hash);
    assert.equal(String(zip.length), result.log.totalBytes);
    assert.ok(zip.length > 10 * 1024 * 1024, `the zip is only ${zip.length} bytes`);

    const zipHead = await headObject(s3, bucket, options.zipKey);
    assert.equal(zipHead.ServerSideEncryption, 'aws:kms');
    assert.match(zipHead.ETag ?? '', /-3"$/, 'the zip did not go up in three parts');
    assert.equal(zipHead.ContentType, 'application/zip');

    const log = JSON.parse((await rawObject(s3, bucket, options.logKey)).toString('utf8'));
    assert.deepEqual(log, result.log);
    assert.equal(log.totalMessages, String(mailbox.sha256s.length));
    assert.equal(log.totalFolders, '2');
    assert.equal((await headObject(s3, bucket, options.logKey)).ServerSideEncryption, 'aws:kms');

    // The zip is whole and holds every message byte for byte.
    const zipPath = join(root, 'job-s3.zip');
    await writeFile(zipPath, zip);
    const tested = await execFileAsync('unzip', ['-t', zipPath], { maxBuffer: 1 << 24 });
    assert.match(tested.stdout, /No errors detected/);
    const manifest = await readManifest(zipPath);
    const entries = await readZip(zipPath);
    const stored = manifest.items.map((item) => sha256(entries.get(item.zipPath) as Buffer));
    assert.deepEqual([...stored].sort(), [...mailbox.sha256s].sort());
  });
});
