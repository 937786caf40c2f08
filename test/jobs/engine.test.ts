import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { ApiError, ExportError } from '../../src/core/errors.js';
import type { ExportJob } from '../../src/core/model.js';
import { ERROR_INFO_MAX_CHARS } from '../../src/jobs/error-info.js';
import type { JobEvent } from '../../src/jobs/events.js';
import { BUCKET, openHarness, type Harness } from './fixtures/harness.js';
import { makeGate, makeTempDir, sampleMailbox, startRequest } from './fixtures/setup.js';
import { slowExport, sourceFailure } from './fixtures/slow-export.js';

async function sampleBytes(root: string): Promise<number> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  let total = 0;
  for (const entry of entries) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

function apiCode(error: unknown): string {
  return error instanceof ApiError ? error.code : `not an ApiError: ${String(error)}`;
}

function eventsOf(h: Harness, jobId: string, type?: JobEvent['type']): JobEvent[] {
  return h.events.filter((e) => e.jobId === jobId && (type === undefined || e.type === type));
}

describe('ExportJobEngine', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let harness: Harness | undefined;

  beforeEach(async () => {
    temp = await makeTempDir();
  });

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
    await temp.remove();
  });

  it('exports a mailbox to COMPLETED, progress rising to 100 only at the end', async () => {
    const h = (harness = await openHarness({
      dir: temp.dir,
      engine: { progressIntervalMs: 0 },
    }));
    const stored: Array<Promise<ExportJob | undefined>> = [];
    h.engine.on('progress', (event) => stored.push(h.store.getJob(h.orgId, event.jobId)));

    const started = await h.engine.start(startRequest(h.orgId, 'user0'));
    assert.equal(started.state, 'RUNNING');
    assert.equal(started.estimatedProgress, 0);
    assert.equal(started.s3Path, `s3://${BUCKET}/mailboxes/${started.jobId}.zip`);
    const job = await h.engine.waitFor(started.jobId);

    assert.equal(job.state, 'COMPLETED');
    assert.equal(job.estimatedProgress, 100);
    assert.equal(job.errorInfo, undefined);
    assert.ok(job.endTime !== undefined && job.endTime >= job.startTime);

    const progress = eventsOf(h, job.jobId, 'progress').map(
      (e) => (e as { estimatedProgress: number }).estimatedProgress,
    );
    assert.ok(progress.length >= 50, `${progress.length} progress events`);
    assert.ok(progress.every((p, i) => p > 0 && p <= 99 && (i === 0 || p > progress[i - 1]!)));
    for (const snapshot of await Promise.all(stored)) {
      assert.equal(snapshot?.state, 'RUNNING');
      assert.ok(snapshot.estimatedProgress <= 99);
    }
    assert.deepEqual(
      eventsOf(h, job.jobId)
        .map((e) => e.type)
        .filter((t) => t !== 'progress'),
      ['queued', 'started', 'finished'],
    );

    const keys = await h.backends.objectStore.list(BUCKET, 'mailboxes/');
    assert.deepEqual(keys, [
      `mailboxes/${job.jobId}.export-log.json`,
      `mailboxes/${job.jobId}.zip`,
    ]);
    const zip = await readFile(join(h.backends.objectStore.bucketDir(BUCKET), keys[1]!));
    const log: unknown = JSON.parse(
      await readFile(join(h.backends.objectStore.bucketDir(BUCKET), keys[0]!), 'utf8'),
    );
    assert.deepEqual(log, job.exportLog);
    assert.equal(job.exportLog?.sha384Hash, createHash('sha384').update(zip).digest('hex'));
    assert.equal(zip.length, await sampleBytes(sampleMailbox));
    assert.equal(job.exportLog?.totalMessages, '408');
    assert.deepEqual([h.backends.opened, h.backends.closed], [1, 1]);
  });

  it('returns the same job for a replayed token, and refuses the token with other parameters', async () => {
    const h = (harness = await openHarness({ dir: temp.dir }));
    const request = startRequest(h.orgId, 'user0', { description: 'quarterly' });
    const first = await h.engine.start(request);
    const again = await h.engine.start(request);
    assert.equal(again.jobId, first.jobId);

    const error = await h.engine.start({ ...request, s3Prefix: 'elsewhere/' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal(apiCode(error), 'InvalidParameterException');
    assert.match(String((error as Error).message), /ClientToken was already used/);

    assert.equal((await h.engine.waitFor(first.jobId)).state, 'COMPLETED');
    assert.equal(h.backends.opened, 1, 'the replay did not run a second export');
  });

  it('finds the mailbox by user id, name or address, and names what is missing', async () => {
    const h = (harness = await openHarness({ dir: temp.dir, users: 3 }));
    const [byId, byName, byAddress] = h.seeded.users;
    const jobs = await Promise.all([
      h.engine.start(startRequest(h.orgId, byId!.userId)),
      h.engine.start(startRequest(h.orgId, 'USER1')),
      h.engine.start(startRequest(h.orgId, byAddress!.email!.toUpperCase())),
    ]);
    assert.deepEqual(
      jobs.map((j) => j.entityId),
      [byId!.userId, byName!.userId, byAddress!.userId],
    );
    await Promise.all(jobs.map((j) => h.engine.waitFor(j.jobId)));

    const fails = async (request: Parameters<typeof h.engine.start>[0]) =>
      apiCode(
        await h.engine.start(request).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
    assert.equal(await fails(startRequest(h.orgId, 'nobody')), 'EntityNotFoundException');
    assert.equal(
      await fails(startRequest('m-00000000000000000000000000000000', 'user0')),
      'OrganizationNotFoundException',
    );
    await h.store.updateUser({ ...byName!, state: 'DISABLED' });
    assert.equal(await fails(startRequest(h.orgId, 'user1')), 'EntityNotFoundException');
    assert.equal(
      await fails(startRequest(h.orgId, 'user0', { s3Prefix: 'p'.repeat(1000) })),
      'InvalidParameterException',
    );
    await h.store.setOrganizationState(h.orgId, 'Deleting');
    assert.equal(await fails(startRequest(h.orgId, 'user0')), 'OrganizationStateException');
  });

  it('cancels mid-upload: CANCELLED, and the object store holds nothing of the job', async () => {
    const gate = makeGate();
    const paused = makeGate();
    const h = (harness = await openHarness({
      dir: temp.dir,
      runExport: slowExport({ pauseAtItem: 60, gate: gate.promise, onPause: paused.open }),
      engine: { progressIntervalMs: 0 },
    }));
    const job = await h.engine.start(startRequest(h.orgId, 'user0'));
    await paused.promise;

    const running = await h.store.getJob(h.orgId, job.jobId);
    assert.equal(running?.state, 'RUNNING');
    assert.ok(running.estimatedProgress > 0, 'bytes were already uploaded');
    const partial = await readdir(h.backends.objectStore.partialDir);
    assert.equal(partial.length, 1, 'the upload is open');

    await h.engine.cancel(h.orgId, job.jobId);
    const ended = await h.engine.waitFor(job.jobId);
    assert.equal(ended.state, 'CANCELLED');
    assert.ok(ended.estimatedProgress < 100);
    assert.equal(ended.exportLog, undefined);
    assert.deepEqual(await h.backends.objectStore.list(BUCKET, ''), []);
    assert.deepEqual(await readdir(h.backends.objectStore.partialDir), []);
    assert.deepEqual([h.backends.opened, h.backends.closed], [1, 1]);

    await h.engine.cancel(h.orgId, job.jobId);
    assert.equal((await h.store.getJob(h.orgId, job.jobId))?.state, 'CANCELLED');
    const unknown = await h.engine.cancel(h.orgId, '0bd8c7a4-0000-4000-8000-000000000000').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal(apiCode(unknown), 'EntityNotFoundException');
  });

  it('leaves a COMPLETED job as it is when cancelled afterwards', async () => {
    const h = (harness = await openHarness({ dir: temp.dir }));
    const job = await h.engine.start(startRequest(h.orgId, 'user0'));
    await h.engine.waitFor(job.jobId);
    await h.engine.cancel(h.orgId, job.jobId);

    const after = await h.store.getJob(h.orgId, job.jobId);
    assert.equal(after?.state, 'COMPLETED');
    assert.equal(after.cancelRequested, false);
    assert.equal((await h.backends.objectStore.list(BUCKET, 'mailboxes/')).length, 2);
  });

  it('fails with the export error as ErrorInfo, and hides the text of unexpected faults', async () => {
    let call = 0;
    const failures = [
      sourceFailure,
      () => new TypeError('Cannot read properties of undefined (password=hunter2)'),
      () => new ExportError('WriteFailed', `The upload failed: ${'detail '.repeat(300)}`),
    ];
    const h = (harness = await openHarness({
      dir: temp.dir,
      users: 4,
      runExport: (options) => {
        const failWith = failures[call++];
        return slowExport(failWith ? { failAtItem: 10, failWith } : {})(options);
      },
    }));

    const ended: ExportJob[] = [];
    for (const user of h.seeded.users.slice(0, 3)) {
      const job = await h.engine.start(startRequest(h.orgId, user.name));
      ended.push(await h.engine.waitFor(job.jobId));
    }
    const missingBucket = await h.engine.start(
      startRequest(h.orgId, 'user3', { s3BucketName: 'no-such-bucket' }),
    );
    ended.push(await h.engine.waitFor(missingBucket.jobId));

    assert.deepEqual(
      ended.map((j) => j.state),
      ['FAILED', 'FAILED', 'FAILED', 'FAILED'],
    );
    assert.equal(ended[0]!.errorInfo, sourceFailure().message);
    assert.match(ended[1]!.errorInfo!, /unexpected fault in the service/);
    assert.doesNotMatch(ended[1]!.errorInfo!, /hunter2|undefined/);
    assert.equal(Array.from(ended[2]!.errorInfo!).length, ERROR_INFO_MAX_CHARS);
    assert.match(ended[3]!.errorInfo!, /bucket no-such-bucket does not exist/);
    assert.deepEqual(await h.backends.objectStore.list(BUCKET, ''), []);
    assert.deepEqual([h.backends.opened, h.backends.closed], [4, 4]);
    const finished = h.events.filter((e) => e.type === 'finished');
    assert.deepEqual(
      finished.map((e) => 'errorInfo' in e && e.errorInfo),
      ended.map((j) => j.errorInfo),
    );
  });
});
