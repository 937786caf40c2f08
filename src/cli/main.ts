import { Command, CommanderError, Option } from 'commander';

import { ConfigError } from '../config/config.js';
import { ApiError, EXPORT_ERRORS, ExportError } from '../core/errors.js';
import { UsageError } from './usage-error.js';

/**
 * The command line. Each command lives in its own file under `commands/` and is loaded only
 * when it runs, so that `--help` stays fast. Errors end as one line on stderr and an exit
 * status that tells them apart: 2 for usage and configuration, the export error's own status
 * (3..10) for a failed export, 1 for anything else.
 */

export interface GlobalOptions {
  config?: string;
  dataDir?: string;
}

function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

function program(): Command {
  const root = new Command('mailbox-export')
    .description('Export whole mailboxes as encrypted zips of MIME files (WorkMail export API).')
    .option('-c, --config <file>', 'configuration file (JSON); defaults apply without one')
    .option('-d, --data-dir <dir>', 'data folder (default: ./mailbox-export-data)')
    .configureOutput({
      // Commander's errors look like the commands' own: one line after the program's name.
      outputError: (text, write) => write(text.replace(/^error: /, 'mailbox-export: ')),
    })
    .exitOverride();

  root
    .command('demo')
    .description('export the bundled sample mailbox on the embedded defaults, start to end')
    .option('--dir <dir>', 'data folder of the demo, emptied first', 'mailbox-export-demo')
    .option('--json', 'progress and results as JSON lines')
    .action(async (options, command: Command) => {
      const { runDemo } = await import('./commands/demo.js');
      await runDemo({ ...globals(command), ...options });
    });

  root
    .command('serve')
    .description('serve the WorkMail API and run export jobs')
    .option('-p, --port <port>', 'port (default from the configuration: 8457)', Number)
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .action(async (options, command: Command) => {
      const { runServe } = await import('./commands/serve.js');
      await runServe({ ...globals(command), ...options });
    });

  root
    .command('setup')
    .description('create an organization, a user with a mailbox, a key and a bucket')
    .requiredOption('--org <alias>', 'organization alias (made if missing)')
    .requiredOption('--user <name>', 'user name (made and given a mailbox if missing)')
    .option('--bucket <name>', 'embedded bucket to make', 'exports')
    .option('--mail-server <name>', "a new organization's mail server (from the configuration)")
    .option('--json', 'the result as JSON')
    .action(async (options, command: Command) => {
      const { runSetup } = await import('./commands/setup.js');
      await runSetup({ ...globals(command), ...options });
    });

  root
    .command('import')
    .description("fill a user's mailbox from Maildir trees, mbox, .eml, .ics and .vcf files")
    .requiredOption('--org <org>', 'organization id or alias')
    .requiredOption('--user <user>', 'user id, name or e-mail address')
    .option('--folder <name>', 'folder for single .eml files', 'INBOX')
    .addOption(
      new Option('--mbox-format <format>', 'how ">From " lines were escaped')
        .choices(['mboxrd', 'mboxo'])
        .default('mboxrd'),
    )
    .option('--json', 'the import report as JSON')
    .argument('<path...>', 'files or folders to import')
    .action(async (paths: string[], options, command: Command) => {
      const { runImport } = await import('./commands/import.js');
      await runImport({ ...globals(command), ...options, paths });
    });

  root
    .command('export')
    .description("export one user's mailbox now, in this process, with a progress display")
    .requiredOption('--org <org>', 'organization id or alias')
    .requiredOption('--user <user>', 'user id, name or e-mail address')
    .requiredOption('--bucket <name>', 'bucket to write to')
    .option('--prefix <prefix>', 'key prefix of the zip and its log', 'exports')
    .option('--key <arn>', 'KMS key ARN (default: the only embedded key)')
    .option('--role <arn>', 'IAM role ARN the job acts with')
    .option('--description <text>', 'description of the job')
    .addOption(
      new Option(
        '--compression <setting>',
        'default (deflate 6), fast (deflate 1) or store',
      ).choices(['default', 'fast', 'store']),
    )
    .option('--json', 'progress and result as JSON lines on stdout')
    .option('-q, --quiet', 'no progress display')
    .action(async (options, command: Command) => {
      const { runExportCommand } = await import('./commands/export.js');
      await runExportCommand({ ...globals(command), ...options });
    });

  root
    .command('get')
    .description('download and decrypt an export from the embedded bucket')
    .argument('<s3-path>', 's3://bucket/key of the zip (or of the export log)')
    .option('-o, --output <file>', "file to write (default: the key's base name)")
    .action(async (path: string, options, command: Command) => {
      const { runGet } = await import('./commands/get.js');
      await runGet({ ...globals(command), ...options, path });
    });

  root
    .command('verify')
    .description('check a zip against its export log and manifest; non-zero on any mismatch')
    .argument('<zip>', 'the zip file, or s3://bucket/key of the zip in the embedded bucket')
    .argument('[log]', 'the export log file (default: beside the zip)')
    .option('--json', 'the report as JSON')
    .action(async (zip: string, log: string | undefined, options, command: Command) => {
      const { runVerify } = await import('./commands/verify.js');
      await runVerify({ ...globals(command), ...options, zip, log });
    });

  root
    .command('credentials')
    .description('print the access key that signs API calls, as shell exports')
    .action(async (_options, command: Command) => {
      const { runCredentials } = await import('./commands/credentials.js');
      await runCredentials(globals(command));
    });

  // After a mistyped command or option the whole help text would bury the one line that
  // matters, so each command points to its own help instead.
  root.showHelpAfterError('(see mailbox-export --help)');
  for (const command of root.commands) {
    command.showHelpAfterError(`(see mailbox-export ${command.name()} --help)`);
  }

  return root;
}

function exitStatus(error: unknown): number {
  if (error instanceof UsageError || error instanceof ConfigError) return 2;
  if (error instanceof ExportError) return EXPORT_ERRORS[error.code].exit;
  if (error instanceof ApiError) return 2;
  return 1;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`mailbox-export: ${message}\n`);
    if (process.env.MAILBOX_EXPORT_DEBUG && error instanceof Error) {
      process.stderr.write(`${error.stack}\n`);
    }
    process.exitCode = exitStatus(error);
  }
}
