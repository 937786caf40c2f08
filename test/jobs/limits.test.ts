import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { ApiError } from '../../src/core/errors.js';
import type { ExportJob } from '../../src/core/model.js';
import { BUCKET, openHarness, type Harness } from './fixtures/harness.js';
import {
  makeGate,
  makeTempDir,
  ManualClock,
  sampleMailbox,
  startRequest,
} from './fixtures/setup.js';
import { slowExport, sourceFailure } from './fixtures/slow-export.js';

/** Two folders, 212 messages: enough for a pause in the middle, quick for ten jobs. */
const smallMailbox = join(sampleMailbox, 'inbox');

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof ApiError, `expected an ApiError, got ${String(error)}`);
  return error;
}

describe('ExportJobEngine limits', () => {
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

  it('runs at most 10 jobs per organization; queued ones show RUNNING at 0 and cancel unrun', async () => {
    const gate = makeGate();
    const h = (harness = await openHarness({
      dir: temp.dir,
      users: 11,
      workers: 2,
      mailRoot: smallMailbox,
      runExport: slowExport({ pauseAtItem: 5, gate: gate.promise }),
    }));
    const users = h.seeded.users;
    const jobs: ExportJob[] = [];
    for (const user of users.slice(0, 10)) {
      jobs.push(await h.engine.start(startRequest(h.orgId, user.name)));
    }

    const stored = await Promise.all(jobs.map((j) => h.store.getJob(h.orgId, j.jobId)));
    assert.deepEqual(new Set(stored.map((j) => j?.state)), new Set(['RUNNING']));
    const queued = stored.slice(2);
    assert.deepEqual(
      queued.map((j) => j?.estimatedProgress),
      queued.map(() => 0),
    );

    const eleventh = startRequest(h.orgId, users[10]!.name);
    const error = await refusal(h.engine.start(eleventh));
    assert.equal(error.code, 'LimitExceededException');
    assert.match(error.message, /already runs 10 export jobs, and at most 10 may run at once/);

    const last = jobs[9]!;
    await h.engine.cancel(h.orgId, last.jobId);
    assert.equal((await h.engine.waitFor(last.jobId)).state, 'CANCELLED');
    assert.equal(
      h.events.filter((e) => e.jobId === last.jobId && e.type === 'started').length,
      0,
      'a queued job is cancelled without running',
    );

    const admitted = await h.engine.start(eleventh);
    gate.open();
    const ended = await Promise.all(
      [...jobs.slice(0, 9), admitted].map((j) => h.engine.waitFor(j.jobId)),
    );
    assert.deepEqual(new Set(ended.map((j) => j.state)), new Set(['COMPLETED']));
    assert.equal(h.backends.opened, 10);
    assert.equal(h.backends.closed, 10);
    assert.equal((await h.backends.objectStore.list(BUCKET, 'mailboxes/')).length, 20);
  });

  it('exports a mailbox once per 24 hours, not counting failed or cancelled jobs', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const h = (harness = await openHarness({
      dir: temp.dir,
      clock: clock.now,
      mailRoot: smallMailbox,
      limits: { maxRunningPerOrganization: 10, mailboxIntervalSeconds: 24 * 3600 },
      // The first export fails, the rest succeed.
      runExport: (options) =>
        slowExport(calls++ === 0 ? { failAtItem: 3, failWith: sourceFailure } : {})(options),
    }));
    const start = () => h.engine.start(startRequest(h.orgId, 'user0'));

    const failed = await h.engine.waitFor((await start()).jobId);
    assert.equal(failed.state, 'FAILED');
    clock.advance(60);
    const completed = await h.engine.waitFor((await start()).jobId);
    assert.equal(completed.state, 'COMPLETED');

    clock.advance(24 * 3600 - 1);
    const error = await refusal(start());
    assert.equal(error.code, 'LimitExceededException');
    const next = new Date(completed.startTime.getTime() + 24 * 3600 * 1000).toISOString();
    assert.match(error.message, /once every 24 hours/);
    assert.ok(error.message.includes(`exported again from ${next}`), error.message);

    clock.advance(1);
    const later = await h.engine.waitFor((await start()).jobId);
    assert.equal(later.state, 'COMPLETED');
  });
});
