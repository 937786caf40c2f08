import { performance } from 'node:perf_hooks';
import type { ExportProgress } from '../core/export.js';

/** At most this many progress reports a second, whatever the number of chunks and items. */
const REPORTS_PER_SECOND = 4;

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
  ) {
    this.counters = { foldersDone: 0, itemsDone: 0, bytesDone: 0, zipBytes: 0, ...totals };
  }

  /** Reports unless the last report is too recent. */
  tick(): void {
    if (this.listener === undefined) return;
    const now = performance.now();
    if (now - this.lastReport < 1000 / REPORTS_PER_SECOND) return;
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
