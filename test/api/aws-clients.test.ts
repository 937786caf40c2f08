import {
  CreateOrganizationCommand,
  CreateUserCommand,
  DescribeMailboxExportJobCommand,
  paginateListMailboxExportJobs,
  RegisterToWorkMailCommand,
  StartMailboxExportJobCommand,
  WorkMailClient,
  type MailboxExportJob,
} from '@aws-sdk/client-workmail';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import { repoRoot } from '../helpers/paths.js';

/**
 * AWS's own clients against the real `serve` process on the embedded defaults: AWS's export
 * procedure with the AWS CLI v1 (the one on PATH) and v2 (Debian's, at /usr/bin/aws), then
 * with the JavaScript SDK, whose paginator walks a listing of more than one full page.
 */

const BIN = join(repoRoot, 'bin', 'mailbox-export.js');
const CLI_V2 = '/usr/bin/aws';
const REGION = 'us-east-1';
const ROLE_ARN = 'arn:aws:iam::111122223333:role/export';
const BUCKET = 'exports';

// A folder of 100 real messages (Enron corpus): enough for a zip worth verifying, small enough
// to import and export in a second or two.
const MAIL_FOLDER = join(repoRoot, 'sample', 'mail', 'stepenovitch-j', 'inbox', 'personal_mail');
const MAIL_FOLDER_MESSAGES = 100;

// One page more than the model's largest page (MaxResults 100), so that a listing needs a
// NextToken whatever page size the client asks for.
const MANY_JOBS = 110;

const testStartMs = Date.now();

let root: string;
let data: string;
let config: string;
let serve: ChildProcess | undefined;
let serveOutput = '';
let endpoint: string;
let credentials: { accessKeyId: string; secretAccessKey: string };

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to its end and never throws on a failure, only when it cannot start. */
function runProgram(program: string, args: readonly string[], env: NodeJS.ProcessEnv) {
  return new Promise<Ran>((resolve, reject) => {
    execFile(
      program,
      args,
      { cwd: repoRoot, env, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${program} could not run: ${error.message}`, { cause: error }));
          return;
        }
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });
}

/** mailbox-export's own command line on the test's data folder and configuration. */
function mailboxExport(args: readonly string[]): Promise<Ran> {
  return runProgram(process.execPath, [BIN, '-d', data, '-c', config, ...args], {
    ...process.env,
    LOG_LEVEL: 'warn',
  });
}

/**
 * The environment of an AWS CLI child: the service's key and nothing from this machine's own
 * AWS set-up, so that no profile, endpoint or credential of the developer leaks in.
 */
function awsEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_')) env[name] = value;
  }
  return {
    ...env,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_DEFAULT_REGION: REGION,
    AWS_CONFIG_FILE: join(root, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(root, 'no-aws-credentials'),
    AWS_PAGER: '',
  };
}

/** One `aws workmail` call. v2 ignores AWS_ENDPOINT_URL, so both get `--endpoint-url`. */
function workmail(aws: string, operation: string, args: readonly string[]): Promise<Ran> {
  return runProgram(
    aws,
    ['workmail', operation, ...args, '--endpoint-url', endpoint, '--output', 'json'],
    awsEnvironment(),
  );
}

/** One `aws workmail` call that must succeed; its JSON answer, `{}` when it prints none. */
async function workmailJson(
  aws: string,
  operation: string,
  args: readonly string[],
): Promise<Record<string, unknown>> {
  const ran = await workmail(aws, operation, args);
  assert.equal(ran.code, 0, `${aws} workmail ${operation}: ${ran.stderr}`);
  return ran.stdout.trim() === '' ? {} : (JSON.parse(ran.stdout) as Record<string, unknown>);
}

/** A string member of an AWS CLI answer. */
function member(answer: Record<string, unknown>, name: string): string {
  const value = answer[name];
  assert.equal(typeof value, 'string', `${name} is missing from ${JSON.stringify(answer)}`);
  return value as string;
}

/** Starts `serve` and waits until it says where it listens. */
async function startServe(): Promise<void> {
  const child = spawn(process.execPath, [BIN, 'serve', '-d', data, '-c', config], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  serve = child;

  child.stdout.on('data', (chunk: Buffer) => (serveOutput += chunk.toString()));
  endpoint = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      serveOutput += chunk.toString();
      const serving = /mailbox-export: serving (http:\/\/127\.0\.0\.1:\d+)/.exec(serveOutput);
      if (serving) resolve(serving[1]!);
    });
    child.once('exit', (code, signal) => {
      reject(new Error(`serve ended (${code ?? signal}) before it listened:\n${serveOutput}`));
    });
  });
}

/** SIGTERM, then SIGKILL if the process lingers past a few seconds. */
async function stopServe(): Promise<void> {
  const child = serve;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;

  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** `setup` makes only what is missing: here the embedded key and bucket of an export. */
async function setUp(alias: string, user: string): Promise<Record<string, string>> {
  const ran = await mailboxExport(['setup', '--org', alias, '--user', user, '--json']);
  assert.equal(ran.code, 0, ran.stderr);
  return JSON.parse(ran.stdout) as Record<string, string>;
}

async function importMailFolder(alias: string, user: string): Promise<void> {
  const ran = await mailboxExport(['import', '--org', alias, '--user', user, MAIL_FOLDER]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.match(ran.stdout, new RegExp(`: ${MAIL_FOLDER_MESSAGES} messages in 1 folder\n`));
}

/** Fetches the zip and its export log out of the bucket, decrypted, and verifies them. */
async function getAndVerify(s3Path: string, name: string): Promise<Record<string, string>> {
  const zip = join(root, `${name}.zip`);
  const log = join(root, `${name}.export-log.json`);
  const gotZip = await mailboxExport(['get', s3Path, '-o', zip]);
  assert.equal(gotZip.code, 0, gotZip.stderr);
  const gotLog = await mailboxExport([
    'get',
    s3Path.replace(/\.zip$/, '.export-log.json'),
    '-o',
    log,
  ]);
  assert.equal(gotLog.code, 0, gotLog.stderr);

  // As the README runs it: verify finds the log beside the zip by its name.
  const verified = await mailboxExport(['verify', zip]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);

  // Checked here as well, so that a verify that passes everything cannot hide a wrong log.
  const exportLog = JSON.parse(await readFile(log, 'utf8')) as Record<string, string>;
  const bytes = await readFile(zip);
  assert.equal(exportLog.totalMessages, String(MAIL_FOLDER_MESSAGES));
  assert.equal(exportLog.totalBytes, String(bytes.length));
  assert.equal(exportLog.sha384Hash, createHash('sha384').update(bytes).digest('hex'));
  return exportLog;
}

/**
 * A time as the AWS CLI prints it: v1 leaves JSON 1.1's epoch seconds as they came, v2 writes
 * ISO 8601. Either way it must be a moment of this test run, so seconds read as milliseconds
 * (or the reverse) fail.
 */
function cliTime(value: unknown, member: string): number {
  const ms = typeof value === 'number' ? value * 1000 : Date.parse(String(value));
  assert.ok(
    ms >= testStartMs - 1000 && ms <= Date.now() + 1000,
    `${member} ${String(value)} is not a moment of this test run`,
  );
  return ms;
}

function assertTimes(job: Record<string, unknown>): void {
  const start = cliTime(job.StartTime, 'StartTime');
  const end = cliTime(job.EndTime, 'EndTime');
  assert.ok(start <= end, `the job ended (${end}) before it started (${start})`);
}

interface AwsCli {
  readonly program: string;
  readonly version: RegExp;
  /** Exit status of a service error: v1 has one status for every failure, v2 its own. */
  readonly serviceErrorExit: number;
}

/** AWS's export procedure, step by step as the README gives it, with one AWS CLI. */
async function exportWithAwsCli(cli: AwsCli, alias: string): Promise<void> {
  const { program: aws } = cli;
  const version = await runProgram(aws, ['--version'], awsEnvironment());
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout + version.stderr, cli.version);

  const organization = await workmailJson(aws, 'create-organization', ['--alias', alias]);
  const organizationId = member(organization, 'OrganizationId');
  assert.match(organizationId, /^m-[0-9a-f]{32}$/);
  const user = await workmailJson(aws, 'create-user', [
    ...['--organization-id', organizationId, '--name', 'ann'],
    ...['--display-name', 'Ann', '--password', 'Not-used-1'],
  ]);
  const userId = member(user, 'UserId');
  await workmailJson(aws, 'register-to-work-mail', [
    ...['--organization-id', organizationId, '--entity-id', userId],
    ...['--email', `ann@${alias}.awsapps.com`],
  ]);

  await importMailFolder(alias, 'ann');
  const made = await setUp(alias, 'ann');
  assert.equal(made.organizationId, organizationId, 'setup made another organization');
  assert.equal(made.userId, userId, 'setup made another user');
  const kmsKeyArn = made.kmsKeyArn!;
  assert.match(kmsKeyArn, /^arn:aws:kms:us-east-1:111122223333:key\//);

  const prefix = `off-boarding/${alias}`;
  const startArgs = (clientToken: string, bucket: string) => [
    ...['--client-token', clientToken, '--organization-id', organizationId],
    ...['--entity-id', userId, '--description', `off-boarding of Ann (${alias})`],
    ...['--role-arn', ROLE_ARN, '--kms-key-arn', kmsKeyArn],
    ...['--s3-bucket-name', bucket, '--s3-prefix', prefix],
  ];
  const start = startArgs(randomUUID(), BUCKET);
  const jobId = member(await workmailJson(aws, 'start-mailbox-export-job', start), 'JobId');
  assert.match(jobId, /^[A-Za-z0-9-]+$/);
  const s3Path = `s3://${BUCKET}/${prefix}/${jobId}.zip`;

  // The CLI sends the client token given, so a replay must be answered with the same job.
  const replayed = await workmailJson(aws, 'start-mailbox-export-job', start);
  assert.equal(replayed.JobId, jobId, 'a replayed client token started another job');

  const listed = await workmailJson(aws, 'list-mailbox-export-jobs', [
    '--organization-id',
    organizationId,
  ]);
  const [summary, ...others] = listed.Jobs as Record<string, unknown>[];
  assert.deepEqual(others, [], 'the organization lists jobs it never started');
  assert.ok(summary, 'the job started is not listed');
  assert.equal(summary.JobId, jobId);
  assert.equal(summary.EntityId, userId);
  assert.equal(summary.S3BucketName, BUCKET);
  assert.equal(summary.S3Path, s3Path);
  assert.ok(['RUNNING', 'COMPLETED'].includes(String(summary.State)), String(summary.State));

  let job: Record<string, unknown> = {};
  for (let attempt = 0; attempt < 60; attempt++) {
    job = await workmailJson(aws, 'describe-mailbox-export-job', [
      ...['--organization-id', organizationId, '--job-id', jobId],
    ]);
    if (job.State !== 'RUNNING') break;
    await delay(500);
  }
  assert.equal(job.State, 'COMPLETED', `${String(job.ErrorInfo)}\n${serveOutput.slice(-4000)}`);
  assert.equal(job.EstimatedProgress, 100);
  assert.equal(job.EntityId, userId);
  assert.equal(job.Description, `off-boarding of Ann (${alias})`);
  assert.equal(job.RoleArn, ROLE_ARN);
  assert.equal(job.KmsKeyArn, kmsKeyArn);
  assert.equal(job.S3BucketName, BUCKET);
  assert.equal(job.S3Prefix, prefix);
  assert.equal(job.S3Path, s3Path);
  assert.equal(job.ErrorInfo, undefined);
  assertTimes(job);

  await getAndVerify(s3Path, alias);

  const unknownJob = randomUUID();
  const notFound = await workmail(aws, 'describe-mailbox-export-job', [
    ...['--organization-id', organizationId, '--job-id', unknownJob],
  ]);
  assert.equal(notFound.code, cli.serviceErrorExit, notFound.stderr);
  assert.match(notFound.stderr, /\(EntityNotFoundException\) when calling the DescribeMailbox/);
  assert.ok(notFound.stderr.includes(unknownJob), notFound.stderr);

  // botocore checks only required members and minimum lengths; a pattern is the service's.
  const badBucket = startArgs(randomUUID(), 'Bad_Bucket');
  const invalid = await workmail(aws, 'start-mailbox-export-job', badBucket);
  assert.equal(invalid.code, cli.serviceErrorExit, invalid.stderr);
  assert.match(invalid.stderr, /\(InvalidParameterException\) when calling the StartMailbox/);
  assert.match(invalid.stderr, /Value 'Bad_Bucket' at 's3BucketName' failed to satisfy/);

  // After the refusal, the listing still holds the one job, now ended.
  const relisted = await workmailJson(aws, 'list-mailbox-export-jobs', [
    '--organization-id',
    organizationId,
  ]);
  const [ended, ...more] = relisted.Jobs as Record<string, unknown>[];
  assert.deepEqual(more, [], 'a refused start left a job');
  assert.ok(ended, 'the job started is no longer listed');
  assert.equal(ended.JobId, jobId);
  assert.equal(ended.State, 'COMPLETED');
  assert.equal(ended.EstimatedProgress, 100);
  assert.equal(ended.Description, `off-boarding of Ann (${alias})`);
  assertTimes(ended);
}

/** Polls a job with the SDK until it leaves RUNNING, for at most `timeoutMs`. */
async function untilEnded(
  client: WorkMailClient,
  organizationId: string,
  jobId: string,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await client.send(
      new DescribeMailboxExportJobCommand({ OrganizationId: organizationId, JobId: jobId }),
    );
    if (job.State !== 'RUNNING' || Date.now() > deadline) return job;
    await delay(200);
  }
}

/** Every page of the organization's listing, walked by the SDK's paginator. */
async function listAllPages(
  client: WorkMailClient,
  organizationId: string,
  pageSize: number,
): Promise<MailboxExportJob[][]> {
  const pages: MailboxExportJob[][] = [];
  const paginator = paginateListMailboxExportJobs(
    { client, pageSize },
    { OrganizationId: organizationId },
  );
  for await (const page of paginator) pages.push(page.Jobs ?? []);
  return pages;
}

describe('the AWS CLI and SDK against a serve process', () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mailbox-export-aws-clients-'));
    data = join(root, 'data');
    config = join(root, 'config.json');

    // A free port, and limits that let one mailbox be exported over a hundred times at once;
    // the AWS CLI runs keep to their own organizations, as the default limits would want.
    await writeFile(
      config,
      JSON.stringify({
        server: { port: 0 },
        jobs: { mailboxIntervalSeconds: 0, maxRunningPerOrganization: 1000 },
      }),
    );
    await startServe();

    const printed = await mailboxExport(['credentials']);
    assert.equal(printed.code, 0, printed.stderr);
    const value = (name: string) =>
      new RegExp(`^export ${name}=(.+)$`, 'm').exec(printed.stdout)?.[1];
    const accessKeyId = value('AWS_ACCESS_KEY_ID');
    const secretAccessKey = value('AWS_SECRET_ACCESS_KEY');
    assert.ok(accessKeyId && secretAccessKey, printed.stdout);
    credentials = { accessKeyId, secretAccessKey };
  });

  after(async () => {
    await stopServe();
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('AWS CLI v1 (the aws on PATH) runs the export procedure end to end', async () => {
    await exportWithAwsCli(
      { program: 'aws', version: /^aws-cli\/1\./, serviceErrorExit: 255 },
      'acme-v1',
    );
  });

  test('AWS CLI v2 (/usr/bin/aws) runs the export procedure end to end', async () => {
    // No skip: CI installs it with scripts/install-test-deps.sh, and a skip would pass unseen.
    assert.ok(existsSync(CLI_V2), `${CLI_V2} is missing: run scripts/install-test-deps.sh`);
    await exportWithAwsCli(
      { program: CLI_V2, version: /^aws-cli\/2\./, serviceErrorExit: 254 },
      'acme-v2',
    );
  });

  test('the JavaScript SDK exports a mailbox and pages through more than 100 jobs', async () => {
    const client = new WorkMailClient({ endpoint, region: REGION, credentials, maxAttempts: 1 });
    try {
      const { OrganizationId: organizationId } = await client.send(
        new CreateOrganizationCommand({ Alias: 'acme-sdk' }),
      );
      assert.ok(organizationId);
      const userId = async (name: string) => {
        const { UserId } = await client.send(
          new CreateUserCommand({
            OrganizationId: organizationId,
            Name: name,
            DisplayName: name,
            Password: 'Not-used-1',
          }),
        );
        assert.ok(UserId);
        await client.send(
          new RegisterToWorkMailCommand({
            OrganizationId: organizationId,
            EntityId: UserId,
            Email: `${name}@acme-sdk.awsapps.com`,
          }),
        );
        return UserId;
      };
      const ann = await userId('ann');
      // The many jobs of the listing export an empty mailbox, so they end in moments.
      const bob = await userId('bob');

      await importMailFolder('acme-sdk', 'ann');
      const { kmsKeyArn } = await setUp('acme-sdk', 'ann');
      assert.ok(kmsKeyArn);
      const exportOf = (entityId: string, prefix: string) =>
        new StartMailboxExportJobCommand({
          ClientToken: randomUUID(),
          OrganizationId: organizationId,
          EntityId: entityId,
          Description: `export of ${entityId}`,
          RoleArn: ROLE_ARN,
          KmsKeyArn: kmsKeyArn,
          S3BucketName: BUCKET,
          S3Prefix: prefix,
        });

      const { JobId: annJob } = await client.send(exportOf(ann, 'sdk/ann'));
      assert.ok(annJob);
      const job = await untilEnded(client, organizationId, annJob, 30_000);
      assert.equal(job.State, 'COMPLETED', `${job.ErrorInfo}\n${serveOutput.slice(-4000)}`);
      assert.equal(job.EstimatedProgress, 100);
      assert.equal(job.EntityId, ann);
      const s3Path = `s3://${BUCKET}/sdk/ann/${annJob}.zip`;
      assert.equal(job.S3Path, s3Path);
      assert.ok(job.StartTime instanceof Date && job.EndTime instanceof Date);
      assert.ok(job.StartTime <= job.EndTime);
      await getAndVerify(s3Path, 'acme-sdk');

      // One after the other, so that each job starts after the one before it.
      const started = [annJob];
      for (let i = 0; i < MANY_JOBS; i++) {
        const { JobId } = await client.send(exportOf(bob, 'sdk/bob'));
        assert.ok(JobId);
        started.push(JobId);
      }
      const startOrder = new Map(started.map((jobId, index) => [jobId, index]));

      for (const pageSize of [25, 100]) {
        const pages = await listAllPages(client, organizationId, pageSize);
        const sizes = pages.map((page) => page.length);
        const full = Math.floor(started.length / pageSize);
        const expected = [...Array<number>(full).fill(pageSize), started.length % pageSize];
        assert.deepEqual(
          sizes,
          expected.filter((size) => size > 0),
          `pages of ${pageSize}`,
        );

        const listed = pages.flat().map((summary) => summary.JobId!);
        assert.equal(new Set(listed).size, listed.length, 'a job is listed twice');
        assert.deepEqual([...listed].sort(), [...started].sort());

        // Newest first. Jobs started within the same millisecond share a StartTime and may
        // come in either order; any other pair must come in reverse start order.
        const jobs = pages.flat();
        for (let i = 1; i < jobs.length; i++) {
          const newer = jobs[i - 1]!;
          const older = jobs[i]!;
          const newerMs = newer.StartTime!.getTime();
          const olderMs = older.StartTime!.getTime();
          assert.ok(newerMs >= olderMs, `job ${i} of the listing started after job ${i - 1}`);
          if (newerMs > olderMs) {
            assert.ok(startOrder.get(newer.JobId!)! > startOrder.get(older.JobId!)!);
          }
        }
        assert.equal(listed.at(-1), annJob, 'the first job started is not listed last');
      }

      // Every export of the empty mailbox ends, so the service stops with nothing running.
      const deadline = Date.now() + 60_000;
      let states: string[] = [];
      do {
        await delay(250);
        states = (await listAllPages(client, organizationId, 100))
          .flat()
          .map((summary) => summary.State!);
      } while (states.includes('RUNNING') && Date.now() < deadline);
      assert.deepEqual(
        [...new Set(states)],
        ['COMPLETED'],
        `jobs not completed:\n${serveOutput.slice(-4000)}`,
      );
    } finally {
      client.destroy();
    }
  });
});
