import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ExportJobEngine } from '../../src/jobs/engine.js';
import { INTERRUPTED_ERROR_INFO } from '../../src/jobs/error-info.js';
import { repoRoot } from '../helpers/paths.js';
import { BUCKET, openHarness, type Harness } from './fixtures/harness.js';
import {
  makeGate,
  makeTempDir,
  openStore,
  sampleMailbox,
  seedOrganization,
  startRequest,
  type Seeded,
} from './fixtures/setup.js';
import { slowExport } from './fixtures/slow-export.js';

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');

/**
 * Starts a job in a child process on `<dir>/jobs.db`, waits until its export is half way
 * (bytes uploaded, upload open), and kills the process with SIGKILL: no handler runs.
 */
async function runAndKill(
  dir: string,
  seeded: Seeded,
  nodeId: string,
  leaseSeconds: number,
): Promise<string> {
  const script = join(here, 'fixtures', fromSource ? 'child-engine.ts' : 'child-engine.js');
  const argument = JSON.stringify({
    dir,
    organizationId: seeded.organization.organizationId,
    entityId: 'user0',
    nodeId,
    leaseSeconds,
    mailRoot: sampleMailbox,
  });
  const child = spawn(
    process.execPath,
    [...(fromSource ? ['--import', 'tsx'] : []), script, argument],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = once(child, 'exit');
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      const paused = /^paused (\S+)$/.exec(line);
      if (paused) return paused[1]!;
      if (line.startsWith('ended ')) throw new Error(`The child's job ${line}`);
    }
    throw new Error('The child engine ended before its export paused.');
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Awaits `promise` with a timer that keeps the process up. The engine's lease and sweep
 * timers are unref'd, so that a CLI export may exit when its job ends; a test that waits for
 * them alone would see the event loop empty out and be cancelled.
 */
async function keepingAlive<T>(promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nothing happened within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function seed(dir: string): Promise<Seeded> {
  const store = openStore(dir);
  const seeded = await seedOrganization(store);
  await store.close();
  return seeded;
}

describe('ExportJobEngine recovery', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  const open: Harness[] = [];

  beforeEach(async () => {
    temp = await makeTempDir();
  });

  afterEach(async () => {
    for (const h of open.splice(0)) await h.close();
    await temp.remove();
  });

  it('resumes a job whose process was killed, when the node starts again', async () => {
    const seeded = await seed(temp.dir);
    const jobId = await runAndKill(temp.dir, seeded, 'node-a', 30);

    const h = await openHarness({ dir: temp.dir, seeded, nodeId: 'node-a' });
    open.push(h);
    const left = h.events.find((e) => e.type === 'recovered');
    assert.deepEqual(left, {
      type: 'recovered',
      jobId,
      organizationId: seeded.organization.organizationId,
      action: 'resumed',
      attempt: 2,
    });
    const job = await h.engine.waitFor(jobId);
    assert.equal(job.state, 'COMPLETED');
    assert.equal(job.attempts, 2);

    const keys = await h.backends.objectStore.list(BUCKET, '');
    assert.deepEqual(keys, [`mailboxes/${jobId}.export-log.json`, `mailboxes/${jobId}.zip`]);
    const zip = await readFile(join(h.backends.objectStore.bucketDir(BUCKET), keys[1]!));
    assert.equal(job.exportLog?.sha384Hash, createHash('sha384').update(zip).digest('hex'));
  });

  it('fails a killed job that used up its attempts instead of leaving it RUNNING', async () => {
    const seeded = await seed(temp.dir);
    const jobId = await runAndKill(temp.dir, seeded, 'node-a', 30);

    const h = await openHarness({
      dir: temp.dir,
      seeded,
      nodeId: 'node-a',
      engine: { maxAttempts: 1 },
    });
    open.push(h);
    const job = await h.engine.waitFor(jobId);
    assert.equal(job.state, 'FAILED');
    assert.equal(job.errorInfo, INTERRUPTED_ERROR_INFO);
    assert.equal(h.backends.opened, 0);
    assert.deepEqual(await h.backends.objectStore.list(BUCKET, ''), []);
  });

  it('lets another node take over a killed job once its lease has expired', async () => {
    const seeded = await seed(temp.dir);
    const jobId = await runAndKill(temp.dir, seeded, 'node-a', 1);

    const h = await openHarness({
      dir: temp.dir,
      seeded,
      nodeId: 'node-b',
      leaseSeconds: 1,
      engine: { sweepSeconds: 0.2 },
    });
    open.push(h);
    if (!h.events.some((e) => e.type === 'recovered'))
      await keepingAlive(once(h.engine, 'recovered'));
    const job = await h.engine.waitFor(jobId);
    assert.equal(job.state, 'COMPLETED');
    assert.equal(job.attempts, 2);
  });

  it('leaves running jobs RUNNING on close, and the next start resumes them', async () => {
    const gate = makeGate();
    const paused = makeGate();
    const first = await openHarness({
      dir: temp.dir,
      runExport: slowExport({ pauseAtItem: 50, gate: gate.promise, onPause: paused.open }),
    });
    const job = await first.engine.start(startRequest(first.orgId, 'user0'));
    await paused.promise;
    await first.close();

    const left = openStore(temp.dir);
    assert.equal((await left.getJob(first.orgId, job.jobId))?.state, 'RUNNING');
    await left.close();
    assert.ok(first.events.some((e) => e.type === 'interrupted' && e.reason === 'shutdown'));

    const second = await openHarness({ dir: temp.dir, seeded: first.seeded });
    open.push(second);
    const ended = await second.engine.waitFor(job.jobId);
    assert.equal(ended.state, 'COMPLETED');
    assert.deepEqual(await second.backends.objectStore.list(BUCKET, '').then((k) => k.length), 2);
  });

  it('stops a job when another node asks to cancel it', async () => {
    const gate = makeGate();
    const paused = makeGate();
    const runner = await openHarness({
      dir: temp.dir,
      leaseSeconds: 0.6,
      runExport: slowExport({ pauseAtItem: 50, gate: gate.promise, onPause: paused.open }),
    });
    open.push(runner);
    const job = await runner.engine.start(startRequest(runner.orgId, 'user0'));
    await paused.promise;

    const otherStore = openStore(temp.dir);
    const other = new ExportJobEngine({
      store: otherStore,
      backends: runner.backends,
      runExport: slowExport(),
      limits: { maxRunningPerOrganization: 10, mailboxIntervalSeconds: 0 },
      workers: 1,
      nodeId: 'node-b',
      leaseSeconds: 0.6,
    });
    await other.cancel(runner.orgId, job.jobId);
    assert.equal((await otherStore.getJob(runner.orgId, job.jobId))?.state, 'RUNNING');

    const ended = await keepingAlive(runner.engine.waitFor(job.jobId));
    assert.equal(ended.state, 'CANCELLED');
    assert.deepEqual(await runner.backends.objectStore.list(BUCKET, ''), []);
    await other.close();
    await otherStore.close();
  });
});
