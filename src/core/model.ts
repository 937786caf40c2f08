/**
 * The domain records that the directory and the job store keep: organizations, users, export
 * jobs. Field names follow WorkMail's own words; the wire shapes are made from these by the
 * API front and never stored.
 */

export const JOB_STATES = Object.freeze(['RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const);
export type JobState = (typeof JOB_STATES)[number];

export const ORGANIZATION_STATES = Object.freeze([
  'Requested',
  'Creating',
  'Active',
  'Deleting',
  'Deleted',
] as const);
export type OrganizationState = (typeof ORGANIZATION_STATES)[number];

export const USER_STATES = Object.freeze(['ENABLED', 'DISABLED', 'DELETED'] as const);
export type UserState = (typeof USER_STATES)[number];

/** Where an organization's mailboxes live. */
export type MailboxBinding =
  | { readonly kind: 'embedded' }
  | { readonly kind: 'remote'; readonly imap: string; readonly caldav?: string };

export interface Organization {
  readonly organizationId: string;
  readonly alias: string;
  readonly state: OrganizationState;
  readonly region: string;
  readonly accountId: string;
  readonly defaultMailDomain: string;
  readonly directoryType: string;
  readonly binding: MailboxBinding;
  readonly createdAt: Date;
  readonly completedAt?: Date;
}

export interface User {
  readonly userId: string;
  readonly organizationId: string;
  readonly name: string;
  readonly displayName: string;
  readonly email?: string;
  readonly state: UserState;
  readonly role: 'USER' | 'RESOURCE' | 'SYSTEM_USER' | 'REMOTE_USER';
  readonly createdAt: Date;
  readonly enabledAt?: Date;
  readonly disabledAt?: Date;
  readonly mailboxQuotaMb: number;
}

/** The export log, as written next to the zip: seven members, all strings. */
export interface ExportLog {
  readonly totalNonExportableItems: string;
  readonly totalMessages: string;
  readonly sha384Hash: string;
  readonly totalBytes: string;
  readonly totalFolders: string;
  readonly startTime: string;
  readonly endTime: string;
}

export interface ExportJob {
  readonly jobId: string;
  readonly organizationId: string;
  /** The user id the request's `EntityId` resolved to. */
  readonly entityId: string;
  readonly description?: string;
  readonly roleArn: string;
  readonly kmsKeyArn: string;
  readonly s3BucketName: string;
  readonly s3Prefix: string;
  /** Where the zip lands, `s3://bucket/key`. */
  readonly s3Path: string;
  readonly state: JobState;
  readonly estimatedProgress: number;
  readonly errorInfo?: string;
  readonly startTime: Date;
  readonly endTime?: Date;
  readonly clientToken: string;
  /** Fingerprint of the start request's parameters, to tell a replay from a reuse. */
  readonly requestFingerprint: string;
  readonly cancelRequested: boolean;
  readonly exportLog?: ExportLog;
  /** How many times a node began to run the job; a restart that resumes it adds one. */
  readonly attempts?: number;
}
