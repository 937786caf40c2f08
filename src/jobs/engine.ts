import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';

import type { Backends } from '../core/backends.js';
import type { JobEngine, StartJobRequest } from '../core/engine.js';
import { ApiError } from '../core/errors.js';
import type { Compression, RunExport } from '../core/export.js';
import type { JobLimits, JobStore } from '../core/job-store.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { ExportJob } from '../core/model.js';
import { newJobId } from '../directory/ids.js';
import { INTERRUPTED_ERROR_INFO } from './error-info.js';
import type { JobEvent, JobEventMap } from './events.js';
import { defaultKeyRule, requestFingerprint, tooLongKey, type KeyRule } from './keys.js';
import { limitMessage } from './messages.js';
import {
  endJob,
  JobStop,
  newLocalJob,
  runJob,
  type LocalJob,
  type RunContext,
  type StopReason,
} from './run-job.js';

export interface ExportJobEngineOptions {
  readonly store: JobStore;
  readonly backends: Backends;
  readonly runExport: RunExport;
  readonly limits: JobLimits;
  /** Jobs this node runs at once; more wait in a queue, RUNNING with progress 0. */
  readonly workers: number;
  /** This node's name in job leases; keep it across restarts so they resume at once. */
  readonly nodeId: string;
  /** How long a lease lasts unless renewed; renewed every third of it. */
  readonly leaseSeconds: number;
  /** Where a job's objects go; default `defaultKeyRule`. */
  readonly keyFor?: KeyRule;
  readonly badItemLimit?: number;
  readonly compression?: Compression;
  /** Least time between two progress events of one job; default 250 ms. */
  readonly progressEventMs?: number;
  /** Receives a child logger per job (`{ jobId }`); silent by default. */
  readonly logger?: Logger;
  /** Called with every event, as well as the engine's own `emit`. */
  readonly onEvent?: (event: JobEvent) => void;
  /** Attempts a job gets before a restart fails it instead of resuming it; default 3. */
  readonly maxAttempts?: number;
  /** How often to look for jobs left by stopped nodes; default `leaseSeconds`. */
  readonly sweepSeconds?: number;
  /** Least time between two progress writes of one job; default 1000 ms. */
  readonly progressIntervalMs?: number;
  readonly clock?: () => Date;
}

/**
 * Starts, runs, cancels and recovers export jobs on one node. Jobs are recorded in the store
 * first and run by a bounded pool of workers; a job's lease is renewed while this node holds
 * it, and a job whose lease runs out is taken over by whichever node sweeps first.
 *
 * Chosen semantics, which the README repeats:
 * - Cancelling a job that already ended (COMPLETED included) changes nothing and succeeds. An
 *   export that stores its last object before the cancel reaches it ends COMPLETED.
 * - `close()` aborts running jobs but leaves them RUNNING under this node's lease, so that the
 *   next start of a node with the same `nodeId` resumes them at once (others after the lease).
 * - A resumed job runs again from its start (the export writes nothing until its objects are
 *   whole); after `maxAttempts` starts it is FAILED instead, so none stays RUNNING forever.
 */
export class ExportJobEngine extends EventEmitter<JobEventMap> implements JobEngine {
  readonly #options: ExportJobEngineOptions;
  readonly #context: RunContext;
  readonly #clock: () => Date;
  readonly #maxAttempts: number;
  readonly #jobs = new Map<string, LocalJob>();
  readonly #queue: LocalJob[] = [];
  readonly #organizationOf = new Map<string, string>();
  #active = 0;
  #closed = false;
  #timers: NodeJS.Timeout[] = [];
  #heartbeatRunning = false;
  #sweeps: Promise<void> = Promise.resolve();

  /** Makes an engine, recovers the jobs left by this node or by stopped ones, and runs. */
  static async open(options: ExportJobEngineOptions): Promise<ExportJobEngine> {
    const engine = new ExportJobEngine(options);
    await engine.recover();
    return engine;
  }

  constructor(options: ExportJobEngineOptions) {
    super();
    checkOptions(options);
    this.#options = options;
    this.#clock = options.clock ?? (() => new Date());
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#context = {
      store: options.store,
      backends: options.backends,
      runExport: options.runExport,
      keyFor: options.keyFor ?? defaultKeyRule,
      progressIntervalMs: options.progressIntervalMs ?? 1000,
      logger: options.logger ?? silentLogger,
      clock: this.#clock,
      emit: (event) => this.#emit(event),
      ...(options.badItemLimit !== undefined && { badItemLimit: options.badItemLimit }),
      ...(options.compression !== undefined && { compression: options.compression }),
      ...(options.progressEventMs !== undefined && { progressEventMs: options.progressEventMs }),
    };
  }

  /**
   * Takes over the jobs this node held before it restarted and those whose node stopped, then
   * starts the lease renewal and the periodic sweep. `open` calls it; call it once after
   * `new` otherwise.
   */
  async recover(): Promise<void> {
    if (this.#closed) throw new Error('The job engine is closed.');
    await this.#sweep(this.#options.nodeId);
    if (this.#timers.length > 0) return;

    const leaseMs = this.#options.leaseSeconds * 1000;
    const sweepMs = (this.#options.sweepSeconds ?? this.#options.leaseSeconds) * 1000;
    this.#timers = [
      setInterval(() => void this.#heartbeat(), leaseMs / 3),
      setInterval(() => void this.#sweep(), sweepMs),
    ];
    for (const timer of this.#timers) timer.unref();
  }

  async start(request: StartJobRequest): Promise<ExportJob> {
    if (this.#closed) {
      throw new ApiError('InternalFailure', 'The service is shutting down; start the job again.');
    }
    const { store, nodeId, leaseSeconds } = this.#options;
    const user = await this.#resolveEntity(request);

    const jobId = newJobId();
    const keys = this.#context.keyFor({ jobId, ...request });
    const longKey = tooLongKey(keys);
    if (longKey !== undefined) {
      throw new ApiError(
        'InvalidParameterException',
        `S3Prefix is too long: the object key ${longKey.slice(0, 60)}... would pass S3's ` +
          '1024-byte limit; use a shorter prefix.',
      );
    }

    const inserted = await store.insertJob(
      {
        jobId,
        organizationId: request.organizationId,
        entityId: user.userId,
        ...(request.description !== undefined && { description: request.description }),
        roleArn: request.roleArn,
        kmsKeyArn: request.kmsKeyArn,
        s3BucketName: request.s3BucketName,
        s3Prefix: request.s3Prefix,
        s3Path: keys.s3Path,
        clientToken: request.clientToken,
        requestFingerprint: requestFingerprint(request),
        startTime: this.#clock(),
      },
      this.#options.limits,
    );
    if (inserted.outcome !== 'created' && inserted.outcome !== 'replayed') {
      throw new ApiError(
        inserted.outcome === 'token-reused'
          ? 'InvalidParameterException'
          : 'LimitExceededException',
        limitMessage(inserted, request, user, this.#options.limits),
      );
    }

    const job = inserted.job;
    this.#organizationOf.set(job.jobId, job.organizationId);
    if (inserted.outcome === 'replayed') return job;

    // Another node's sweep may take a job in the instant before its lease is first taken;
    // then that node runs it.
    if (await store.claimJob(job.jobId, nodeId, leaseSeconds, { newAttempt: true })) {
      this.#emit({
        type: 'queued',
        jobId,
        organizationId: job.organizationId,
        entityId: user.userId,
      });
      this.#enqueue(job);
    }
    return job;
  }

  async #resolveEntity(request: StartJobRequest) {
    const { store } = this.#options;
    const organization = await store.getOrganization(request.organizationId);
    if (organization === undefined) {
      throw new ApiError(
        'OrganizationNotFoundException',
        `No organization has the id ${request.organizationId}.`,
      );
    }
    if (organization.state !== 'Active') {
      throw new ApiError(
        'OrganizationStateException',
        `The organization ${request.organizationId} is ${organization.state}, not Active.`,
      );
    }

    // StartMailboxExportJob lists no EntityStateException: a user without an enabled mailbox
    // is, for an export, a user with no mailbox to find.
    const user = await store.findUser(request.organizationId, request.entityId);
    if (user === undefined || user.state !== 'ENABLED') {
      throw new ApiError(
        'EntityNotFoundException',
        user === undefined
          ? `No user of organization ${request.organizationId} has the id, name or address ` +
              `${request.entityId}.`
          : `The user ${user.name} is ${user.state} and has no mailbox to export; register ` +
              'it to WorkMail first.',
      );
    }
    return user;
  }

  async cancel(organizationId: string, jobId: string): Promise<void> {
    const { store, nodeId, leaseSeconds } = this.#options;
    const job = await store.getJob(organizationId, jobId);
    if (job === undefined) {
      throw new ApiError(
        'EntityNotFoundException',
        `No export job ${jobId} in organization ${organizationId}.`,
      );
    }
    if (job.state !== 'RUNNING' || !(await store.requestCancel(organizationId, jobId))) return;

    const local = this.#jobs.get(jobId);
    if (local !== undefined) {
      this.#stop(local, 'cancel');
      return;
    }

    // Nobody holds the job (its node stopped): end it here. Otherwise the holder's lease
    // renewal reads the request and stops it.
    if (await store.claimJob(jobId, nodeId, leaseSeconds)) {
      await endJob(this.#context, job, { state: 'CANCELLED' });
    }
  }

  async waitFor(jobId: string, signal?: AbortSignal): Promise<ExportJob> {
    const organizationId = this.#organizationOf.get(jobId);
    if (organizationId === undefined) {
      throw new Error(`The export job ${jobId} was not started or recovered by this engine.`);
    }

    for (;;) {
      signal?.throwIfAborted();
      const local = this.#jobs.get(jobId);
      if (local !== undefined) await untilSettled(local.done, signal);

      const job = await this.#options.store.getJob(organizationId, jobId);
      if (job === undefined) throw new Error(`The export job ${jobId} is no longer stored.`);
      if (job.state !== 'RUNNING') return job;
      if (this.#closed) {
        throw new Error(`The job engine closed before export job ${jobId} ended.`);
      }

      // Run by another node: look again after a renewal period.
      if (!this.#jobs.has(jobId)) {
        await delay((this.#options.leaseSeconds * 1000) / 3, undefined, { signal });
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];

    const jobs = [...this.#jobs.values()];
    for (const local of jobs) this.#stop(local, 'shutdown');
    await Promise.all(jobs.map((local) => local.done));
    await this.#sweeps;
  }

  #enqueue(job: ExportJob): void {
    if (this.#jobs.has(job.jobId) || this.#closed) return;
    const local = newLocalJob(job.jobId, job.organizationId);
    this.#jobs.set(job.jobId, local);
    this.#queue.push(local);
    this.#pump();
  }

  #pump(): void {
    while (!this.#closed && this.#active < this.#options.workers && this.#queue.length > 0) {
      const local = this.#queue.shift() as LocalJob;
      local.phase = 'running';
      this.#active += 1;
      runJob(this.#context, local)
        .catch((err: unknown) => {
          this.#context.logger.child({ jobId: local.jobId }).error({ err }, 'export job aborted');
        })
        .finally(() => {
          this.#active -= 1;
          this.#forget(local);
          this.#pump();
        });
    }
  }

  #forget(local: LocalJob): void {
    if (this.#jobs.get(local.jobId) === local) this.#jobs.delete(local.jobId);
    local.settle();
  }

  /** Stops a job of this node: a running one through its signal, a queued one here. */
  #stop(local: LocalJob, reason: StopReason): void {
    if (local.phase === 'running') {
      if (!local.controller.signal.aborted) local.controller.abort(new JobStop(reason));
      return;
    }

    const at = this.#queue.indexOf(local);
    if (at >= 0) this.#queue.splice(at, 1);
    local.controller.abort(new JobStop(reason));
    const job = { jobId: local.jobId, organizationId: local.organizationId };
    const ending =
      reason === 'cancel'
        ? endJob(this.#context, job, { state: 'CANCELLED' }).then(() => undefined)
        : Promise.resolve(this.#emit({ type: 'interrupted', ...job, reason }));
    ending
      .catch((err: unknown) => {
        this.#context.logger.child({ jobId: local.jobId }).warn({ err }, 'export job not ended');
      })
      .finally(() => this.#forget(local));
  }

  /** Renews the lease of every job of this node and stops those cancelled or taken over. */
  async #heartbeat(): Promise<void> {
    if (this.#heartbeatRunning) return;
    this.#heartbeatRunning = true;
    const { store, nodeId, leaseSeconds } = this.#options;
    try {
      for (const local of [...this.#jobs.values()]) {
        if (local.controller.signal.aborted) continue;
        if (!(await store.claimJob(local.jobId, nodeId, leaseSeconds))) {
          this.#stop(local, 'lease-lost');
          continue;
        }
        const job = await store.getJob(local.organizationId, local.jobId);
        if (job === undefined || job.state !== 'RUNNING') this.#stop(local, 'lease-lost');
        else if (job.cancelRequested) this.#stop(local, 'cancel');
      }
    } catch (err) {
      this.#context.logger.warn({ err }, 'export job leases not renewed');
    } finally {
      this.#heartbeatRunning = false;
    }
  }

  /** Sweeps run one after another, so that two never take over the same job. */
  #sweep(heldBy?: string): Promise<void> {
    const next = this.#sweeps.then(() => this.#sweepOnce(heldBy));
    this.#sweeps = next.catch((err: unknown) => {
      this.#context.logger.warn({ err }, 'stale export jobs not recovered');
    });
    return next;
  }

  async #sweepOnce(heldBy?: string): Promise<void> {
    const stale = await this.#options.store.listStaleJobs(this.#clock(), heldBy);
    for (const job of stale) {
      if (this.#closed) return;
      if (!this.#jobs.has(job.jobId)) await this.#takeOver(job);
    }
  }

  async #takeOver(stale: ExportJob): Promise<void> {
    const { store, nodeId, leaseSeconds } = this.#options;
    if (!(await store.claimJob(stale.jobId, nodeId, leaseSeconds, { newAttempt: true }))) return;
    const job = await store.getJob(stale.organizationId, stale.jobId);
    if (job === undefined || job.state !== 'RUNNING') return;

    this.#organizationOf.set(job.jobId, job.organizationId);
    const attempt = job.attempts ?? 1;
    const report = (action: 'resumed' | 'failed' | 'cancelled'): void => {
      this.#emit({
        type: 'recovered',
        jobId: job.jobId,
        organizationId: job.organizationId,
        action,
        attempt,
      });
      this.#context.logger
        .child({ jobId: job.jobId })
        .info({ action, attempt }, 'export job recovered');
    };

    if (job.cancelRequested) {
      report('cancelled');
      await endJob(this.#context, job, { state: 'CANCELLED' });
    } else if (attempt > this.#maxAttempts) {
      report('failed');
      await endJob(this.#context, job, { state: 'FAILED', errorInfo: INTERRUPTED_ERROR_INFO });
    } else {
      report('resumed');
      this.#enqueue(job);
    }
  }

  #emit(event: JobEvent): void {
    try {
      this.emit(event.type, event as never);
      this.#options.onEvent?.(event);
    } catch (err) {
      this.#context.logger.warn({ err, event: event.type }, 'export job event listener failed');
    }
  }
}

function checkOptions(options: ExportJobEngineOptions): void {
  const positive = (name: string, value: number, integer: boolean): void => {
    if (!(value > 0) || (integer && !Number.isInteger(value))) {
      throw new RangeError(`${name} must be a positive ${integer ? 'integer' : 'number'}.`);
    }
  };
  positive('workers', options.workers, true);
  positive('leaseSeconds', options.leaseSeconds, false);
  positive('limits.maxRunningPerOrganization', options.limits.maxRunningPerOrganization, true);
  if (!(options.limits.mailboxIntervalSeconds >= 0)) {
    throw new RangeError('limits.mailboxIntervalSeconds must be zero or more.');
  }
  if (options.maxAttempts !== undefined) positive('maxAttempts', options.maxAttempts, true);
  if (options.sweepSeconds !== undefined) positive('sweepSeconds', options.sweepSeconds, false);
  if (options.nodeId === '') throw new RangeError('nodeId must not be empty.');
}

function untilSettled(done: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return done;
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    done.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
