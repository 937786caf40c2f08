import type { ExportJob, ExportLog, JobState, Organization, User } from './model.js';

/**
 * Durable state: the directory (organizations, users) and the export jobs. SQLite is the
 * embedded default; a PostgreSQL store shared by many nodes implements the same interface,
 * which is why every method is asynchronous and every claim on a job goes through a lease.
 */

export interface JobLimits {
  /** Running jobs allowed at once per organization. */
  readonly maxRunningPerOrganization: number;
  /** Seconds that must pass between two exports of one mailbox. */
  readonly mailboxIntervalSeconds: number;
}

export interface NewJob {
  readonly jobId: string;
  readonly organizationId: string;
  readonly entityId: string;
  readonly description?: string;
  readonly roleArn: string;
  readonly kmsKeyArn: string;
  readonly s3BucketName: string;
  readonly s3Prefix: string;
  readonly s3Path: string;
  readonly clientToken: string;
  readonly requestFingerprint: string;
  readonly startTime: Date;
}

/** What `insertJob` did: made the job, found it already made by the same token, or refused. */
export type InsertJobResult =
  | { readonly outcome: 'created'; readonly job: ExportJob }
  | { readonly outcome: 'replayed'; readonly job: ExportJob }
  | { readonly outcome: 'token-reused' }
  | { readonly outcome: 'too-many-running'; readonly running: number }
  | { readonly outcome: 'mailbox-too-recent'; readonly lastStart: Date };

export interface JobPage {
  readonly jobs: ExportJob[];
  readonly nextToken?: string;
}

export interface JobStore {
  createOrganization(organization: Organization): Promise<void>;
  getOrganization(organizationId: string): Promise<Organization | undefined>;
  findOrganizationByAlias(alias: string): Promise<Organization | undefined>;
  listOrganizations(): Promise<Organization[]>;
  setOrganizationState(organizationId: string, state: Organization['state']): Promise<void>;

  createUser(user: User): Promise<void>;
  getUser(organizationId: string, userId: string): Promise<User | undefined>;
  /** Finds a user by id, name or e-mail address, case-insensitively for name and address. */
  findUser(organizationId: string, identifier: string): Promise<User | undefined>;
  listUsers(organizationId: string): Promise<User[]>;
  updateUser(user: User): Promise<void>;

  /**
   * Inserts a job unless its client token was used before or a limit is reached; the checks
   * and the insert are one transaction so that two nodes cannot both pass a limit.
   */
  insertJob(job: NewJob, limits: JobLimits): Promise<InsertJobResult>;
  getJob(organizationId: string, jobId: string): Promise<ExportJob | undefined>;
  /** Jobs started at or after `since`, newest first. */
  listJobs(
    organizationId: string,
    since: Date,
    page: { readonly maxResults: number; readonly nextToken?: string },
  ): Promise<JobPage>;

  /**
   * Takes or renews the lease of a running job; false if another node holds it or the job
   * ended. With `newAttempt`, a successful claim also counts one more attempt (`attempts`),
   * so that a job whose node keeps dying is failed rather than retried forever.
   */
  claimJob(
    jobId: string,
    owner: string,
    leaseSeconds: number,
    options?: { readonly newAttempt?: boolean },
  ): Promise<boolean>;
  /**
   * Running jobs whose lease has expired or was never taken (their node stopped), for
   * takeover or failure; with `heldBy`, also those that node holds, expired or not (the node
   * restarted under the same name and knows it runs none of them).
   */
  listStaleJobs(now: Date, heldBy?: string): Promise<ExportJob[]>;
  setProgress(jobId: string, estimatedProgress: number): Promise<void>;
  /** Asks the node that runs the job to stop it; false if the job already ended. */
  requestCancel(organizationId: string, jobId: string): Promise<boolean>;
  /** Ends a running job; a job that already ended keeps its state and false is returned. */
  finishJob(
    jobId: string,
    end: {
      readonly state: Exclude<JobState, 'RUNNING'>;
      readonly endTime: Date;
      readonly errorInfo?: string;
      readonly exportLog?: ExportLog;
    },
  ): Promise<boolean>;

  close(): Promise<void>;
}
