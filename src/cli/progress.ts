import type { ExportProgress } from '../core/export.js';

/**
 * How an export's progress is shown: a bar redrawn in place on a terminal, a plain line every
 * few seconds in a log or a pipe, a JSON line per update for scripts.
 */

export type ProgressMode = 'bar' | 'lines' | 'json' | 'quiet';

export interface ProgressDisplay {
  update(progress: ExportProgress): void;
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

function describe(progress: ExportProgress, r: Rates): string {
  return (
    `${progress.itemsDone}/${progress.itemsTotal} items, ` +
    `${formatBytes(progress.bytesDone)}/${formatBytes(progress.bytesTotal)}, ` +
    `${formatBytes(r.rate)}/s, ${formatDuration(r.eta)} left`
  );
}

export function createProgressDisplay(
  mode: ProgressMode,
  out: NodeJS.WriteStream = process.stderr,
): ProgressDisplay {
  const startedAt = Date.now();
  let lastLine = 0;
  let drawn = false;

  return {
    update(progress) {
      const r = rates(progress, startedAt);

      if (mode === 'json') {
        out.write(`${JSON.stringify({ event: 'progress', ...progress })}\n`);
        return;
      }

      if (mode === 'lines') {
        // A log gets a line every five seconds, not one per item.
        if (Date.now() - lastLine < 5000) return;
        lastLine = Date.now();
        out.write(`progress: ${Math.floor(r.fraction * 100)}% ${describe(progress, r)}\n`);
        return;
      }

      if (mode === 'bar') {
        const width = 28;
        const filled = Math.round(r.fraction * width);
        const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
        const pct = String(Math.floor(r.fraction * 100)).padStart(3);
        const line = `[${bar}] ${pct}% ${describe(progress, r)}`;
        out.write(`\r${line.slice(0, (out.columns ?? 120) - 1)}\x1b[K`);
        drawn = true;
      }
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
