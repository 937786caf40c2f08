import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ExportError } from '../../core/errors.js';
import type { ExportLog } from '../../core/model.js';
import { verifyExport, type VerifyReport } from '../../export/verify.js';
import { withApp } from '../app-context.js';
import { counted } from '../counted.js';
import type { GlobalOptions } from '../main.js';
import { logPathBeside } from '../s3-path.js';
import { UsageError } from '../usage-error.js';
import { download } from './get.js';

export interface VerifyOptions extends GlobalOptions {
  zip: string;
  log?: string;
  json?: boolean;
}

const LOG_MEMBERS: readonly (keyof ExportLog)[] = [
  'totalNonExportableItems',
  'totalMessages',
  'sha384Hash',
  'totalBytes',
  'totalFolders',
  'startTime',
  'endTime',
];

export function parseExportLog(text: string, where: string): ExportLog {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${where} is not JSON: ${(error as Error).message}`);
  }
  // JSON that is no object (`null`, a number, a list) has no members to look up.
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new UsageError(`${where} is not an export log: it holds no JSON object`);
  }
  const log = raw as Record<string, unknown>;
  for (const member of LOG_MEMBERS) {
    if (typeof log[member] !== 'string') {
      throw new UsageError(`${where} is not an export log: ${member} is missing or not a string`);
    }
  }
  return log as unknown as ExportLog;
}

/** Checks a local zip, or one in the embedded buckets fetched to a private temp folder first. */
async function verifyPaths(options: VerifyOptions): Promise<VerifyReport> {
  if (!options.zip.startsWith('s3://')) {
    await requireFile(options.zip);
    const logPath = options.log ?? logPathBeside(options.zip);
    const log = parseExportLog(await readText(logPath), logPath);
    return verifyExport(options.zip, log);
  }

  const dir = await mkdtemp(join(tmpdir(), 'mailbox-export-verify-'));
  try {
    return await withApp(
      options,
      async (app) => {
        const zipFile = join(dir, 'export.zip');
        const logFile = join(dir, 'export-log.json');
        await download(app, options.zip, zipFile);
        if (options.log?.startsWith('s3://') || options.log === undefined) {
          await download(app, options.log ?? logPathBeside(options.zip), logFile);
        }
        const logPath = options.log && !options.log.startsWith('s3://') ? options.log : logFile;
        return verifyExport(zipFile, parseExportLog(await readText(logPath), logPath));
      },
      { recover: false },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The zip is checked before its log, whose name is made from the zip's: name what is missing. */
async function requireFile(path: string): Promise<void> {
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (error) {
    throw fileError(path, error);
  }
  if (!isFile) throw new UsageError(`${path} is not a file`);
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw fileError(path, error);
  }
}

function fileError(path: string, error: unknown): UsageError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new UsageError(`${path}: no such file`, { cause: error });
  }
  if (code === 'EISDIR') return new UsageError(`${path} is not a file`, { cause: error });
  return new UsageError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
}

export async function runVerify(options: VerifyOptions): Promise<void> {
  const report = await verifyPaths(options);

  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else if (report.ok) {
    const checked = counted(report.entriesChecked, 'entry', 'entries');
    process.stdout.write(`${options.zip}: OK, ${checked} checked\n`);
  } else {
    for (const problem of report.problems) {
      process.stdout.write(`${problem.entry}: ${problem.message}\n`);
    }
    if (report.problemsNotKept > 0) {
      process.stdout.write(`(and ${counted(report.problemsNotKept, 'more problem')})\n`);
    }
  }

  if (!report.ok) {
    const problems = counted(report.problems.length + report.problemsNotKept, 'problem');
    throw new ExportError(
      'ItemUnreadable',
      `${options.zip} does not match its export log: ${problems}`,
    );
  }
}
