import type { ExportErrorCode } from '../core/errors.js';
import type { ExportProgress } from '../core/export.js';
import type { JobState } from '../core/model.js';

/**
 * What the job engine reports as it works, for the API's metrics and the CLI's progress bar.
 * The engine decides nothing about how these are shown or counted.
 */

export interface JobEventBase {
  readonly jobId: string;
  readonly organizationId: string;
}

/** The job was recorded and waits for a worker (it shows as RUNNING with progress 0). */
export interface JobQueuedEvent extends JobEventBase {
  readonly type: 'queued';
  readonly entityId: string;
}

/** A worker began an attempt; `attempt` is 1 for a fresh job, more for a resumed one. */
export interface JobStartedEvent extends JobEventBase {
  readonly type: 'started';
  readonly attempt: number;
}

/** `estimatedProgress` rose (0..99; 100 only comes with `finished`). */
export interface JobProgressEvent extends JobEventBase {
  readonly type: 'progress';
  readonly estimatedProgress: number;
  readonly progress: ExportProgress;
}

export interface JobFinishedEvent extends JobEventBase {
  readonly type: 'finished';
  readonly state: Exclude<JobState, 'RUNNING'>;
  readonly errorInfo?: string;
  /** Why a FAILED job failed, as the CLI's exit status tells it. */
  readonly errorCode?: ExportErrorCode;
  /** From the start of this attempt to the end; absent when the job never ran here. */
  readonly durationMs?: number;
  /** Bytes of the zip, for a COMPLETED job. */
  readonly zipBytes?: number;
}

/**
 * This node stopped running the job without ending it: it shut down (the job stays RUNNING
 * and is resumed by the next start), or another node took its lease.
 */
export interface JobInterruptedEvent extends JobEventBase {
  readonly type: 'interrupted';
  readonly reason: 'shutdown' | 'lease-lost';
}

/** A job left by a stopped node was found; it is run again, or ended. */
export interface JobRecoveredEvent extends JobEventBase {
  readonly type: 'recovered';
  readonly action: 'resumed' | 'failed' | 'cancelled';
  readonly attempt: number;
}

export type JobEvent =
  | JobQueuedEvent
  | JobStartedEvent
  | JobProgressEvent
  | JobFinishedEvent
  | JobInterruptedEvent
  | JobRecoveredEvent;

/** The engine's EventEmitter map: one event name per `type`, with the event as argument. */
export type JobEventMap = { [K in JobEvent['type']]: [Extract<JobEvent, { type: K }>] };
