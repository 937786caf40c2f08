/**
 * Every SQL statement of the SQLite job store, in one place, so that the schema and its
 * queries can be read together and a PostgreSQL store can follow the same shape (the same
 * tables, columns and statements, with its own placeholders and types).
 *
 * Times are integers: milliseconds since the epoch, in UTC. Booleans are 0 or 1. The export
 * log and the mailbox binding are JSON text.
 */

/** Schema steps, applied in order at open; the version table holds how many have run. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE organizations (
    organization_id TEXT PRIMARY KEY,
    alias TEXT NOT NULL UNIQUE COLLATE NOCASE,
    state TEXT NOT NULL,
    region TEXT NOT NULL,
    account_id TEXT NOT NULL,
    default_mail_domain TEXT NOT NULL,
    directory_type TEXT NOT NULL,
    binding TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    completed_at INTEGER
  );

  CREATE TABLE users (
    organization_id TEXT NOT NULL REFERENCES organizations (organization_id),
    user_id TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    display_name TEXT NOT NULL,
    email TEXT COLLATE NOCASE,
    state TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    enabled_at INTEGER,
    disabled_at INTEGER,
    mailbox_quota_mb INTEGER NOT NULL,
    PRIMARY KEY (organization_id, user_id),
    UNIQUE (organization_id, name),
    UNIQUE (organization_id, email)
  );

  CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (organization_id),
    entity_id TEXT NOT NULL,
    description TEXT,
    role_arn TEXT NOT NULL,
    kms_key_arn TEXT NOT NULL,
    s3_bucket_name TEXT NOT NULL,
    s3_prefix TEXT NOT NULL,
    s3_path TEXT NOT NULL,
    state TEXT NOT NULL,
    estimated_progress INTEGER NOT NULL DEFAULT 0,
    error_info TEXT,
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    client_token TEXT NOT NULL,
    request_fingerprint TEXT NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    export_log TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    UNIQUE (organization_id, client_token)
  );

  CREATE INDEX jobs_by_start ON jobs (organization_id, start_time DESC, job_id DESC);
  CREATE INDEX jobs_by_mailbox ON jobs (organization_id, entity_id, start_time);
  CREATE INDEX jobs_by_state ON jobs (state, organization_id);
  `,
];

export const plans = {
  createVersionTable: 'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)',
  getVersion: 'SELECT version FROM schema_version',
  insertVersion: 'INSERT INTO schema_version (version) VALUES (@version)',
  setVersion: 'UPDATE schema_version SET version = @version',

  insertOrganization: `
    INSERT INTO organizations (organization_id, alias, state, region, account_id,
      default_mail_domain, directory_type, binding, created_at, completed_at)
    VALUES (@organization_id, @alias, @state, @region, @account_id, @default_mail_domain,
      @directory_type, @binding, @created_at, @completed_at)`,
  getOrganization: 'SELECT * FROM organizations WHERE organization_id = @organization_id',
  findOrganizationByAlias: 'SELECT * FROM organizations WHERE alias = @alias',
  listOrganizations: 'SELECT * FROM organizations ORDER BY created_at, organization_id',
  setOrganizationState: `
    UPDATE organizations SET state = @state WHERE organization_id = @organization_id`,

  insertUser: `
    INSERT INTO users (organization_id, user_id, name, display_name, email, state, role,
      created_at, enabled_at, disabled_at, mailbox_quota_mb)
    VALUES (@organization_id, @user_id, @name, @display_name, @email, @state, @role,
      @created_at, @enabled_at, @disabled_at, @mailbox_quota_mb)`,
  getUser: 'SELECT * FROM users WHERE organization_id = @organization_id AND user_id = @user_id',
  // An id match wins over a name match, which wins over an address match.
  findUser: `
    SELECT * FROM users
    WHERE organization_id = @organization_id
      AND (user_id = @identifier OR name = @identifier OR email = @identifier)
    ORDER BY CASE WHEN user_id = @identifier THEN 0 WHEN name = @identifier THEN 1 ELSE 2 END
    LIMIT 1`,
  listUsers: 'SELECT * FROM users WHERE organization_id = @organization_id ORDER BY name',
  updateUser: `
    UPDATE users SET name = @name, display_name = @display_name, email = @email,
      state = @state, role = @role, enabled_at = @enabled_at, disabled_at = @disabled_at,
      mailbox_quota_mb = @mailbox_quota_mb
    WHERE organization_id = @organization_id AND user_id = @user_id`,

  getJobByToken: `
    SELECT * FROM jobs WHERE organization_id = @organization_id AND client_token = @client_token`,
  countRunning: `
    SELECT COUNT(*) AS running FROM jobs
    WHERE organization_id = @organization_id AND state = 'RUNNING'`,
  // Failed and cancelled exports do not count, so that a user can try again at once.
  lastMailboxStart: `
    SELECT MAX(start_time) AS last_start FROM jobs
    WHERE organization_id = @organization_id AND entity_id = @entity_id
      AND start_time > @since AND state NOT IN ('FAILED', 'CANCELLED')`,
  insertJob: `
    INSERT INTO jobs (job_id, organization_id, entity_id, description, role_arn, kms_key_arn,
      s3_bucket_name, s3_prefix, s3_path, state, start_time, client_token, request_fingerprint)
    VALUES (@job_id, @organization_id, @entity_id, @description, @role_arn, @kms_key_arn,
      @s3_bucket_name, @s3_prefix, @s3_path, 'RUNNING', @start_time, @client_token,
      @request_fingerprint)`,
  getJob: 'SELECT * FROM jobs WHERE organization_id = @organization_id AND job_id = @job_id',
  // Newest first; the page token is the (start_time, job_id) of the last job of a page.
  listJobs: `
    SELECT * FROM jobs
    WHERE organization_id = @organization_id AND start_time >= @since
      AND (@after_time IS NULL OR start_time < @after_time
        OR (start_time = @after_time AND job_id < @after_id))
    ORDER BY start_time DESC, job_id DESC
    LIMIT @limit`,

  claimJob: `
    UPDATE jobs SET lease_owner = @owner, lease_expires_at = @expires_at,
      attempts = attempts + @new_attempt
    WHERE job_id = @job_id AND state = 'RUNNING'
      AND (lease_owner IS NULL OR lease_owner = @owner OR lease_expires_at <= @now)`,
  listStaleJobs: `
    SELECT * FROM jobs
    WHERE state = 'RUNNING'
      AND (lease_owner IS NULL OR lease_expires_at <= @now OR lease_owner = @held_by)
    ORDER BY start_time, job_id`,
  // Progress never goes back, even when a resumed job starts over.
  setProgress: `
    UPDATE jobs SET estimated_progress = MAX(estimated_progress, @progress)
    WHERE job_id = @job_id AND state = 'RUNNING'`,
  requestCancel: `
    UPDATE jobs SET cancel_requested = 1
    WHERE organization_id = @organization_id AND job_id = @job_id AND state = 'RUNNING'`,
  finishJob: `
    UPDATE jobs SET state = @state, end_time = @end_time, error_info = @error_info,
      export_log = @export_log,
      estimated_progress = CASE WHEN @state = 'COMPLETED' THEN 100 ELSE estimated_progress END,
      lease_owner = NULL, lease_expires_at = NULL
    WHERE job_id = @job_id AND state = 'RUNNING'`,
} as const;
