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

/** Runs one export into `outDir` (emptied before and after: a zip of M2 is gigabytes). */
export async function runOurs(
  job: ChildJob,
  extraNodeArgs: readonly string[] = [],
): Promise<OurFigures> {
  await rm(job.outDir, { recursive: true, force: true });
  await mkdir(job.outDir, { recursive: true });
  try {
    const measured = await measure(process.execPath, [
      ...extraNodeArgs,
      CHILD,
      JSON.stringify(job),
    ]);
    const result = JSON.parse(measured.stdout.trim().split('\n').pop() ?? '') as ChildResult;
    return {
      seconds: measured.seconds,
      exportSeconds: result.exportSeconds,
      peakRssBytes: measured.peakRssBytes,
      zipBytes: result.zipBytes,
      items: result.items,
    };
  } finally {
    await rm(job.outDir, { recursive: true, force: true });
  }
}

export function outDirOf(workDir: string, name: string): string {
  return join(workDir, 'out', name);
}

const CEILING = fileURLToPath(new URL('./ceiling.js', import.meta.url));

/** The ceiling of ceiling.ts on the Maildir under `mailboxDir`, measured like our export. */
export async function runCeiling(
  mailboxDir: string,
  work: CeilingWork,
  outDir: string,
): Promise<OurFigures> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  try {
    const job: CeilingJob = {
      maildir: join(mailboxDir, 'Maildir'),
      work,
      out: join(outDir, 'zip'),
    };
    const measured = await measure(process.execPath, [CEILING, JSON.stringify(job)]);
    const result = JSON.parse(measured.stdout.trim().split('\n').pop() ?? '') as CeilingResult;
    return {
      seconds: measured.seconds,
      exportSeconds: measured.seconds,
      peakRssBytes: measured.peakRssBytes,
      zipBytes: result.zipBytes,
      items: result.messages,
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
