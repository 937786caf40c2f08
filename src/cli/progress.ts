import type { ExportProgress } from '../core/export.js';

/**
 * How an export's progress is shown: a bar redrawn in place on a terminal, a plain line every
 * few seconds in a log or a pipe, a JSON line per update for scripts.
 */

export type ProgressMode = 'bar' | 'lines' | 'json' | 'quiet';

export interface ProgressDisplay {
  update(progress: ExportProgress): void;
  /**
   * Shows the job as done. The engine stops its progress events at 99% until the job ends,
   * and a log line is held back for five seconds, so without this the last thing shown of a
   * completed job may be a count short of its total.
   */
  complete(): void;
  /** Clears the bar so that the next output starts on a clean line. */
  end(): void;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${UNITS[unit]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

interface Rates {
  fraction: number;
  rate: number;
  eta: number;
}

function rates(progress: ExportProgress, startedAt: number): Rates {
  const elapsed = Math.max((Date.now() - startedAt) / 1000, 0.001);
  const rate = progress.bytesDone / elapsed;
  const total = progress.bytesTotal;
  const fraction = total > 0 ? Math.min(progress.bytesDone / total, 1) : 0;
  const eta = rate > 0 && total > 0 ? (total - progress.bytesDone) / rate : Number.NaN;
  return { fraction, rate, eta };
}

/**
 * A completed job's last progress with nothing left: every item listed was exported or
 * reported, and the bytes the listing announced count as read even when the store's sizes
 * were a little off.
 */
function completed(progress: ExportProgress, startedAt: number): [ExportProgress, Rates] {
  const done = {
    ...progress,
    foldersDone: progress.foldersTotal,
    itemsDone: progress.itemsTotal,
    bytesDone: Math.max(progress.bytesDone, progress.bytesTotal),
  };
  return [done, { ...rates(done, startedAt), fraction: 1, eta: 0 }];
}

const NOTHING_YET: ExportProgress = {
  foldersDone: 0,
  foldersTotal: 0,
  itemsDone: 0,
  itemsTotal: 0,
  bytesDone: 0,
  bytesTotal: 0,
  zipBytes: 0,
};

/**
 * The parts of a progress line after its percentage, most wanted first: the items and the time
 * left come before the bytes and the rate, so that a narrow terminal drops only those.
 */
function phrases(progress: ExportProgress, r: Rates): string[] {
  return [
    `${progress.itemsDone}/${progress.itemsTotal} items, ${formatDuration(r.eta)} left`,
    `${formatBytes(progress.bytesDone)}/${formatBytes(progress.bytesTotal)}`,
    `${formatBytes(r.rate)}/s`,
  ];
}

function percent(r: Rates): string {
  return `${String(Math.floor(r.fraction * 100)).padStart(3)}%`;
}

const BAR_WIDTH = 28;
const NARROWEST_BAR = 10;

/**
 * The bar and as many phrases as fit in `columns`, the bar at full width as long as any detail
 * is shown. The last column stays empty: some terminals wrap as soon as it is written.
 */
function barLine(progress: ExportProgress, r: Rates, columns: number): string {
  const room = columns - 1;
  const words = phrases(progress, r);
  const drawBar = (width: number) => {
    const filled = Math.round(r.fraction * width);
    return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  };

  for (let kept = words.length; kept > 0; kept--) {
    const text = `${percent(r)} ${words.slice(0, kept).join(', ')}`;
    const barRoom = room - text.length - '[] '.length;
    if (barRoom >= BAR_WIDTH) return `${drawBar(BAR_WIDTH)} ${text}`;
    if (kept === 1 && barRoom >= NARROWEST_BAR) return `${drawBar(barRoom)} ${text}`;
  }
  return `${percent(r)} ${words[0]}`.slice(0, room);
}

function plainLine(progress: ExportProgress, r: Rates): string {
  return `progress: ${percent(r).trimStart()} ${phrases(progress, r).join(', ')}`;
}

/** Where the display writes: a terminal's width, when it has one, shapes the bar. */
export interface ProgressOutput {
  write(text: string): unknown;
  readonly columns?: number;
}

export function createProgressDisplay(
  mode: ProgressMode,
  out: ProgressOutput = process.stderr,
): ProgressDisplay {
  const startedAt = Date.now();
  let lastLine = 0;
  let drawn = false;
  let latest: ExportProgress | undefined;

  const drawBar = (progress: ExportProgress, r: Rates) => {
    out.write(`\r${barLine(progress, r, out.columns ?? 120)}\x1b[K`);
    drawn = true;
  };

  return {
    update(progress) {
      latest = progress;
      const r = rates(progress, startedAt);

      if (mode === 'json') {
        out.write(`${JSON.stringify({ event: 'progress', ...progress })}\n`);
        return;
      }

      if (mode === 'lines') {
        // A log gets a line every five seconds, not one per item.
        if (Date.now() - lastLine < 5000) return;
        lastLine = Date.now();
        out.write(`${plainLine(progress, r)}\n`);
        return;
      }

      if (mode === 'bar') drawBar(progress, r);
    },

    complete() {
      // JSON lines carry the engine's own counters, and end with the job's result anyway.
      if (mode === 'json' || mode === 'quiet') return;
      const [progress, r] = completed(latest ?? NOTHING_YET, startedAt);

      if (mode === 'lines') {
        out.write(`${plainLine(progress, r)}\n`);
        return;
      }

      // The full bar stays on screen, so the bar is ended with a newline rather than cleared.
      drawBar(progress, r);
      out.write('\n');
      drawn = false;
    },

    end() {
      if (drawn) out.write('\r\x1b[K');
    },
  };
}

/** The bar on a terminal, plain lines otherwise, unless the caller asked for JSON or quiet. */
export function chooseMode(options: { json?: boolean; quiet?: boolean }): ProgressMode {
  if (options.json) return 'json';
  if (options.quiet) return 'quiet';
  return process.stderr.isTTY ? 'bar' : 'lines';
}
