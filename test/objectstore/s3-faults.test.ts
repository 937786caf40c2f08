import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { S3Client } from '@aws-sdk/client-s3';

import { ExportError } from '../../src/core/errors.js';
import type { ExportResult } from '../../src/core/export.js';
import { runExport } from '../../src/export/pipeline.js';
import { errorInfoFor } from '../../src/jobs/error-info.js';
import { S3ObjectStore } from '../../src/objectstore/s3-store.js';
import {
  PASS,
  isUploadPart,
  startFaultProxy,
  type FaultAction,
  type FaultProxy,
  type FaultProxyOptions,
  type ProxiedRequest,
} from '../helpers/fault-proxy.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import {
  assertNothingLeft,
  createKey,
  freshBucket,
  inspector,
  kmsClient,
  motoEndpoint,
  rawObject,
  sha384,
} from './fixtures/s3-moto.js';
import { exportOptions, writeTestMailbox, type TestMailbox } from './fixtures/s3-mailbox.js';

const PART_SIZE = 5 * 1024 * 1024;
const error500: FaultAction = { kind: 'error', status: 500, code: 'InternalError' };
const error503: FaultAction = { kind: 'error', status: 503, code: 'SlowDown' };
const drop: FaultAction = { kind: 'drop' };

interface Outcome {
  readonly bucket: string;
  readonly proxy: FaultProxy;
  readonly zipKey: string;
  readonly result?: ExportResult;
  readonly error?: unknown;
}

/**
 * Export jobs through a proxy that injects faults into the S3 requests to moto. The zip is
 * about 12 MB, so it goes up in three 5 MiB parts; the SDK makes up to three attempts per
 * request (its default). Each job must end with the zip stored whole (its hash as the log
 * says), or fail with a clear error and leave neither an object nor a multipart upload.
 */
describe('S3 faults during an export', () => {
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

  async function exportThrough(
    jobId: string,
    proxyOptions: FaultProxyOptions,
    controller = new AbortController(),
  ): Promise<Outcome> {
    const bucket = await freshBucket(moto.endpoint);
    const proxy = await startFaultProxy(moto.endpoint, proxyOptions);
    const store = new S3ObjectStore({ ...motoEndpoint(proxy.endpoint), partSize: PART_SIZE });
    const options = exportOptions(mailbox, jobId, store, bucket, keyArn, controller.signal);
    try {
      const result = await runExport(options);
      return { bucket, proxy, zipKey: options.zipKey, result };
    } catch (error) {
      return { bucket, proxy, zipKey: options.zipKey, error };
    } finally {
      await options.source.close();
      store.close();
      await proxy.close();
    }
  }

  async function assertCompleted(outcome: Outcome): Promise<void> {
    assert.equal(outcome.error, undefined, `the job failed: ${String(outcome.error)}`);
    const zip = await rawObject(s3, outcome.bucket, outcome.zipKey);
    assert.equal(sha384(zip), outcome.result?.log.sha384Hash);
    assert.equal(String(zip.length), outcome.result?.log.totalBytes);
  }

  /** The job failed with an export error whose ErrorInfo matches, and left nothing. */
  async function assertFailedClean(outcome: Outcome, message: RegExp): Promise<ExportError> {
    const { error } = outcome;
    assert.ok(error instanceof ExportError, `not an ExportError: ${String(error)}`);
    assert.match(errorInfoFor(error, 'job'), message);
    await assertNothingLeft(s3, outcome.bucket);
    return error;
  }

  it('retries parts answered 500 and 503 or dropped, and completes', async () => {
    const plan = new Map<string, FaultAction>([
      ['1/1', error500],
      ['2/1', error503],
      ['3/1', drop],
      ['3/2', error500],
    ]);
    const outcome = await exportThrough('job-retried', {
      decide: (r) => (isUploadPart(r) ? (plan.get(`${r.partNumber}/${r.attempt}`) ?? PASS) : PASS),
    });

    await assertCompleted(outcome);
    assert.deepEqual([...outcome.proxy.faults].sort(), [
      'drop PUT part 3 attempt 1',
      'error PUT part 1 attempt 1',
      'error PUT part 2 attempt 1',
      'error PUT part 3 attempt 2',
    ]);
    const parts = outcome.proxy.requests.filter(isUploadPart).map((r) => r.partNumber);
    assert.deepEqual([...new Set(parts)].sort(), [1, 2, 3]);
  });

  it('fails cleanly when a part keeps answering 500', async () => {
    const outcome = await exportThrough('job-500', {
      decide: (r) => (isUploadPart(r) && r.partNumber === 2 ? error500 : PASS),
    });

    const error = await assertFailedClean(
      outcome,
      /s3:PutObject of exports\/job-500\/mailbox\.zip/,
    );
    assert.equal(error.code, 'WriteFailed');
    assert.match(error.message, /InternalError/);
    assert.deepEqual(
      outcome.proxy.faults.filter((f) => f.includes('part 2')),
      ['error PUT part 2 attempt 1', 'error PUT part 2 attempt 2', 'error PUT part 2 attempt 3'],
    );
    assert.ok(outcome.proxy.requests.some(isAbortUpload), 'no AbortMultipartUpload was sent');
  });

  it('fails cleanly when a part keeps losing its connection', async () => {
    const outcome = await exportThrough('job-dropped', {
      decide: (r) => (isUploadPart(r) && r.partNumber === 3 ? drop : PASS),
    });

    const error = await assertFailedClean(outcome, /exports\/job-dropped\/mailbox\.zip/);
    assert.equal(error.code, 'WriteFailed');
    assert.match(error.message, /ECONNRESET|socket hang up/);
    assert.equal(outcome.proxy.faults.length, 3);
  });

  it('fails cleanly when the upload cannot be completed', async () => {
    const outcome = await exportThrough('job-no-complete', {
      decide: (r) => (isCompleteUpload(r) ? error500 : PASS),
    });

    await assertFailedClean(outcome, /exports\/job-no-complete\/mailbox\.zip.*InternalError/);
    assert.equal(outcome.proxy.faults.length, 3);
  });

  it('takes the zip back when the export log cannot be stored', async () => {
    const outcome = await exportThrough('job-no-log', {
      decide: (r) => (r.method === 'PUT' && r.path.endsWith('/export-log.json') ? error500 : PASS),
    });

    await assertFailedClean(outcome, /exports\/job-no-log\/export-log\.json.*InternalError/);
    assert.equal(outcome.proxy.faults.length, 3);
    assert.ok(
      outcome.proxy.requests.some((r) => r.method === 'DELETE' && r.path.endsWith('/mailbox.zip')),
      'the zip was not deleted',
    );
  });

  it('completes when the answer to CompleteMultipartUpload is lost', async () => {
    // The server completes the upload but its answer never arrives; the SDK sends the request
    // again, and the server (moto, like S3) answers it as done.
    const outcome = await exportThrough('job-lost-answer', {
      decide: (r) => (isCompleteUpload(r) && r.attempt === 1 ? { kind: 'lose-answer' } : PASS),
    });

    await assertCompleted(outcome);
    assert.deepEqual(outcome.proxy.faults, ['lose-answer POST part - attempt 1']);
    assert.equal(outcome.proxy.requests.filter(isCompleteUpload).length, 2);
  });

  // The timeout only guards against a hang: a store that waits for the held part never ends.
  it('leaves no upload when the job is cancelled mid-upload', { timeout: 60_000 }, async () => {
    const controller = new AbortController();
    const outcome = await exportThrough(
      'job-cancelled',
      {
        decide: (r) => (isUploadPart(r) && r.partNumber === 2 ? { kind: 'hold' } : PASS),
        onHold: () => controller.abort(),
      },
      controller,
    );

    const error = await assertFailedClean(outcome, /job job-cancelled was cancelled/);
    assert.equal(error.code, 'Cancelled');
    // The part held in flight was given up by the store, not waited for.
    assert.equal(outcome.proxy.heldEndedByClient, 1);
    assert.ok(outcome.proxy.requests.some(isAbortUpload), 'no AbortMultipartUpload was sent');
  });
});

function isCompleteUpload(request: ProxiedRequest): boolean {
  return request.method === 'POST' && request.query.has('uploadId');
}

function isAbortUpload(request: ProxiedRequest): boolean {
  return request.method === 'DELETE' && request.query.has('uploadId');
}
