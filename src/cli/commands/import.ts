import { lstat } from 'node:fs/promises';

import type { App } from '../../app/app.js';
import type { ImportReport } from '../../import/report.js';
import { importPath, type MboxFormat } from '../../import/index.js';
import { findOrganization, findUser, withApp } from '../app-context.js';
import { counted } from '../counted.js';
import type { GlobalOptions } from '../main.js';
import { UsageError } from '../usage-error.js';

export interface ImportCommandOptions extends GlobalOptions {
  org: string;
  user: string;
  folder: string;
  mboxFormat: MboxFormat;
  json?: boolean;
  paths: string[];
}

/** Imports each path into the user's embedded mailbox; one report per path, in order. */
export async function importInto(app: App, options: ImportCommandOptions): Promise<ImportReport[]> {
  const organization = await findOrganization(app, options.org);
  if (organization.binding.kind !== 'embedded') {
    throw new UsageError(
      `Organization ${organization.alias} keeps its mail on ${organization.binding.imap}: ` +
        'import into that server with its own tools.',
    );
  }
  const user = await findUser(app, organization, options.user);
  const mailboxDir = app.mailRoot.mailboxDir(organization, user);

  const reports: ImportReport[] = [];
  for (const path of options.paths) {
    reports.push(
      await importPath(mailboxDir, path, {
        mboxFormat: options.mboxFormat,
        folder: options.folder.split('/'),
      }),
    );
  }
  return reports;
}

export function describeImport(path: string, report: ImportReport): string[] {
  const totals = Object.entries(report.totals)
    .map(([kind, count]) => counted(count, kind))
    .join(', ');
  const lines = [`${path}: ${totals || 'nothing'} in ${counted(report.folders.length, 'folder')}`];
  for (const note of report.notes) lines.push(`  note: ${note.input}: ${note.note}`);
  for (const skipped of report.skipped)
    lines.push(`  skipped: ${skipped.input}: ${skipped.reason}`);
  return lines;
}

/**
 * Fails on the first path that does not exist, before anything is imported: a mistyped last
 * path would otherwise leave the paths before it imported and the command failed.
 */
async function requirePaths(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    try {
      await lstat(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new UsageError(`${path}: no such file or folder`, { cause: error });
      }
      throw error;
    }
  }
}

export async function runImport(options: ImportCommandOptions): Promise<void> {
  await requirePaths(options.paths);

  const reports = await withApp(options, (app) => importInto(app, options), { recover: false });

  if (options.json) {
    const out = options.paths.map((path, i) => ({ path, ...reports[i] }));
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    options.paths.forEach((path, i) => {
      for (const line of describeImport(path, reports[i]!)) process.stdout.write(`${line}\n`);
    });
  }

  // Something not stored is not an error of the command, but a script must be able to see it.
  if (reports.some((report) => report.skipped.length > 0)) process.exitCode = 4;
}
