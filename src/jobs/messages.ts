import type { StartJobRequest } from '../core/engine.js';
import type { InsertJobResult, JobLimits } from '../core/job-store.js';
import type { User } from '../core/model.js';

type Refusal = Exclude<InsertJobResult, { outcome: 'created' } | { outcome: 'replayed' }>;

/** The `Message` of the ApiError a refused start answers with. */
export function limitMessage(
  refusal: Refusal,
  request: StartJobRequest,
  user: User,
  limits: JobLimits,
): string {
  switch (refusal.outcome) {
    case 'token-reused':
      return (
        'The ClientToken was already used to start another export job with different ' +
        'parameters; use a new ClientToken for a new job.'
      );
    case 'too-many-running':
      return (
        `The organization ${request.organizationId} already runs ${refusal.running} export ` +
        `jobs, and at most ${limits.maxRunningPerOrganization} may run at once; wait for one to ` +
        'end or cancel one.'
      );
    case 'mailbox-too-recent': {
      const next = new Date(refusal.lastStart.getTime() + limits.mailboxIntervalSeconds * 1000);
      return (
        `The mailbox of user ${user.name} was last exported by a job started at ` +
        `${refusal.lastStart.toISOString()}, and one mailbox may be exported once every ` +
        `${durationText(limits.mailboxIntervalSeconds)}; it may be exported again from ` +
        `${next.toISOString()}.`
      );
    }
  }
}

/** `86400` → `24 hours`, `90` → `90 seconds`. */
export function durationText(seconds: number): string {
  const plural = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (seconds > 0 && seconds % 3600 === 0) return plural(seconds / 3600, 'hour');
  if (seconds > 0 && seconds % 60 === 0) return plural(seconds / 60, 'minute');
  return plural(seconds, 'second');
}
