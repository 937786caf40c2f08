import type { ExportJob } from './model.js';

/**
 * What the API front and the CLI ask of the job engine. Reads (describe, list) go straight to
 * the job store; starting and cancelling go through the engine because they touch limits,
 * idempotency and running work.
 */

export interface StartJobRequest {
  readonly organizationId: string;
  /** User id, user name or e-mail address, as the caller gave it. */
  readonly entityId: string;
  readonly description?: string;
  readonly roleArn: string;
  readonly kmsKeyArn: string;
  readonly s3BucketName: string;
  readonly s3Prefix: string;
  readonly clientToken: string;
}

export interface JobEngine {
  /**
   * Records the job and schedules it. Throws `ApiError` with the WorkMail code for an unknown
   * organization or entity, a reached limit, or a client token reused with other parameters;
   * a replayed token with the same parameters returns the job made the first time.
   */
  start(request: StartJobRequest): Promise<ExportJob>;
  /**
   * Stops a running job, aborting its upload. Cancelling a job that already ended changes
   * nothing and succeeds, so that a retried cancel is harmless.
   */
  cancel(organizationId: string, jobId: string): Promise<void>;
  /** Resolves when the job has ended; for the CLI's in-process export and for tests. */
  waitFor(jobId: string, signal?: AbortSignal): Promise<ExportJob>;
  /** Stops taking work and waits for running jobs to reach a safe point. */
  close(): Promise<void>;
}
