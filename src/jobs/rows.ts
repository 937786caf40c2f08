import type {
  ExportJob,
  ExportLog,
  JobState,
  MailboxBinding,
  Organization,
  OrganizationState,
  User,
  UserState,
} from '../core/model.js';

/**
 * Conversions between the domain records and the rows of `sql.ts`. Rows are what the driver
 * returns: snake_case columns, times as epoch milliseconds, booleans as 0/1, JSON as text.
 */

export interface OrganizationRow {
  organization_id: string;
  alias: string;
  state: string;
  region: string;
  account_id: string;
  default_mail_domain: string;
  directory_type: string;
  binding: string;
  created_at: number;
  completed_at: number | null;
}

export interface UserRow {
  organization_id: string;
  user_id: string;
  name: string;
  display_name: string;
  email: string | null;
  state: string;
  role: string;
  created_at: number;
  enabled_at: number | null;
  disabled_at: number | null;
  mailbox_quota_mb: number;
}

export interface JobRow {
  job_id: string;
  organization_id: string;
  entity_id: string;
  description: string | null;
  role_arn: string;
  kms_key_arn: string;
  s3_bucket_name: string;
  s3_prefix: string;
  s3_path: string;
  state: string;
  estimated_progress: number;
  error_info: string | null;
  start_time: number;
  end_time: number | null;
  client_token: string;
  request_fingerprint: string;
  cancel_requested: number;
  export_log: string | null;
  attempts: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
}

function dateOf(ms: number | null): Date | undefined {
  return ms === null ? undefined : new Date(ms);
}

function msOf(date: Date | undefined): number | null {
  return date === undefined ? null : date.getTime();
}

export function organizationToRow(organization: Organization): OrganizationRow {
  return {
    organization_id: organization.organizationId,
    alias: organization.alias,
    state: organization.state,
    region: organization.region,
    account_id: organization.accountId,
    default_mail_domain: organization.defaultMailDomain,
    directory_type: organization.directoryType,
    binding: JSON.stringify(organization.binding),
    created_at: organization.createdAt.getTime(),
    completed_at: msOf(organization.completedAt),
  };
}

export function organizationFromRow(row: OrganizationRow): Organization {
  return {
    organizationId: row.organization_id,
    alias: row.alias,
    state: row.state as OrganizationState,
    region: row.region,
    accountId: row.account_id,
    defaultMailDomain: row.default_mail_domain,
    directoryType: row.directory_type,
    binding: JSON.parse(row.binding) as MailboxBinding,
    createdAt: new Date(row.created_at),
    ...(row.completed_at !== null && { completedAt: new Date(row.completed_at) }),
  };
}

export function userToRow(user: User): UserRow {
  return {
    organization_id: user.organizationId,
    user_id: user.userId,
    name: user.name,
    display_name: user.displayName,
    email: user.email ?? null,
    state: user.state,
    role: user.role,
    created_at: user.createdAt.getTime(),
    enabled_at: msOf(user.enabledAt),
    disabled_at: msOf(user.disabledAt),
    mailbox_quota_mb: user.mailboxQuotaMb,
  };
}

export function userFromRow(row: UserRow): User {
  const enabledAt = dateOf(row.enabled_at);
  const disabledAt = dateOf(row.disabled_at);
  return {
    userId: row.user_id,
    organizationId: row.organization_id,
    name: row.name,
    displayName: row.display_name,
    ...(row.email !== null && { email: row.email }),
    state: row.state as UserState,
    role: row.role as User['role'],
    createdAt: new Date(row.created_at),
    ...(enabledAt && { enabledAt }),
    ...(disabledAt && { disabledAt }),
    mailboxQuotaMb: row.mailbox_quota_mb,
  };
}

export function jobFromRow(row: JobRow): ExportJob {
  const endTime = dateOf(row.end_time);
  return {
    jobId: row.job_id,
    organizationId: row.organization_id,
    entityId: row.entity_id,
    ...(row.description !== null && { description: row.description }),
    roleArn: row.role_arn,
    kmsKeyArn: row.kms_key_arn,
    s3BucketName: row.s3_bucket_name,
    s3Prefix: row.s3_prefix,
    s3Path: row.s3_path,
    state: row.state as JobState,
    estimatedProgress: row.estimated_progress,
    ...(row.error_info !== null && { errorInfo: row.error_info }),
    startTime: new Date(row.start_time),
    ...(endTime && { endTime }),
    clientToken: row.client_token,
    requestFingerprint: row.request_fingerprint,
    cancelRequested: row.cancel_requested !== 0,
    ...(row.export_log !== null && { exportLog: JSON.parse(row.export_log) as ExportLog }),
    attempts: row.attempts,
  };
}
