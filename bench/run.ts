// `npm run bench`: builds the bench mailboxes (once), runs our export and the tools operators
// use today side by side on each, and prints one table. See BENCHMARKS.md.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import type { Compression } from '../src/core/export.js';
import { corpusRoot } from '../test/helpers/paths.js';
import { runImapBench, type ImapFigures } from './imap.js';
import { ensureMailbox, MAILBOX_NAMES, type Mailbox, type MailboxName } from './mailboxes.js';
import { outDirOf, runOurs } from './ours.js';
import { runTarFloor, runZipPeer } from './peers.js';
import { describeMachine, embeddedTable, imapTable, type Row } from './report.js';

const USAGE = `npm run bench -- [options]
  --only M1,M2,M3,M4   mailboxes to run (default: all)
  --scale N            size factor, 0.1 for a quick run (default 1)
  --modes LIST         default,fast,store,file (default: all four)
  --dir DIR            work dir for mailboxes and zips (default: $TMPDIR/mailbox-export-bench)
  --corpus DIR         Enron corpus for M1 (default: ../shared/corpus/mail/enron)
  --imap | --no-imap   M1 over IMAP, Dovecot to mbsync and to us (default: on with M1)
  --cpu-prof           write a CPU profile of each of our runs under DIR/profiles
  --clean              remove DIR (the generated mailboxes) and exit`;

/** Our modes, each beside the peer that does the same work. */
const MODES = {
  default: { compression: 'default', sink: 'store', label: 'default (deflate 6)' },
  fast: { compression: 'fast', sink: 'store', label: 'fast (deflate 1)' },
  store: { compression: 'store', sink: 'store', label: 'store' },
  file: { compression: 'store', sink: 'file', label: 'store, plain file' },
} as const satisfies Record<
  string,
  { compression: Compression; sink: 'store' | 'file'; label: string }
>;
type ModeName = keyof typeof MODES;

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    scale: { type: 'string', default: '1' },
    modes: { type: 'string', default: 'default,fast,store,file' },
    dir: { type: 'string', default: join(tmpdir(), 'mailbox-export-bench') },
    corpus: { type: 'string', default: join(corpusRoot, 'mail', 'enron') },
    imap: { type: 'boolean' },
    'no-imap': { type: 'boolean' },
    'cpu-prof': { type: 'boolean' },
    clean: { type: 'boolean' },
    help: { type: 'boolean' },
  },
});

function listOf<T extends string>(text: string, known: readonly T[], what: string): T[] {
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!known.includes(name as T)) throw new Error(`unknown ${what} ${name}: ${known.join(', ')}`);
  }
  return names as T[];
}

const log = (line: string) => console.error(`[bench] ${line}`);

async function main(): Promise<void> {
  if (values.help) return console.log(USAGE);
  const workDir = values.dir;
  if (values.clean) {
    await rm(workDir, { recursive: true, force: true });
    return log(`removed ${workDir}`);
  }

  const scale = Number(values.scale);
  if (!(scale > 0 && scale <= 1)) throw new Error(`--scale must be in (0, 1], not ${values.scale}`);
  const only = listOf<MailboxName>(
    values.only ?? MAILBOX_NAMES.join(','),
    MAILBOX_NAMES,
    'mailbox',
  );
  const modes = listOf<ModeName>(values.modes, Object.keys(MODES) as ModeName[], 'mode');
  const withImap = values.imap === true || (only.includes('M1') && values['no-imap'] !== true);
  const nodeArgs = values['cpu-prof']
    ? ['--cpu-prof', '--cpu-prof-dir', join(workDir, 'profiles')]
    : [];
  await mkdir(workDir, { recursive: true });

  const machine = await describeMachine();
  for (const line of machine) log(line);
  const rows: Row[] = [];
  let imap: { mailbox: string; figures: ImapFigures } | undefined;
  const skipped: string[] = [];

  for (const name of only) {
    const mailbox = await ensureMailbox(name, workDir, scale, values.corpus, log);
    if ('skipped' in mailbox) {
      skipped.push(`${name} skipped: ${mailbox.skipped}`);
      log(skipped.at(-1)!);
      continue;
    }

    rows.push(...(await runMailbox(mailbox, modes, workDir, nodeArgs)));
    if (name === 'M1' && withImap) {
      imap = { mailbox: name, figures: await runImapBench(mailbox, workDir, log, nodeArgs) };
    }
  }

  const lines = [
    `Scale ${scale}; work dir ${workDir}.`,
    '',
    ...machine,
    '',
    ...embeddedTable(rows),
    ...(imap ? ['', ...imapTable(imap.mailbox, imap.figures)] : []),
    ...skipped.map((line) => `\n${line}`),
  ];
  console.log(lines.join('\n'));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  await writeFile(join(workDir, `results-${stamp}.md`), `${lines.join('\n')}\n`);
  await writeFile(
    join(workDir, `results-${stamp}.json`),
    `${JSON.stringify({ scale, machine, rows, imap }, null, 2)}\n`,
  );
}

async function runMailbox(
  mailbox: Mailbox,
  modes: readonly ModeName[],
  workDir: string,
  nodeArgs: readonly string[],
): Promise<Row[]> {
  const base = { mailbox: mailbox.name, items: mailbox.messages, bytes: mailbox.bytes };
  // The floor runs first: it also brings the mailbox into the page cache for every later run.
  log(`${mailbox.name}: tar | sha384sum`);
  const floor = await runTarFloor(mailbox);
  const rows: Row[] = [];
  for (const name of modes) {
    const mode = MODES[name];
    log(`${mailbox.name}: ours, ${mode.label}`);
    const ours = await runOurs(
      {
        source: { kind: 'dir', dir: mailbox.dir },
        sink: mode.sink,
        compression: mode.compression,
        outDir: outDirOf(workDir, 'ours'),
      },
      nodeArgs,
    );
    if (ours.items !== mailbox.messages) {
      throw new Error(`${mailbox.name}: we exported ${ours.items} of ${mailbox.messages} items`);
    }

    log(`${mailbox.name}: ${ours.seconds.toFixed(2)} s; the peer for ${mode.label}`);
    const peer =
      mode.sink === 'file'
        ? floor
        : await runZipPeer(mailbox, mode.compression, outDirOf(workDir, 'peer'));
    rows.push({ ...base, mode: mode.label, ours, peer });
  }
  return rows;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
