import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Identifiers in the forms WorkMail uses, so that clients that check them (the AWS CLI checks
 * the organization id's pattern) accept ours.
 */

/** `m-` and 32 lowercase hex digits, the model's `OrganizationId` pattern. */
export const ORGANIZATION_ID_PATTERN = /^m-[0-9a-f]{32}$/;

/** The model's `MailboxExportJobId`: 1..63 of `[A-Za-z0-9-]`; ours are UUIDs (36). */
export const JOB_ID_PATTERN = /^[A-Za-z0-9-]{1,63}$/;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function newOrganizationId(): string {
  return `m-${randomBytes(16).toString('hex')}`;
}

/** WorkMail shows user ids both as UUIDs and as `S-1-1-11-...`; we make UUIDs. */
export function newUserId(): string {
  return randomUUID();
}

export function newJobId(): string {
  return randomUUID();
}

export function isOrganizationId(value: string): boolean {
  return ORGANIZATION_ID_PATTERN.test(value);
}

export function isJobId(value: string): boolean {
  return JOB_ID_PATTERN.test(value);
}

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
