import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { App } from '../../app/app.js';
import { ExportError } from '../../core/errors.js';
import { verifyExport } from '../../export/verify.js';
import { withApp } from '../app-context.js';
import { counted } from '../counted.js';
import type { GlobalOptions } from '../main.js';
import { chooseMode, createProgressDisplay } from '../progress.js';
import { logPathBeside, parseS3Path } from '../s3-path.js';
import { UsageError } from '../usage-error.js';
import { exportNow, JobWatch, outcomeError, printOutcome } from './export.js';
import { describeImport, importInto } from './import.js';
import { setUp } from './setup.js';
import { download } from './get.js';
import { parseExportLog } from './verify.js';

export interface DemoOptions extends GlobalOptions {
  dir: string;
  json?: boolean;
}

/** The sample mailbox shipped with the project: `sample/` at the package's root. */
const SAMPLE = fileURLToPath(new URL('../../../../sample/', import.meta.url));

/** Marks a folder as the demo's own, so that emptying it can never remove anything else. */
const MARKER = '.mailbox-export-demo';

/**
 * The whole job on the embedded defaults, start to end, in a folder of its own: a demo
 * organization and user, the sample mailbox imported, one export with live progress, the job's
 * description and export log, then the zip fetched, decrypted and verified.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const dir = resolve(options.dir);
  await emptyDemoDir(dir);
  const say = (line: string) => {
    if (!options.json) process.stdout.write(`${line}\n`);
  };

  const watch = new JobWatch(
    createProgressDisplay(chooseMode(options), options.json ? process.stdout : process.stderr),
  );

  await withApp(
    { ...options, dataDir: dir },
    async (app) => {
      const setup = await setUp(app, { org: 'demo', user: 'jane', bucket: 'exports' });
      say(`organization ${setup.organization.organizationId} (demo), user ${setup.user.email}`);
      say(`key ${setup.kmsKeyArn}, bucket ${setup.bucket}`);

      const paths = ['mail/stepenovitch-j', 'calendar', 'contacts'].map((p) => join(SAMPLE, p));
      const reports = await importInto(app, {
        org: 'demo',
        user: 'jane',
        folder: 'INBOX',
        mboxFormat: 'mboxrd',
        paths,
      });
      paths.forEach((path, i) => describeImport(path, reports[i]!).forEach(say));

      say('exporting...');
      const outcome = await exportNow(
        app,
        { org: 'demo', user: 'jane', bucket: 'exports', prefix: 'demo', key: setup.kmsKeyArn },
        watch,
      );
      watch.finish(outcome.job);
      await printOutcome(app, outcome.job, options.json ?? false);

      const error = outcomeError(outcome);
      if (error) throw error;
      await checkExport(app, outcome.job.s3Path, dir, say);
    },
    { onJobEvent: watch.listener },
  );
}

/** Fetches the zip and its log out of the bucket, decrypted, and verifies one against the other. */
async function checkExport(
  app: App,
  s3Path: string,
  dir: string,
  say: (line: string) => void,
): Promise<void> {
  const zipFile = join(dir, 'export.zip');
  // Named as `verify` looks for it, so that `verify <dir>/export.zip` works on the demo's copy.
  const logFile = logPathBeside(zipFile);
  await download(app, s3Path, zipFile);
  await download(app, logPathBeside(s3Path), logFile);

  const report = await verifyExport(
    zipFile,
    parseExportLog(await readFile(logFile, 'utf8'), logFile),
  );
  if (!report.ok) {
    throw new ExportError(
      'ItemUnreadable',
      `the demo export does not verify: ${JSON.stringify(report.problems)}`,
    );
  }

  const { bucket, key } = parseS3Path(s3Path);
  say(`stored encrypted: ${join(app.buckets.root, bucket, key)}`);
  const verified = counted(report.entriesChecked, 'entry', 'entries');
  say(`decrypted copy:   ${zipFile} (${verified} verified)`);
  say(`try: unzip -l ${zipFile}`);
}

async function emptyDemoDir(dir: string): Promise<void> {
  if (existsSync(dir)) {
    const entries = await readdir(dir);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new UsageError(
        `${dir} is not empty and was not made by the demo; give another folder with --dir.`,
      );
    }
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MARKER), 'made by `mailbox-export demo`; emptied at each run\n');
}
