import type { ExportLog } from './model.js';
import type { ObjectStore } from './object-store.js';
import type { MailboxSource } from './source.js';

/**
 * The contract between the job engine and the export pipeline. The pipeline reads a source,
 * writes one zip and one export log under the job's prefix, and reports progress; it knows
 * nothing of HTTP, job stores or which backends it was handed.
 */

export interface ExportProgress {
  readonly foldersDone: number;
  readonly foldersTotal: number;
  readonly itemsDone: number;
  readonly itemsTotal: number;
  /** Source bytes read so far, and the total the listing announced (0 when unknown). */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** Bytes of zip written so far. */
  readonly zipBytes: number;
}

export type Compression = 'store' | 'fast' | 'default';

export interface ExportOptions {
  readonly jobId: string;
  readonly source: MailboxSource;
  readonly objectStore: ObjectStore;
  readonly bucket: string;
  /** Object keys of the zip and of the export log, both under the job's prefix. */
  readonly zipKey: string;
  readonly logKey: string;
  readonly kmsKeyArn: string;
  readonly signal: AbortSignal;
  readonly startTime: Date;
  /**
   * How many unreadable items the job tolerates. Zero (the default) makes any unreadable item
   * fail the job; above zero, each one is named in the manifest and the job still completes.
   */
  readonly badItemLimit?: number;
  readonly compression?: Compression;
  readonly onProgress?: (progress: ExportProgress) => void;
  /** Least time between two calls of `onProgress`, the last one aside; default 250 ms. */
  readonly progressEventMs?: number;
}

export interface ExportResult {
  readonly log: ExportLog;
  readonly zipBytes: number;
  readonly itemsExported: number;
  readonly unreadableItems: number;
}

export type RunExport = (options: ExportOptions) => Promise<ExportResult>;
