import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import Database from 'better-sqlite3';

import { ApiError } from '../../src/core/errors.js';
import type { JobLimits, NewJob } from '../../src/core/job-store.js';
import { newJobId, newUserId } from '../../src/directory/ids.js';
import { SqliteJobStore } from '../../src/jobs/sqlite-store.js';
import {
  makeTempDir,
  ManualClock,
  openStore,
  seedOrganization,
  type Seeded,
} from './fixtures/setup.js';

const DAY = 24 * 3600;
const roomy: JobLimits = { maxRunningPerOrganization: 1000, mailboxIntervalSeconds: 0 };

function newJob(seeded: Seeded, overrides: Partial<NewJob> = {}): NewJob {
  const jobId = newJobId();
  return {
    jobId,
    organizationId: seeded.organization.organizationId,
    entityId: seeded.users[0]!.userId,
    roleArn: 'arn:aws:iam::111122223333:role/export',
    kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/k',
    s3BucketName: 'exports',
    s3Prefix: 'p/',
    s3Path: `s3://exports/p/${jobId}.zip`,
    clientToken: newUserId(),
    requestFingerprint: 'fp-1',
    startTime: new Date(Date.UTC(2026, 0, 5, 12)),
    ...overrides,
  };
}

async function created(store: SqliteJobStore, job: NewJob, limits = roomy) {
  const result = await store.insertJob(job, limits);
  assert.equal(result.outcome, 'created');
  return job;
}

describe('SqliteJobStore', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let clock: ManualClock;
  let store: SqliteJobStore;

  before(async () => {
    temp = await makeTempDir();
    clock = new ManualClock();
    store = openStore(temp.dir, clock.now);
  });

  after(async () => {
    await store.close();
    await temp.remove();
  });

  it('migrates a new file once, in WAL mode, and refuses a newer schema', async () => {
    const again = openStore(temp.dir);
    await again.close();

    const db = new Database(join(temp.dir, 'jobs.db'));
    assert.deepEqual(db.prepare('SELECT version FROM schema_version').all(), [{ version: 1 }]);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const other = await makeTempDir();
    const newer = new Database(join(other.dir, 'jobs.db'));
    newer.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    newer.exec('INSERT INTO schema_version VALUES (99)');
    newer.close();
    db.close();
    assert.throws(() => openStore(other.dir), /schema version 99, newer/);
    await other.remove();
  });

  it('keeps organizations and users, found case-insensitively by alias, name or address', async () => {
    const seeded = await seedOrganization(store, 2, 'Acme-Dir');
    const orgId = seeded.organization.organizationId;
    const [first, second] = seeded.users as [Seeded['users'][0], Seeded['users'][0]];

    assert.deepEqual(await store.getOrganization(orgId), seeded.organization);
    assert.equal((await store.findOrganizationByAlias('acme-dir'))?.organizationId, orgId);
    assert.equal((await store.findUser(orgId, first.userId))?.userId, first.userId);
    assert.equal((await store.findUser(orgId, 'USER1'))?.userId, second.userId);
    assert.equal((await store.findUser(orgId, second.email!.toUpperCase()))?.userId, second.userId);
    assert.equal(await store.findUser(orgId, 'nobody'), undefined);
    assert.deepEqual(await store.getUser(orgId, first.userId), first);
    assert.deepEqual(
      (await store.listUsers(orgId)).map((u) => u.name),
      ['user0', 'user1'],
    );

    await store.updateUser({ ...first, state: 'DISABLED', disabledAt: new Date(5000) });
    assert.equal((await store.getUser(orgId, first.userId))?.state, 'DISABLED');
    await store.setOrganizationState(orgId, 'Deleting');
    assert.equal((await store.getOrganization(orgId))?.state, 'Deleting');
  });

  it('answers taken names, used addresses and unknown organizations with their codes', async () => {
    const seeded = await seedOrganization(store, 1);
    const user = seeded.users[0]!;
    const code = async (promise: Promise<unknown>) =>
      promise.then(
        () => 'no error',
        (error: unknown) => (error instanceof ApiError ? error.code : String(error)),
      );

    assert.equal(
      await code(store.createOrganization({ ...seeded.organization, organizationId: 'm-x' })),
      'NameAvailabilityException',
    );
    assert.equal(
      await code(store.createUser({ ...user, userId: newUserId(), name: 'USER0', email: 'a@b.c' })),
      'NameAvailabilityException',
    );
    assert.equal(
      await code(store.createUser({ ...user, userId: newUserId(), name: 'other' })),
      'EmailAddressInUseException',
    );
    assert.equal(
      await code(store.createUser({ ...user, organizationId: 'm-0', name: 'x', email: 'x@y.z' })),
      'OrganizationNotFoundException',
    );
    assert.equal(
      await code(store.setOrganizationState('m-0', 'Active')),
      'OrganizationNotFoundException',
    );
    assert.equal(
      await code(store.updateUser({ ...user, userId: newUserId() })),
      'EntityNotFoundException',
    );
  });

  it('replays a client token with the same fingerprint and refuses it with another', async () => {
    const seeded = await seedOrganization(store);
    const job = await created(store, newJob(seeded));

    const replay = await store.insertJob({ ...job, jobId: newJobId() }, roomy);
    assert.equal(replay.outcome, 'replayed');
    assert.equal(replay.outcome === 'replayed' && replay.job.jobId, job.jobId);

    const reuse = await store.insertJob(
      { ...job, jobId: newJobId(), requestFingerprint: 'fp-2' },
      roomy,
    );
    assert.deepEqual(reuse, { outcome: 'token-reused' });

    // A token is the organization's own: another organization may use the same string.
    const other = await seedOrganization(store);
    await created(store, newJob(other, { clientToken: job.clientToken }));
  });

  it('refuses a job past the running limit until one ends', async () => {
    const seeded = await seedOrganization(store, 4);
    const limits: JobLimits = { maxRunningPerOrganization: 3, mailboxIntervalSeconds: 0 };
    const jobs = [];
    for (const user of seeded.users.slice(0, 3)) {
      jobs.push(await created(store, newJob(seeded, { entityId: user.userId }), limits));
    }

    const fourth = newJob(seeded, { entityId: seeded.users[3]!.userId });
    assert.deepEqual(await store.insertJob(fourth, limits), {
      outcome: 'too-many-running',
      running: 3,
    });

    // Another organization's jobs do not count.
    const other = await seedOrganization(store);
    await created(store, newJob(other), limits);

    await store.finishJob(jobs[0]!.jobId, { state: 'COMPLETED', endTime: clock.now() });
    await created(store, fourth, limits);
  });

  it('refuses a second export of a mailbox within the interval, except after failure or cancel', async () => {
    const seeded = await seedOrganization(store);
    const limits: JobLimits = { maxRunningPerOrganization: 10, mailboxIntervalSeconds: DAY };
    const t0 = Date.UTC(2026, 0, 5, 12);
    const at = (seconds: number) => new Date(t0 + seconds * 1000);

    const failed = await created(store, newJob(seeded, { startTime: at(0) }), limits);
    await store.finishJob(failed.jobId, { state: 'FAILED', endTime: at(10), errorInfo: 'x' });
    const cancelled = await created(store, newJob(seeded, { startTime: at(20) }), limits);
    await store.finishJob(cancelled.jobId, { state: 'CANCELLED', endTime: at(30) });
    const completed = await created(store, newJob(seeded, { startTime: at(40) }), limits);
    await store.finishJob(completed.jobId, { state: 'COMPLETED', endTime: at(50) });

    assert.deepEqual(await store.insertJob(newJob(seeded, { startTime: at(DAY + 39) }), limits), {
      outcome: 'mailbox-too-recent',
      lastStart: at(40),
    });
    // Exactly one interval later is allowed.
    await created(store, newJob(seeded, { startTime: at(DAY + 40) }), limits);
  });

  it('lists seven days of jobs newest first, in pages that neither repeat nor skip', async () => {
    const seeded = await seedOrganization(store);
    const now = Date.UTC(2026, 1, 1);
    const since = new Date(now - 7 * DAY * 1000);
    const expected: string[] = [];
    // 250 jobs over ten days, pairs sharing a start time to exercise the tie on job id.
    for (let i = 0; i < 250; i += 1) {
      const startTime = new Date(now - Math.floor(i / 2) * 6912 * 1000);
      const job = await created(store, newJob(seeded, { startTime }));
      if (startTime >= since) expected.push(`${startTime.getTime()} ${job.jobId}`);
    }
    expected.sort().reverse();

    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await store.listJobs(seeded.organization.organizationId, since, {
        maxResults: 100,
        ...(nextToken !== undefined && { nextToken }),
      });
      assert.ok(page.jobs.length <= 100);
      seen.push(...page.jobs.map((job) => `${job.startTime.getTime()} ${job.jobId}`));
      nextToken = page.nextToken;
      pages += 1;
    } while (nextToken !== undefined);

    assert.ok(expected.length > 150 && expected.length < 250, `${expected.length} in window`);
    assert.deepEqual(seen, expected);
    assert.equal(pages, Math.ceil(expected.length / 100));
    await assert.rejects(
      store.listJobs(seeded.organization.organizationId, since, {
        maxResults: 10,
        nextToken: 'bm90IGEgdG9rZW4=',
      }),
      (error: unknown) => error instanceof ApiError && error.code === 'InvalidParameterException',
    );
  });

  it('grants a lease to one owner until it expires, and counts attempts', async () => {
    const seeded = await seedOrganization(store);
    const job = await created(store, newJob(seeded));
    const stale = async (heldBy?: string) =>
      (await store.listStaleJobs(clock.now(), heldBy)).some((j) => j.jobId === job.jobId);

    assert.equal(await stale(), true, 'a job never claimed is stale');
    assert.equal(await store.claimJob(job.jobId, 'node-a', 30, { newAttempt: true }), true);
    assert.equal(await store.claimJob(job.jobId, 'node-b', 30), false);
    assert.equal(await store.claimJob(job.jobId, 'node-a', 30), true);
    assert.equal(await stale(), false);
    assert.equal(await stale('node-a'), true, 'a restarted node-a finds what it held');
    assert.equal(await stale('node-b'), false);

    clock.advance(29);
    assert.equal(await stale(), false);
    clock.advance(1);
    assert.equal(await stale(), true);
    assert.equal(await store.claimJob(job.jobId, 'node-b', 30, { newAttempt: true }), true);
    assert.equal(await store.claimJob(job.jobId, 'node-a', 30), false);

    const orgId = seeded.organization.organizationId;
    assert.equal((await store.getJob(orgId, job.jobId))?.attempts, 2);
    await store.finishJob(job.jobId, { state: 'FAILED', endTime: clock.now(), errorInfo: 'x' });
    assert.equal(await store.claimJob(job.jobId, 'node-b', 30), false);
    assert.equal(await stale('node-b'), false);
  });

  it('ends a job once, keeps progress rising, and takes a cancel only while running', async () => {
    const seeded = await seedOrganization(store);
    const orgId = seeded.organization.organizationId;
    const job = await created(store, newJob(seeded));

    await store.setProgress(job.jobId, 40);
    await store.setProgress(job.jobId, 20);
    assert.equal((await store.getJob(orgId, job.jobId))?.estimatedProgress, 40);
    assert.equal(await store.requestCancel(orgId, job.jobId), true);
    assert.equal((await store.getJob(orgId, job.jobId))?.cancelRequested, true);

    const exportLog = {
      totalNonExportableItems: '0',
      totalMessages: '3',
      sha384Hash: 'ab'.repeat(48),
      totalBytes: '1234',
      totalFolders: '1',
      startTime: '1767614400',
      endTime: '1767614460',
    };
    const endTime = new Date(Date.UTC(2026, 0, 5, 12, 1));
    assert.equal(
      await store.finishJob(job.jobId, { state: 'COMPLETED', endTime, exportLog }),
      true,
    );
    assert.equal(
      await store.finishJob(job.jobId, { state: 'CANCELLED', endTime: clock.now() }),
      false,
    );
    await store.setProgress(job.jobId, 50);
    assert.equal(await store.requestCancel(orgId, job.jobId), false);

    const ended = await store.getJob(orgId, job.jobId);
    assert.equal(ended?.state, 'COMPLETED');
    assert.equal(ended?.estimatedProgress, 100);
    assert.deepEqual(ended?.endTime, endTime);
    assert.deepEqual(ended?.exportLog, exportLog);
    assert.equal(await store.getJob('m-00000000000000000000000000000000', job.jobId), undefined);
  });
});
