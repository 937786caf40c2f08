import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism, release, totalmem } from 'node:os';
import { promisify } from 'node:util';

import type { ImapFigures } from './imap.js';
import type { OurFigures } from './ours.js';
import type { PeerFigures } from './peers.js';

/** The machine and the tables, as markdown: printed by the harness, pasted into BENCHMARKS.md. */

const run = promisify(execFile);

export interface Row {
  readonly mailbox: string;
  readonly items: number;
  readonly bytes: number;
  readonly mode: string;
  readonly ours: OurFigures;
  readonly peer: PeerFigures;
}

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

/** A table cell: a `|` inside it would start another column. */
const cell = (text: string) => text.replaceAll('|', '\\|');

export function embeddedTable(rows: readonly Row[]): string[] {
  const lines = [
    '| mailbox | items | MB | our mode | our s | MB/s | our peak RSS | peer | peer s | peer peak RSS | ratio |',
    '| --- | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const rate = row.bytes / 1e6 / row.ours.seconds;
    lines.push(
      `| ${row.mailbox} | ${row.items} | ${mb(row.bytes)} | ${row.mode} | ` +
        `${secs(row.ours.seconds)} | ${rate.toFixed(0)} | ${mib(row.ours.peakRssBytes)} | ` +
        `${cell(row.peer.name)} | ${secs(row.peer.seconds)} | ${mib(row.peer.peakRssBytes)} | ` +
        `${(row.peer.seconds / row.ours.seconds).toFixed(2)} |`,
    );
  }
  return lines;
}

export function imapTable(mailbox: string, figures: ImapFigures): string[] {
  const ours = figures.ours.items / figures.ours.seconds;
  const peer = figures.peer.messages / figures.peer.seconds;
  return [
    '| mailbox | messages | our s | our msgs/s | our peak RSS | mbsync s | mbsync msgs/s | mbsync peak RSS | ratio |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${mailbox} over IMAP | ${figures.ours.items} (mbsync ${figures.peer.messages}) | ` +
      `${secs(figures.ours.seconds)} | ${ours.toFixed(0)} | ${mib(figures.ours.peakRssBytes)} | ` +
      `${secs(figures.peer.seconds)} | ${peer.toFixed(0)} | ${mib(figures.peer.peakRssBytes)} | ` +
      `${(ours / peer).toFixed(2)} |`,
  ];
}
