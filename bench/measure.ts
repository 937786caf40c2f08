import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs a command under GNU time (`/usr/bin/time -v`), which reports the peak resident set of
 * the command and of every process it waited for: for a shell pipeline, the largest member.
 * Wall time is taken here around the whole run, process start included, as a user sees it.
 */

export interface Measured {
  readonly seconds: number;
  readonly peakRssBytes: number;
  readonly stdout: string;
}

export const GNU_TIME = '/usr/bin/time';

export async function measure(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Measured> {
  const scratch = await mkdtemp(join(tmpdir(), 'mbx-bench-time-'));
  const report = join(scratch, 'time.txt');
  try {
    // What the run before wrote is on disk first: its writeback (mbsync leaves 20,000 new
    // files) would otherwise take the cores and the disk from this run.
    await runChild('sync', [], {});
    const started = process.hrtime.bigint();
    const { code, stdout, stderr } = await runChild(
      GNU_TIME,
      ['-v', '-o', report, command, ...args],
      options,
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) {
      throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.slice(-2000)}`);
    }

    const text = await readFile(report, 'utf8');
    const kib = /Maximum resident set size \(kbytes\): (\d+)/.exec(text)?.[1];
    if (kib === undefined) throw new Error(`no peak RSS in the report of ${command}: ${text}`);
    return { seconds, peakRssBytes: Number(kib) * 1024, stdout };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A shell command line, for peers that are pipelines; `set -o pipefail` keeps failures. */
export function measureShell(script: string, cwd?: string): Promise<Measured> {
  return measure('bash', ['-c', `set -euo pipefail; ${script}`], cwd ? { cwd } : {});
}

function runChild(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      // Only the end is kept: a failing tool may print a line per file.
      stderr = (stderr + text).slice(-8000);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Shell quoting for a path put into a `bash -c` line. */
export function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
