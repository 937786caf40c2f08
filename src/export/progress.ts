import { performance } from 'node:perf_hooks';
import type { ExportProgress } from '../core/export.js';

/**
 * Least time between two progress reports, whatever the number of chunks and items: four a
 * second keep a progress bar alive.
 */
const REPORT_INTERVAL_MS = 250;

type Counters = { -readonly [K in keyof ExportProgress]: ExportProgress[K] };

/**
 * Counts what the export has done and hands a snapshot to the listener now and then. The
 * listener is the caller's code: an exception from it is the caller's fault and must not fail
 * the export, so it is dropped.
 */
export class ProgressReporter {
  readonly counters: Counters;
  private lastReport = -Infinity;

  constructor(
    private readonly listener: ((progress: ExportProgress) => void) | undefined,
    totals: Pick<ExportProgress, 'foldersTotal' | 'itemsTotal' | 'bytesTotal'>,
    private readonly intervalMs: number = REPORT_INTERVAL_MS,
  ) {
    this.counters = { foldersDone: 0, itemsDone: 0, bytesDone: 0, zipBytes: 0, ...totals };
  }

  /** Reports unless the last report is too recent. */
  tick(): void {
    if (this.listener === undefined) return;
    const now = performance.now();
    if (now - this.lastReport < this.intervalMs) return;
    this.lastReport = now;
    this.emit();
  }

  /** Reports now: at the end, so that the last snapshot shows everything done. */
  flush(): void {
    if (this.listener === undefined) return;
    this.lastReport = performance.now();
    this.emit();
  }

  private emit(): void {
    try {
      this.listener?.({ ...this.counters });
    } catch {
      // The listener's failure is not the export's; see the class comment.
    }
  }
}
