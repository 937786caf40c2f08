import { randomUUID } from 'node:crypto';

import type { App } from '../../app/app.js';
import { ExportError, EXPORT_ERRORS, type ExportErrorCode } from '../../core/errors.js';
import type { Compression } from '../../core/export.js';
import type { ExportJob } from '../../core/model.js';
import type { JobEvent } from '../../jobs/events.js';
import { callOperation, findOrganization, findUser, withApp } from '../app-context.js';
import type { GlobalOptions } from '../main.js';
import { chooseMode, createProgressDisplay, type ProgressDisplay } from '../progress.js';
import { UsageError } from '../usage-error.js';
import { defaultRoleArn } from './setup.js';

export interface ExportCommandOptions extends GlobalOptions {
  org: string;
  user: string;
  bucket: string;
  prefix: string;
  key?: string;
  role?: string;
  description?: string;
  json?: boolean;
  quiet?: boolean;
  compression?: Compression;
}

/** What an in-process export ended with: the job as stored, and why it failed if it did. */
export interface ExportOutcome {
  readonly job: ExportJob;
  readonly errorCode?: ExportErrorCode;
}

/** Follows the engine's events: draws progress, and keeps why each job failed. */
export class JobWatch {
  readonly #display: ProgressDisplay;
  readonly #codes = new Map<string, ExportErrorCode>();

  constructor(display: ProgressDisplay) {
    this.#display = display;
  }

  readonly listener = (event: JobEvent): void => {
    if (event.type === 'progress') this.#display.update(event.progress);
    if (event.type === 'finished' && event.errorCode) this.#codes.set(event.jobId, event.errorCode);
  };

  errorCode(jobId: string): ExportErrorCode | undefined {
    return this.#codes.get(jobId);
  }

  /** Ends the display once the job has ended, at 100% if it completed. */
  finish(job: ExportJob): void {
    if (job.state === 'COMPLETED') this.#display.complete();
    this.#display.end();
  }
}

/**
 * Runs one export job in this process through the same engine as `serve`: the job is recorded
 * in the job store (so `serve` lists it too) and limits apply. Ctrl-C cancels it.
 */
export async function exportNow(
  app: App,
  options: ExportCommandOptions,
  watch: JobWatch,
): Promise<ExportOutcome> {
  const organization = await findOrganization(app, options.org);
  const user = await findUser(app, organization, options.user);
  const kmsKeyArn = options.key ?? (await onlyLocalKey(app, organization.region));

  const job = await app.engine.start({
    organizationId: organization.organizationId,
    entityId: user.userId,
    ...(options.description ? { description: options.description } : {}),
    roleArn: options.role ?? defaultRoleArn(organization.accountId),
    kmsKeyArn,
    s3BucketName: options.bucket,
    s3Prefix: options.prefix,
    clientToken: randomUUID(),
  });

  const interrupt = () => void app.engine.cancel(organization.organizationId, job.jobId);
  process.once('SIGINT', interrupt);
  try {
    const ended = await app.engine.waitFor(job.jobId);
    const errorCode = watch.errorCode(job.jobId);
    return { job: ended, ...(errorCode ? { errorCode } : {}) };
  } finally {
    process.off('SIGINT', interrupt);
  }
}

async function onlyLocalKey(app: App, region: string): Promise<string> {
  if (app.config.kms) throw new UsageError('--key is required when keys come from a KMS API.');
  const keys = (await app.localKeys.listKeys()).filter((k) => k.enabled && k.region === region);
  if (keys.length === 1) return keys[0]!.arn;
  throw new UsageError(
    keys.length === 0
      ? 'No embedded key yet: run `mailbox-export setup --org ALIAS --user NAME` first, or ' +
          'give --key.'
      : `There are ${keys.length} embedded keys in ${region}: choose one with --key.`,
  );
}

/** The error to end the command with, for a job that did not complete. */
export function outcomeError(outcome: ExportOutcome): Error | undefined {
  const { job } = outcome;
  if (job.state === 'COMPLETED') return undefined;
  if (job.state === 'CANCELLED')
    return new ExportError('Cancelled', `Export job ${job.jobId} was cancelled.`);
  const message = job.errorInfo ?? `Export job ${job.jobId} failed.`;
  return new ExportError(outcome.errorCode ?? 'Internal', message);
}

/** The job: its `JobId`, what `DescribeMailboxExportJob` answers, and its `ExportLog`. */
export async function printOutcome(app: App, job: ExportJob, json: boolean): Promise<void> {
  const description = await callOperation(app, 'DescribeMailboxExportJob', {
    JobId: job.jobId,
    OrganizationId: job.organizationId,
  });
  const result = { JobId: job.jobId, ...description, ExportLog: job.exportLog };

  if (json) {
    process.stdout.write(`${JSON.stringify({ event: 'result', ...result })}\n`);
    return;
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

export async function runExportCommand(options: ExportCommandOptions): Promise<void> {
  const watch = new JobWatch(
    createProgressDisplay(chooseMode(options), options.json ? process.stdout : process.stderr),
  );

  const outcome = await withApp(
    options,
    async (app) => {
      const ended = await exportNow(app, options, watch);
      watch.finish(ended.job);
      await printOutcome(app, ended.job, options.json ?? false);
      return ended;
    },
    {
      onJobEvent: watch.listener,
      nodeSuffix: '-cli',
      ...(options.compression !== undefined && { compression: options.compression }),
    },
  );

  const error = outcomeError(outcome);
  if (error) {
    process.stderr.write(`mailbox-export: ${error.message}\n`);
    process.exitCode = error instanceof ExportError ? EXPORT_ERRORS[error.code].exit : 1;
  }
}
