import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { CeilingJob, CeilingResult, CeilingWork } from './ceiling.js';
import type { ChildJob, ChildResult } from './export-child.js';
import { measure } from './measure.js';

/** Our export as a user runs it: a fresh Node process, measured from outside. */

export interface OurFigures {
  /** Wall time of the whole process, Node's start included. */
  readonly seconds: number;
  /** Time of the export alone, as the process measured it. */
  readonly exportSeconds: number;
  readonly peakRssBytes: number;
  readonly zipBytes: number;
  readonly items: number;
}

const CHILD = fileURLToPath(new URL('./export-child.js', import.meta.url));
const CEILING = fileURLToPath(new URL('./ceiling.js', import.meta.url));

/**
 * Runs `script` in a fresh Node process, given `job` as JSON, with `outDir` empty before and
 * removed after (a zip of M2 is gigabytes); gives the measures and the last line it printed.
 */
async function runScript<T>(
  script: string,
  job: unknown,
  outDir: string,
  nodeArgs: readonly string[] = [],
): Promise<{ seconds: number; peakRssBytes: number; result: T }> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  try {
    const measured = await measure(process.execPath, [...nodeArgs, script, JSON.stringify(job)]);
    const result = JSON.parse(measured.stdout.trim().split('\n').pop() ?? '') as T;
    return { seconds: measured.seconds, peakRssBytes: measured.peakRssBytes, result };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** Runs one export into `job.outDir`. */
export async function runOurs(
  job: ChildJob,
  extraNodeArgs: readonly string[] = [],
): Promise<OurFigures> {
  const { seconds, peakRssBytes, result } = await runScript<ChildResult>(
    CHILD,
    job,
    job.outDir,
    extraNodeArgs,
  );
  const { exportSeconds, zipBytes, items } = result;
  return { seconds, exportSeconds, peakRssBytes, zipBytes, items };
}

export function outDirOf(workDir: string, name: string): string {
  return join(workDir, 'out', name);
}

/** The ceiling of ceiling.ts on the Maildir under `mailboxDir`, measured like our export. */
export async function runCeiling(
  mailboxDir: string,
  work: CeilingWork,
  outDir: string,
): Promise<OurFigures> {
  const job: CeilingJob = { maildir: join(mailboxDir, 'Maildir'), work, out: join(outDir, 'zip') };
  const { seconds, peakRssBytes, result } = await runScript<CeilingResult>(CEILING, job, outDir);
  return {
    seconds,
    exportSeconds: seconds,
    peakRssBytes,
    zipBytes: result.zipBytes,
    items: result.messages,
  };
}
