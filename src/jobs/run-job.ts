import type { Backends, JobBackends } from '../core/backends.js';
import { ExportError, type ExportErrorCode } from '../core/errors.js';
import type { Compression, ExportProgress, ExportResult, RunExport } from '../core/export.js';
import type { JobStore } from '../core/job-store.js';
import type { Logger } from '../core/log.js';
import type { ExportJob, JobState, Organization } from '../core/model.js';
import { checkKey } from '../keys/check.js';
import { errorCodeOf, errorInfoFor } from './error-info.js';
import type { JobEvent } from './events.js';
import type { KeyRule } from './keys.js';
import { ProgressGauge, ProgressWriter } from './progress.js';

/** Why this node stopped a job before its export ended. */
export type StopReason = 'cancel' | 'shutdown' | 'lease-lost';

/** The reason given to a job's AbortController, so the runner knows how to end the job. */
export class JobStop extends Error {
  readonly reason: StopReason;

  constructor(reason: StopReason) {
    super(`The export job was stopped (${reason}).`);
    this.name = 'JobStop';
    this.reason = reason;
  }
}

export function stopReasonOf(signal: AbortSignal): StopReason | undefined {
  if (!signal.aborted) return undefined;
  return signal.reason instanceof JobStop ? signal.reason.reason : 'shutdown';
}

/** A job this node has taken: queued for a worker, or running. */
export interface LocalJob {
  readonly jobId: string;
  readonly organizationId: string;
  readonly controller: AbortController;
  phase: 'queued' | 'running';
  /** Settles when this node is done with the job, whether or not the job ended. */
  readonly done: Promise<void>;
  readonly settle: () => void;
}

export function newLocalJob(jobId: string, organizationId: string): LocalJob {
  let settle!: () => void;
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  return {
    jobId,
    organizationId,
    controller: new AbortController(),
    phase: 'queued',
    done,
    settle,
  };
}

/** What a worker needs to run one job; supplied by the engine. */
export interface RunContext {
  readonly store: JobStore;
  readonly backends: Backends;
  readonly runExport: RunExport;
  readonly keyFor: KeyRule;
  readonly badItemLimit?: number;
  readonly compression?: Compression;
  readonly progressIntervalMs: number;
  readonly progressEventMs?: number;
  readonly logger: Logger;
  readonly clock: () => Date;
  readonly emit: (event: JobEvent) => void;
}

/**
 * Ends a job in the store and reports it. False when the job had already ended (another node
 * or a cancel got there first): the first end wins.
 */
export async function endJob(
  ctx: RunContext,
  job: { readonly jobId: string; readonly organizationId: string },
  end: {
    readonly state: Exclude<JobState, 'RUNNING'>;
    readonly errorInfo?: string;
    readonly errorCode?: ExportErrorCode;
    readonly result?: ExportResult;
    readonly startedAt?: number;
  },
): Promise<boolean> {
  const endTime = ctx.clock();
  const ended = await ctx.store.finishJob(job.jobId, {
    state: end.state,
    endTime,
    ...(end.errorInfo !== undefined && { errorInfo: end.errorInfo }),
    ...(end.result !== undefined && { exportLog: end.result.log }),
  });
  if (!ended) return false;

  ctx.emit({
    type: 'finished',
    jobId: job.jobId,
    organizationId: job.organizationId,
    state: end.state,
    ...(end.errorInfo !== undefined && { errorInfo: end.errorInfo }),
    ...(end.errorCode !== undefined && { errorCode: end.errorCode }),
    ...(end.startedAt !== undefined && { durationMs: endTime.getTime() - end.startedAt }),
    ...(end.result !== undefined && { zipBytes: end.result.zipBytes }),
  });
  return true;
}

/**
 * Runs one attempt of a job to its end: COMPLETED with the export log, FAILED with an
 * `ErrorInfo` sentence, or CANCELLED. A job stopped by shutdown or by a lost lease is left
 * RUNNING for the node that resumes it. The backends are closed whatever happens.
 */
export async function runJob(ctx: RunContext, local: LocalJob): Promise<void> {
  const log = ctx.logger.child({ jobId: local.jobId });
  const signal = local.controller.signal;

  const job = await ctx.store.getJob(local.organizationId, local.jobId);
  if (job === undefined || job.state !== 'RUNNING') return;
  if (job.cancelRequested || stopReasonOf(signal) === 'cancel') {
    await endJob(ctx, job, { state: 'CANCELLED' });
    return;
  }
  if (signal.aborted) {
    interrupted(ctx, job, signal, log);
    return;
  }

  const startedAt = ctx.clock().getTime();
  ctx.emit({
    type: 'started',
    jobId: job.jobId,
    organizationId: job.organizationId,
    attempt: job.attempts ?? 1,
  });
  log.info({ attempt: job.attempts ?? 1 }, 'export job started');

  const writer = new ProgressWriter(
    ctx.progressIntervalMs,
    (value) => ctx.store.setProgress(job.jobId, value),
    (err) => log.warn({ err }, 'export job progress not saved'),
  );
  let backends: JobBackends | undefined;
  try {
    const opened = await openBackends(ctx, job, signal);
    backends = opened.backends;
    await preflight(job, opened.organization, backends, signal, log);
    signal.throwIfAborted();
    const result = await exportWith(ctx, job, backends, signal, writer);
    await writer.stop();
    if (await endJob(ctx, job, { state: 'COMPLETED', result, startedAt })) {
      log.info({ zipBytes: result.zipBytes, items: result.itemsExported }, 'export job completed');
    }
  } catch (error) {
    await writer.stop();
    await endFailed(ctx, job, signal, error, startedAt, log);
  } finally {
    if (backends !== undefined) {
      await backends.close().catch((err: unknown) => {
        log.warn({ err }, 'export job backends not closed cleanly');
      });
    }
  }
}

async function openBackends(
  ctx: RunContext,
  job: ExportJob,
  signal: AbortSignal,
): Promise<{ organization: Organization; backends: JobBackends }> {
  const organization = await ctx.store.getOrganization(job.organizationId);
  const user = organization && (await ctx.store.getUser(job.organizationId, job.entityId));
  if (organization === undefined || user === undefined) {
    throw new ExportError(
      'SourceUnavailable',
      `The user ${job.entityId} or its organization ${job.organizationId} no longer exists, ` +
        'so its mailbox cannot be read.',
    );
  }
  return { organization, backends: await ctx.backends.forJob(organization, user, job, signal) };
}

/**
 * Checks the key and the bucket before anything is read or written, so that a job set up
 * wrong fails at once with a reason, not after uploading part of a mailbox: the key must
 * exist, be enabled, symmetric and in the organization's region; the bucket must exist, not be
 * public, and be in that region. Warnings (a server that cannot tell whether a bucket is
 * public) go to the log.
 */
async function preflight(
  job: ExportJob,
  organization: Organization,
  backends: JobBackends,
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  await checkKey(backends.keyService, job.kmsKeyArn, organization.region, signal);
  const checked = await backends.objectStore.checkBucket(
    { bucket: job.s3BucketName, region: organization.region },
    signal,
  );
  for (const warning of checked?.warnings ?? []) {
    log.warn({ bucket: job.s3BucketName }, warning);
  }
}

function exportWith(
  ctx: RunContext,
  job: ExportJob,
  backends: JobBackends,
  signal: AbortSignal,
  writer: ProgressWriter,
): Promise<ExportResult> {
  const keys = ctx.keyFor(job);
  const gauge = new ProgressGauge();
  const onProgress = (progress: ExportProgress): void => {
    const estimatedProgress = gauge.update(progress);
    if (estimatedProgress === undefined) return;
    writer.push(estimatedProgress);
    ctx.emit({
      type: 'progress',
      jobId: job.jobId,
      organizationId: job.organizationId,
      estimatedProgress,
      progress,
    });
  };

  return ctx.runExport({
    jobId: job.jobId,
    source: backends.source,
    objectStore: backends.objectStore,
    bucket: job.s3BucketName,
    zipKey: keys.zipKey,
    logKey: keys.logKey,
    kmsKeyArn: job.kmsKeyArn,
    signal,
    startTime: job.startTime,
    ...(ctx.badItemLimit !== undefined && { badItemLimit: ctx.badItemLimit }),
    ...(ctx.compression !== undefined && { compression: ctx.compression }),
    ...(ctx.progressEventMs !== undefined && { progressEventMs: ctx.progressEventMs }),
    onProgress,
  });
}

async function endFailed(
  ctx: RunContext,
  job: ExportJob,
  signal: AbortSignal,
  error: unknown,
  startedAt: number,
  log: Logger,
): Promise<void> {
  const reason = stopReasonOf(signal);
  if (reason === 'cancel') {
    if (await endJob(ctx, job, { state: 'CANCELLED', startedAt })) log.info('export job cancelled');
    return;
  }
  if (reason !== undefined) {
    interrupted(ctx, job, signal, log);
    return;
  }

  const errorInfo = errorInfoFor(error, job.jobId);
  const code = errorCodeOf(error);
  if (await endJob(ctx, job, { state: 'FAILED', errorInfo, errorCode: code, startedAt })) {
    if (code === 'Internal') log.error({ err: error }, 'export job failed');
    else log.warn({ err: error, code }, 'export job failed');
  }
}

function interrupted(ctx: RunContext, job: ExportJob, signal: AbortSignal, log: Logger): void {
  const reason = stopReasonOf(signal) === 'lease-lost' ? 'lease-lost' : 'shutdown';
  ctx.emit({ type: 'interrupted', jobId: job.jobId, organizationId: job.organizationId, reason });
  log.info({ reason }, 'export job interrupted');
}
