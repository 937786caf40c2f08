import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism, release, totalmem } from 'node:os';
import { promisify } from 'node:util';

import type { ImapFigures } from './imap.js';
import type { OurFigures } from './ours.js';
import type { PeerFigures } from './peers.js';

/** The machine and the tables, as markdown: printed by the harness, pasted into BENCHMARKS.md. */

const run = promisify(execFile);

/** One case: ours and the peer, run in turn `repeat` times (`ours[i]` beside `peer[i]`). */
export interface Row {
  readonly mailbox: string;
  readonly items: number;
  readonly bytes: number;
  readonly mode: string;
  readonly ours: readonly OurFigures[];
  readonly peer: readonly PeerFigures[];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The ratio of a case: the median of each round's ratio, the two runs of a round being the
 * closest in time, with the lowest and highest when there was more than one round.
 */
function ratioCell(ratios: readonly number[]): string {
  const text = median(ratios).toFixed(2);
  if (ratios.length === 1) return text;
  return `${text} (${Math.min(...ratios).toFixed(2)} to ${Math.max(...ratios).toFixed(2)})`;
}

const seconds = (runs: readonly { seconds: number }[]) => median(runs.map((run) => run.seconds));
const peakRss = (runs: readonly { peakRssBytes: number }[]) =>
  Math.max(...runs.map((run) => run.peakRssBytes));

export async function describeMachine(): Promise<string[]> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const version = async (command: string, args: string[], pattern: RegExp) => {
    try {
      const { stdout, stderr } = await run(command, args);
      return pattern.exec(stdout + stderr)?.[0] ?? 'unknown';
    } catch {
      return 'absent';
    }
  };
  return [
    `- CPU: ${availableParallelism()} cores (nproc), ${model}`,
    `- RAM: ${(totalmem() / 2 ** 30).toFixed(1)} GiB; kernel ${release()}`,
    `- Node ${process.version}; ${await version('zip', ['-v'], /Zip \d[\d.]*/)}; ` +
      `${await version('mbsync', ['--version'], /isync [\d.]+/)}; ` +
      `Dovecot ${await version('dovecot', ['--version'], /^[\d.]+/)}`,
  ];
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0);
const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
const secs = (seconds: number) => seconds.toFixed(seconds < 10 ? 2 : 1);
/** A rate; a mailbox of one huge message goes at a fraction of a message a second. */
const rate = (perSecond: number) => perSecond.toFixed(perSecond < 10 ? 2 : 0);

/** A table cell: a `|` inside it would start another column. */
const cell = (text: string) => text.replaceAll('|', '\\|');

export function embeddedTable(rows: readonly Row[]): string[] {
  const lines = [
    '| mailbox | items | MB | our mode | our s | MB/s | our peak RSS | peer | peer s | peer peak RSS | ratio |',
    '| --- | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const ours = seconds(row.ours);
    const ratios = row.ours.map((run, index) => row.peer[index]!.seconds / run.seconds);
    lines.push(
      `| ${row.mailbox} | ${row.items} | ${mb(row.bytes)} | ${row.mode} | ` +
        `${secs(ours)} | ${(row.bytes / 1e6 / ours).toFixed(0)} | ${mib(peakRss(row.ours))} | ` +
        `${cell(row.peer[0]!.name)} | ${secs(seconds(row.peer))} | ${mib(peakRss(row.peer))} | ` +
        `${ratioCell(ratios)} |`,
    );
  }
  return lines;
}

export function imapTable(mailbox: string, figures: ImapFigures): string[] {
  const { ours, peer } = figures;
  const ourRate = (run: OurFigures) => run.items / run.seconds;
  const peerRate = (run: ImapFigures['peer'][number]) => run.messages / run.seconds;
  const ratios = ours.map((run, index) => ourRate(run) / peerRate(peer[index]!));
  const items = [...new Set(ours.map((run) => run.items))].join(', ');
  const stored = [...new Set(peer.map((run) => run.messages))].join(', ');
  return [
    `| ${mailbox} over IMAP | ${items} (mbsync ${stored}) | ` +
      `${secs(seconds(ours))} | ${rate(median(ours.map(ourRate)))} | ` +
      `${mib(peakRss(ours))} | ${secs(seconds(peer))} | ${rate(median(peer.map(peerRate)))} | ` +
      `${mib(peakRss(peer))} | ${ratioCell(ratios)} |`,
  ];
}

export const IMAP_TABLE_HEAD = [
  '| mailbox | messages | our s | our msgs/s | our peak RSS | mbsync s | mbsync msgs/s | mbsync peak RSS | ratio |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];
