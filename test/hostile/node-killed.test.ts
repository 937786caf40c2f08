import {
  DescribeMailboxExportJobCommand,
  ListMailboxExportJobsCommand,
  StartMailboxExportJobCommand,
  WorkMailClient,
  type DescribeMailboxExportJobCommandOutput,
} from '@aws-sdk/client-workmail';
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

import { repoRoot } from '../helpers/paths.js';
import { filesUnder } from '../helpers/files.js';

/**
 * The real `serve` process on the embedded defaults, killed with SIGKILL while an export is
 * half way: no handler runs, the job stays RUNNING under the dead node's lease and the zip's
 * temporary file stays in the bucket folder. The next start on the same data folder (the same
 * `node-id`, so the same node) must resume the job at once and end it with a zip that `verify`
 * accepts, and leave no temporary file behind (the killed put's file once stayed for good:
 * nothing removed it), while a temporary file of a live process is kept. A second case removes a bucket folder under a
 * running job: the job fails saying why, and the service goes on serving.
 */

const run = promisify(execFile);
const BIN = join(repoRoot, 'bin', 'mailbox-export.js');
const TEMP_PREFIX = '.mailbox-export-tmp-';

// About 80 MB of base64 noise: an export of it takes a few seconds with deflate 6.
const MESSAGES = 200;
const BODY_BYTES = 300 * 1024;

let root: string;
let data: string;
let config: string;
let credentials: { accessKeyId: string; secretAccessKey: string };
let organizationId: string;
let ann: string;
let bob: string;
let kmsKeyArn: string;
let roleArn: string;
const children = new Set<ChildProcess>();

async function cli(args: readonly string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, ...args, '-d', data, '-c', config], {
    cwd: repoRoot,
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  return stdout;
}

/** A Maildir of `count` messages whose bodies are `bytes` of random data in base64 lines. */
async function writeMaildir(dir: string, count: number, bytes: number): Promise<void> {
  await mkdir(join(dir, 'new'), { recursive: true });
  await mkdir(join(dir, 'cur'));
  await mkdir(join(dir, 'tmp'));
  for (let i = 0; i < count; i++) {
    const body = randomBytes(bytes).toString('base64').replace(/.{76}/g, '$&\r\n');
    const message =
      `From: noise@example.com\r\nSubject: noise ${i}\r\nMessage-ID: <noise-${i}@example.com>\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
      `${body}\r\n`;
    await writeFile(join(dir, 'new', `noise-${i}`), message);
  }
}

interface Serving {
  readonly child: ChildProcess;
  readonly client: WorkMailClient;
  readonly url: string;
  /** What the process wrote so far: its log lines and its banner. */
  readonly output: () => string;
}

/** Starts `serve` on a free port of 127.0.0.1 and waits until it says where it listens. */
async function startServe(): Promise<Serving> {
  const child = spawn(process.execPath, [BIN, 'serve', '-d', data, '-c', config, '-p', '0'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info' },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));

  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const serving = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (serving) resolve(serving[1]!);
    });
    child.once('exit', (code, signal) => {
      reject(new Error(`serve ended (${code ?? signal}) before it listened:\n${output}`));
    });
  });

  const client = new WorkMailClient({
    endpoint: url,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
  });
  return { child, client, url, output: () => output };
}

/** SIGTERM, then SIGKILL if the process has not gone within a few seconds. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function startExport(
  serving: Serving,
  entityId: string,
  bucket: string,
  prefix: string,
): Promise<string> {
  const { JobId } = await serving.client.send(
    new StartMailboxExportJobCommand({
      ClientToken: randomUUID(),
      OrganizationId: organizationId,
      EntityId: entityId,
      RoleArn: roleArn,
      KmsKeyArn: kmsKeyArn,
      S3BucketName: bucket,
      S3Prefix: prefix,
    }),
  );
  assert.ok(JobId);
  return JobId;
}

function describeJob(serving: Serving, jobId: string) {
  return serving.client.send(
    new DescribeMailboxExportJobCommand({ OrganizationId: organizationId, JobId: jobId }),
  );
}

/** Polls the job until `done` holds, failing after `timeoutMs` with the last answer seen. */
async function pollJob(
  serving: Serving,
  jobId: string,
  done: (job: DescribeMailboxExportJobCommandOutput) => boolean,
  timeoutMs: number,
): Promise<DescribeMailboxExportJobCommandOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await describeJob(serving, jobId);
    if (done(job)) return job;
    if (Date.now() > deadline) {
      assert.fail(
        `job ${jobId} still ${job.State} at ${job.EstimatedProgress}% after ${timeoutMs} ms\n` +
          serving.output().slice(-4000),
      );
    }
    await delay(100);
  }
}

/** Waits until the job has read some of the mailbox, and is therefore writing its zip. */
async function untilHalfWay(serving: Serving, jobId: string): Promise<void> {
  const job = await pollJob(
    serving,
    jobId,
    (job) => job.State !== 'RUNNING' || (job.EstimatedProgress ?? 0) > 0,
    30_000,
  );
  assert.equal(
    job.State,
    'RUNNING',
    `the export ended before it could be interrupted: ${job.ErrorInfo}`,
  );
}

/** Polls `find` until it gives a non-empty list, failing after `timeoutMs`. */
async function until<T>(find: () => Promise<T[]>, timeoutMs: number): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found.length > 0) return found;
    assert.ok(Date.now() < deadline, `nothing found within ${timeoutMs} ms`);
    await delay(50);
  }
}

const isTemp = (path: string): boolean => basename(path).startsWith(TEMP_PREFIX);

/** The job's row as the store holds it, read from the SQLite file while no node runs. */
function storedJob(jobId: string): { state: string; lease_owner: string | null; attempts: number } {
  const db = new Database(join(data, 'jobs.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare('SELECT state, lease_owner, attempts FROM jobs WHERE job_id = ?')
      .get(jobId) as { state: string; lease_owner: string | null; attempts: number } | undefined;
    assert.ok(row, `job ${jobId} is not in the store`);
    return row;
  } finally {
    db.close();
  }
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mbx-hostile-killed-'));
  data = join(root, 'data');
  config = join(root, 'config.json');

  // The shortest lease the configuration takes; the restarted node is the same node and does
  // not wait for it, but a node that did would still take the job over within seconds.
  await writeFile(
    config,
    JSON.stringify({
      jobs: { leaseSeconds: 5, compression: 'default', mailboxIntervalSeconds: 0, workers: 2 },
    }),
  );

  const setUp = async (user: string, bucket: string) =>
    JSON.parse(await cli(['setup', '--org', 'acme', '--user', user, '--bucket', bucket, '--json']));
  const made = (await setUp('ann', 'exports')) as Record<string, string>;
  organizationId = made.organizationId!;
  ann = made.userId!;
  kmsKeyArn = made.kmsKeyArn!;
  roleArn = made.roleArn!;
  bob = ((await setUp('bob', 'spare')) as Record<string, string>).userId!;
  await setUp('ann', 'doomed');

  const big = join(root, 'ann-maildir');
  await writeMaildir(big, MESSAGES, BODY_BYTES);
  await cli(['import', '--org', 'acme', '--user', 'ann', big]);
  const small = join(root, 'bob-maildir');
  await writeMaildir(small, 5, 4096);
  await cli(['import', '--org', 'acme', '--user', 'bob', small]);

  const exports = await cli(['credentials']);
  const value = (name: string) => new RegExp(`^export ${name}=(.+)$`, 'm').exec(exports)?.[1];
  credentials = {
    accessKeyId: value('AWS_ACCESS_KEY_ID')!,
    secretAccessKey: value('AWS_SECRET_ACCESS_KEY')!,
  };
  await rm(big, { recursive: true });
});

after(async () => {
  await Promise.all([...children].map(stop));
  if (root) await rm(root, { recursive: true, force: true });
});

describe('a serve process killed with SIGKILL in the middle of an export', () => {
  it('resumes the job at restart, ends it with a verified zip and leaves no temporary file', async (t) => {
    const buckets = join(data, 'buckets');
    const nodeId = (await readFile(join(data, 'node-id'), 'utf8')).trim();

    const first = await startServe();
    const jobId = await startExport(first, ann, 'exports', 'killed');
    await untilHalfWay(first, jobId);

    const exited = once(first.child, 'exit');
    first.child.kill('SIGKILL');
    const [, signal] = await exited;
    assert.equal(signal, 'SIGKILL');

    const held = storedJob(jobId);
    assert.equal(held.state, 'RUNNING');
    assert.equal(held.lease_owner, nodeId, 'the dead node does not hold the lease');
    assert.equal(held.attempts, 1);

    const afterKill = await filesUnder(buckets);
    assert.deepEqual(
      afterKill.filter((path) => path.includes(jobId) || path.startsWith('exports/killed')),
      [],
      'an object appeared before the export was whole',
    );
    // The kill left the zip being written: that is what the restart must clean up.
    const leftByKill = afterKill.filter(isTemp);
    t.diagnostic(`temporary files after the kill: ${leftByKill.join(', ') || 'none'}`);
    assert.ok(leftByKill.length > 0, 'the kill left no temporary file: it came too late');

    // Same node-id, so the node takes its own job back at once instead of after the lease.
    const second = await startServe();
    const writing = await until(async () => {
      const temps = (await filesUnder(buckets)).filter(isTemp);
      return temps.filter((path) => !leftByKill.includes(path));
    }, 30_000);

    // A one-shot export on the same data folder sweeps leftovers as it opens: it must take the
    // dead process's temporary file, never the one the live service is writing.
    await cli(['export', '--org', 'acme', '--user', 'bob', '--bucket', 'spare', '--quiet']);
    if ((await describeJob(second, jobId)).State === 'RUNNING') {
      const now = await filesUnder(buckets);
      assert.ok(
        writing.every((path) => now.includes(path)),
        'a temporary file of the live service was removed',
      );
    }

    const ended = await pollJob(second, jobId, (job) => job.State !== 'RUNNING', 60_000);
    assert.equal(ended.State, 'COMPLETED', `${ended.ErrorInfo}\n${second.output().slice(-4000)}`);
    assert.equal(ended.EstimatedProgress, 100);
    assert.equal(ended.S3Path, `s3://exports/killed/${jobId}.zip`);
    await stop(second.child);
    assert.match(second.output(), /"action":"resumed","attempt":2/);
    assert.match(second.output(), /temporary files of stopped processes removed/);

    const resumed = storedJob(jobId);
    assert.equal(resumed.state, 'COMPLETED');
    assert.equal(resumed.attempts, 2, 'the job was not resumed exactly once');

    const files = await filesUnder(buckets);
    assert.deepEqual(files.filter(isTemp), [], 'a temporary file is left in a bucket folder');
    assert.deepEqual(
      files.filter((path) => path.startsWith('exports/killed/')),
      [`exports/killed/${jobId}.export-log.json`, `exports/killed/${jobId}.zip`],
    );

    const zip = join(root, 'killed.zip');
    await cli(['get', ended.S3Path!, '-o', zip]);
    await cli([
      'get',
      ended.S3Path!.replace(/\.zip$/, '.export-log.json'),
      '-o',
      join(root, 'killed.export-log.json'),
    ]);
    const log = JSON.parse(await readFile(join(root, 'killed.export-log.json'), 'utf8'));
    assert.equal(log.totalMessages, String(MESSAGES));
    await cli(['verify', zip]);
  });

  it('keeps serving after a job fails because its bucket folder is removed mid-run', async (t) => {
    const serving = await startServe();
    const doomed = await startExport(serving, ann, 'doomed', 'gone');
    await untilHalfWay(serving, doomed);
    await rm(join(data, 'buckets', 'doomed'), { recursive: true, force: true });

    const failed = await pollJob(serving, doomed, (job) => job.State !== 'RUNNING', 60_000);
    assert.equal(failed.State, 'FAILED', serving.output().slice(-4000));
    assert.ok((failed.ErrorInfo ?? '').length > 0, 'a failed job must say why');
    t.diagnostic(`ErrorInfo: ${failed.ErrorInfo}`);
    const left = await filesUnder(join(data, 'buckets'));
    assert.deepEqual(
      left.filter((path) => path.includes(doomed) || isTemp(path)),
      [],
      'the failed job left an object or a temporary file',
    );

    assert.equal(serving.child.exitCode, null, 'the service stopped');
    assert.equal((await fetch(`${serving.url}/healthz`)).status, 200);
    const listed = await serving.client.send(
      new ListMailboxExportJobsCommand({ OrganizationId: organizationId }),
    );
    assert.ok(listed.Jobs?.some((job) => job.JobId === doomed && job.State === 'FAILED'));

    const next = await startExport(serving, bob, 'spare', 'after-fault');
    const completed = await pollJob(serving, next, (job) => job.State !== 'RUNNING', 30_000);
    assert.equal(completed.State, 'COMPLETED', completed.ErrorInfo);
    await cli(['verify', completed.S3Path!]);
  });
});
