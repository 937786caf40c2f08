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
import type { CeilingWork } from './ceiling.js';
import { outDirOf, runCeiling, runOurs, type OurFigures } from './ours.js';
import type { PeerFigures } from './peers.js';
import { runTarFloor, runZipPeer } from './peers.js';
import { describeMachine, embeddedTable, IMAP_TABLE_HEAD, imapTable, type Row } from './report.js';

const USAGE = `npm run bench -- [options]
  --only M1,M2,M3,M4   mailboxes to run (default: all)
  --scale N            size factor, 0.1 for a quick run (default 1)
  --modes LIST         default,fast,store,file (default: all four)
  --dir DIR            work dir for mailboxes and zips (default: $TMPDIR/mailbox-export-bench)
  --corpus DIR         Enron corpus for M1 (default: ../shared/corpus/mail/enron)
  --imap | --no-imap   M1 and M3 over IMAP, Dovecot to mbsync and to us (default: on)
  --repeat N           run each case N times, ours and the peer in turn; medians (default 1)
  --ceiling            M1 only: what two threads of Node can do at best (bench/ceiling.ts)
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

/** Mailboxes of messages that are also read over IMAP: the many small ones, the one huge one. */
const IMAP_MAILBOXES: readonly MailboxName[] = ['M1', 'M3'];

/** The ceilings of ceiling.ts, each beside `zip -6` + `sha384sum`. */
const CEILINGS: Readonly<Record<CeilingWork, string>> = {
  deflate: 'ceiling: read, deflate 6, CRC-32',
  sha256: 'ceiling: and SHA-256',
  fields: 'ceiling: and header fields',
};

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    scale: { type: 'string', default: '1' },
    modes: { type: 'string', default: 'default,fast,store,file' },
    dir: { type: 'string', default: join(tmpdir(), 'mailbox-export-bench') },
    corpus: { type: 'string', default: join(corpusRoot, 'mail', 'enron') },
    imap: { type: 'boolean' },
    'no-imap': { type: 'boolean' },
    repeat: { type: 'string', default: '1' },
    ceiling: { type: 'boolean' },
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
  const repeat = Number(values.repeat);
  if (!(Number.isInteger(repeat) && repeat >= 1)) {
    throw new Error(`--repeat must be a whole number >= 1, not ${values.repeat}`);
  }
  const withImap = values['no-imap'] !== true;
  const nodeArgs = values['cpu-prof']
    ? ['--cpu-prof', '--cpu-prof-dir', join(workDir, 'profiles')]
    : [];
  await mkdir(workDir, { recursive: true });

  const machine = await describeMachine();
  for (const line of machine) log(line);
  const rows: Row[] = [];
  const imap: { mailbox: MailboxName; figures: ImapFigures }[] = [];
  const skipped: string[] = [];
  const bench: Bench = { workDir, nodeArgs, repeat };

  for (const name of only) {
    const mailbox = await ensureMailbox(name, workDir, scale, values.corpus, log);
    if ('skipped' in mailbox) {
      skipped.push(`${name} skipped: ${mailbox.skipped}`);
      log(skipped.at(-1)!);
      continue;
    }

    rows.push(...(await runMailbox(mailbox, modes, bench)));
    if (name === 'M1' && values.ceiling === true) rows.push(...(await runCeilings(mailbox, bench)));
    if (IMAP_MAILBOXES.includes(name) && withImap) {
      imap.push({
        mailbox: name,
        figures: await runImapBench(mailbox, workDir, log, nodeArgs, repeat),
      });
    }
  }

  const lines = [
    `Scale ${scale}; work dir ${workDir}.`,
    '',
    ...machine,
    '',
    ...embeddedTable(rows),
    ...(imap.length > 0 ? ['', ...IMAP_TABLE_HEAD] : []),
    ...imap.flatMap(({ mailbox, figures }) => imapTable(mailbox, figures)),
    ...skipped.map((line) => `\n${line}`),
  ];
  console.log(lines.join('\n'));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  await writeFile(join(workDir, `results-${stamp}.md`), `${lines.join('\n')}\n`);
  await writeFile(
    join(workDir, `results-${stamp}.json`),
    `${JSON.stringify({ scale, repeat, machine, rows, imap }, null, 2)}\n`,
  );
}

interface Bench {
  readonly workDir: string;
  readonly nodeArgs: readonly string[];
  readonly repeat: number;
}

/** Ours and the peer in turn, `repeat` times, so that a noisy spell hits both alike. */
async function inTurn(
  repeat: number,
  ours: () => Promise<OurFigures>,
  peer: () => Promise<PeerFigures>,
): Promise<Pick<Row, 'ours' | 'peer'>> {
  const rounds = { ours: [] as OurFigures[], peer: [] as PeerFigures[] };
  for (let round = 0; round < repeat; round++) {
    rounds.ours.push(await ours());
    rounds.peer.push(await peer());
  }
  return rounds;
}

async function runMailbox(
  mailbox: Mailbox,
  modes: readonly ModeName[],
  { workDir, nodeArgs, repeat }: Bench,
): Promise<Row[]> {
  const base = { mailbox: mailbox.name, items: mailbox.messages, bytes: mailbox.bytes };
  // The floor runs first once more: it brings the mailbox into the page cache for every run.
  log(`${mailbox.name}: tar | sha384sum, to read the mailbox into the page cache`);
  await runTarFloor(mailbox);
  const rows: Row[] = [];
  for (const name of modes) {
    const mode = MODES[name];
    const ours = async (): Promise<OurFigures> => {
      log(`${mailbox.name}: ours, ${mode.label}`);
      const figures = await runOurs(
        {
          source: { kind: 'dir', dir: mailbox.dir },
          sink: mode.sink,
          compression: mode.compression,
          outDir: outDirOf(workDir, 'ours'),
        },
        nodeArgs,
      );
      if (figures.items !== mailbox.messages) {
        throw new Error(`${mailbox.name}: we exported ${figures.items} of ${mailbox.messages}`);
      }
      log(`${mailbox.name}: ${figures.seconds.toFixed(2)} s; the peer for ${mode.label}`);
      return figures;
    };
    const peer = () =>
      mode.sink === 'file'
        ? runTarFloor(mailbox)
        : runZipPeer(mailbox, mode.compression, outDirOf(workDir, 'peer'));
    rows.push({ ...base, mode: mode.label, ...(await inTurn(repeat, ours, peer)) });
  }
  return rows;
}

/** Each ceiling of ceiling.ts beside the peer of our default mode. */
async function runCeilings(mailbox: Mailbox, { workDir, repeat }: Bench): Promise<Row[]> {
  const base = { mailbox: mailbox.name, items: mailbox.messages, bytes: mailbox.bytes };
  const rows: Row[] = [];
  for (const [work, label] of Object.entries(CEILINGS) as [CeilingWork, string][]) {
    const ours = async (): Promise<OurFigures> => {
      log(`${mailbox.name}: ${label}`);
      const figures = await runCeiling(mailbox.dir, work, outDirOf(workDir, 'ceiling'));
      if (figures.items !== mailbox.messages) {
        throw new Error(
          `${mailbox.name}: the ceiling read ${figures.items} of ${mailbox.messages}`,
        );
      }
      return figures;
    };
    const peer = () => runZipPeer(mailbox, 'default', outDirOf(workDir, 'peer'));
    rows.push({ ...base, mode: label, ...(await inTurn(repeat, ours, peer)) });
  }
  return rows;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
