import Database from 'better-sqlite3';

import { ApiError } from '../core/errors.js';
import type { InsertJobResult, JobLimits, JobPage, JobStore, NewJob } from '../core/job-store.js';
import type { ExportJob, ExportLog, JobState, Organization, User } from '../core/model.js';
import { decodePageToken, encodePageToken } from './page-token.js';
import {
  jobFromRow,
  organizationFromRow,
  organizationToRow,
  userFromRow,
  userToRow,
  type JobRow,
  type OrganizationRow,
  type UserRow,
} from './rows.js';
import { MIGRATIONS, plans } from './sql.js';

export interface SqliteJobStoreOptions {
  /** A file path, or `':memory:'` for a store that lives as long as the object. */
  readonly path: string;
  /** How long a statement waits for another connection's write lock; default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** The clock that lease expiry is measured against; the system clock by default. */
  readonly clock?: () => Date;
}

/**
 * The embedded job store: one SQLite file in WAL mode, so that readers never wait for the
 * writer and several processes may share the file. `synchronous = FULL` makes each commit
 * durable on power loss; the write rate (job starts, one progress write per job and second)
 * makes its cost negligible.
 *
 * The schema is migrated at open. The interface is asynchronous for the sake of a networked
 * store; here every call completes synchronously inside its promise.
 */
export class SqliteJobStore implements JobStore {
  readonly #db: Database.Database;
  readonly #clock: () => Date;
  readonly #statements = new Map<keyof typeof plans, Database.Statement>();
  readonly #insertJob: (job: NewJob, limits: JobLimits) => InsertJobResult;

  constructor(options: SqliteJobStoreOptions) {
    this.#clock = options.clock ?? (() => new Date());
    this.#db = new Database(options.path);
    try {
      this.#db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
      if (options.path !== ':memory:') this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('foreign_keys = ON');
      this.#migrate();
    } catch (error) {
      this.#db.close();
      throw error;
    }

    // IMMEDIATE takes the write lock before the first read, so that two processes cannot both
    // count the same running jobs and both pass the limit.
    const insert = this.#db.transaction((job: NewJob, limits: JobLimits) =>
      this.#insertJobLocked(job, limits),
    );
    this.#insertJob = (job, limits) => insert.immediate(job, limits);
  }

  /** Statements are compiled once per store and reused. */
  #statement(name: keyof typeof plans): Database.Statement {
    let statement = this.#statements.get(name);
    if (statement === undefined) {
      statement = this.#db.prepare(plans[name]);
      this.#statements.set(name, statement);
    }
    return statement;
  }

  #migrate(): void {
    const migrate = this.#db.transaction(() => {
      this.#statement('createVersionTable').run();
      const row = this.#statement('getVersion').get() as { version: number } | undefined;
      const current = row?.version ?? 0;
      if (current > MIGRATIONS.length) {
        throw new Error(
          `The job database is at schema version ${current}, newer than this program knows ` +
            `(${MIGRATIONS.length}); run a newer mailbox-export.`,
        );
      }

      for (const step of MIGRATIONS.slice(current)) this.#db.exec(step);
      if (row === undefined) this.#statement('insertVersion').run({ version: MIGRATIONS.length });
      else this.#statement('setVersion').run({ version: MIGRATIONS.length });
    });
    migrate.immediate();
  }

  async createOrganization(organization: Organization): Promise<void> {
    try {
      this.#statement('insertOrganization').run(organizationToRow(organization));
    } catch (error) {
      if (isUniqueViolation(error, 'organizations.alias')) {
        throw new ApiError(
          'NameAvailabilityException',
          `The organization alias ${organization.alias} is already taken.`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async getOrganization(organizationId: string): Promise<Organization | undefined> {
    const row = this.#statement('getOrganization').get({ organization_id: organizationId });
    return row === undefined ? undefined : organizationFromRow(row as OrganizationRow);
  }

  async findOrganizationByAlias(alias: string): Promise<Organization | undefined> {
    const row = this.#statement('findOrganizationByAlias').get({ alias });
    return row === undefined ? undefined : organizationFromRow(row as OrganizationRow);
  }

  async listOrganizations(): Promise<Organization[]> {
    const rows = this.#statement('listOrganizations').all() as OrganizationRow[];
    return rows.map(organizationFromRow);
  }

  async setOrganizationState(organizationId: string, state: Organization['state']): Promise<void> {
    const result = this.#statement('setOrganizationState').run({
      organization_id: organizationId,
      state,
    });
    if (result.changes === 0) throw organizationNotFound(organizationId);
  }

  async createUser(user: User): Promise<void> {
    try {
      this.#statement('insertUser').run(userToRow(user));
    } catch (error) {
      if (isUniqueViolation(error, 'users.name')) {
        throw new ApiError(
          'NameAvailabilityException',
          `The user name ${user.name} is already taken in organization ${user.organizationId}.`,
          { cause: error },
        );
      }
      if (isUniqueViolation(error, 'users.email')) {
        throw new ApiError(
          'EmailAddressInUseException',
          `The address ${user.email} is already used in organization ${user.organizationId}.`,
          { cause: error },
        );
      }
      if (isForeignKeyViolation(error)) throw organizationNotFound(user.organizationId, error);
      throw error;
    }
  }

  async getUser(organizationId: string, userId: string): Promise<User | undefined> {
    const row = this.#statement('getUser').get({
      organization_id: organizationId,
      user_id: userId,
    });
    return row === undefined ? undefined : userFromRow(row as UserRow);
  }

  async findUser(organizationId: string, identifier: string): Promise<User | undefined> {
    const row = this.#statement('findUser').get({ organization_id: organizationId, identifier });
    return row === undefined ? undefined : userFromRow(row as UserRow);
  }

  async listUsers(organizationId: string): Promise<User[]> {
    const rows = this.#statement('listUsers').all({ organization_id: organizationId }) as UserRow[];
    return rows.map(userFromRow);
  }

  async updateUser(user: User): Promise<void> {
    let changes: number;
    try {
      changes = this.#statement('updateUser').run(userToRow(user)).changes;
    } catch (error) {
      if (isUniqueViolation(error, 'users.email')) {
        throw new ApiError(
          'EmailAddressInUseException',
          `The address ${user.email} is already used in organization ${user.organizationId}.`,
          { cause: error },
        );
      }
      throw error;
    }
    if (changes === 0) {
      throw new ApiError(
        'EntityNotFoundException',
        `No user ${user.userId} in organization ${user.organizationId}.`,
      );
    }
  }

  async insertJob(job: NewJob, limits: JobLimits): Promise<InsertJobResult> {
    return this.#insertJob(job, limits);
  }

  #insertJobLocked(job: NewJob, limits: JobLimits): InsertJobResult {
    const earlier = this.#statement('getJobByToken').get({
      organization_id: job.organizationId,
      client_token: job.clientToken,
    }) as JobRow | undefined;
    if (earlier !== undefined) {
      return earlier.request_fingerprint === job.requestFingerprint
        ? { outcome: 'replayed', job: jobFromRow(earlier) }
        : { outcome: 'token-reused' };
    }

    const { running } = this.#statement('countRunning').get({
      organization_id: job.organizationId,
    }) as { running: number };
    if (running >= limits.maxRunningPerOrganization)
      return { outcome: 'too-many-running', running };

    // Zero turns the rule off; the query would otherwise count jobs started later.
    if (limits.mailboxIntervalSeconds <= 0) return this.#insertNewJob(job);
    const { last_start: lastStart } = this.#statement('lastMailboxStart').get({
      organization_id: job.organizationId,
      entity_id: job.entityId,
      since: job.startTime.getTime() - limits.mailboxIntervalSeconds * 1000,
    }) as { last_start: number | null };
    if (lastStart !== null)
      return { outcome: 'mailbox-too-recent', lastStart: new Date(lastStart) };

    return this.#insertNewJob(job);
  }

  #insertNewJob(job: NewJob): InsertJobResult {
    this.#statement('insertJob').run({
      job_id: job.jobId,
      organization_id: job.organizationId,
      entity_id: job.entityId,
      description: job.description ?? null,
      role_arn: job.roleArn,
      kms_key_arn: job.kmsKeyArn,
      s3_bucket_name: job.s3BucketName,
      s3_prefix: job.s3Prefix,
      s3_path: job.s3Path,
      start_time: job.startTime.getTime(),
      client_token: job.clientToken,
      request_fingerprint: job.requestFingerprint,
    });
    const row = this.#statement('getJob').get({
      organization_id: job.organizationId,
      job_id: job.jobId,
    }) as JobRow;
    return { outcome: 'created', job: jobFromRow(row) };
  }

  async getJob(organizationId: string, jobId: string): Promise<ExportJob | undefined> {
    const row = this.#statement('getJob').get({ organization_id: organizationId, job_id: jobId });
    return row === undefined ? undefined : jobFromRow(row as JobRow);
  }

  /** An unreadable `nextToken` throws `ApiError` `InvalidParameterException`. */
  async listJobs(
    organizationId: string,
    since: Date,
    page: { readonly maxResults: number; readonly nextToken?: string },
  ): Promise<JobPage> {
    const after = page.nextToken === undefined ? undefined : decodePageToken(page.nextToken);
    const maxResults = Math.max(1, Math.trunc(page.maxResults));

    // One row more than asked tells whether another page follows.
    const rows = this.#statement('listJobs').all({
      organization_id: organizationId,
      since: since.getTime(),
      after_time: after?.startTimeMs ?? null,
      after_id: after?.jobId ?? null,
      limit: maxResults + 1,
    }) as JobRow[];
    const jobs = rows.slice(0, maxResults).map(jobFromRow);
    const last = rows.length > maxResults ? rows[maxResults - 1] : undefined;
    if (last === undefined) return { jobs };
    return {
      jobs,
      nextToken: encodePageToken({ startTimeMs: last.start_time, jobId: last.job_id }),
    };
  }

  async claimJob(
    jobId: string,
    owner: string,
    leaseSeconds: number,
    options: { readonly newAttempt?: boolean } = {},
  ): Promise<boolean> {
    const now = this.#clock().getTime();
    const result = this.#statement('claimJob').run({
      job_id: jobId,
      owner,
      now,
      expires_at: now + Math.round(leaseSeconds * 1000),
      new_attempt: options.newAttempt === true ? 1 : 0,
    });
    return result.changes > 0;
  }

  async listStaleJobs(now: Date, heldBy?: string): Promise<ExportJob[]> {
    const rows = this.#statement('listStaleJobs').all({
      now: now.getTime(),
      held_by: heldBy ?? null,
    }) as JobRow[];
    return rows.map(jobFromRow);
  }

  /** Progress only rises, and only while the job runs. */
  async setProgress(jobId: string, estimatedProgress: number): Promise<void> {
    const progress = Math.min(100, Math.max(0, Math.trunc(estimatedProgress)));
    this.#statement('setProgress').run({ job_id: jobId, progress });
  }

  async requestCancel(organizationId: string, jobId: string): Promise<boolean> {
    const result = this.#statement('requestCancel').run({
      organization_id: organizationId,
      job_id: jobId,
    });
    return result.changes > 0;
  }

  /** A COMPLETED job's progress becomes 100; the lease is released. */
  async finishJob(
    jobId: string,
    end: {
      readonly state: Exclude<JobState, 'RUNNING'>;
      readonly endTime: Date;
      readonly errorInfo?: string;
      readonly exportLog?: ExportLog;
    },
  ): Promise<boolean> {
    const result = this.#statement('finishJob').run({
      job_id: jobId,
      state: end.state,
      end_time: end.endTime.getTime(),
      error_info: end.errorInfo ?? null,
      export_log: end.exportLog === undefined ? null : JSON.stringify(end.exportLog),
    });
    return result.changes > 0;
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

function isUniqueViolation(error: unknown, column: string): boolean {
  return (
    error instanceof Database.SqliteError &&
    error.code === 'SQLITE_CONSTRAINT_UNIQUE' &&
    error.message.includes(column)
  );
}

function isForeignKeyViolation(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

function organizationNotFound(organizationId: string, cause?: unknown): ApiError {
  return new ApiError(
    'OrganizationNotFoundException',
    `No organization has the id ${organizationId}.`,
    { cause },
  );
}
