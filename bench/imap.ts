import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { startDovecot, type Dovecot } from '../test/helpers/dovecot.js';
import type { Mailbox } from './mailboxes.js';
import { measure } from './measure.js';
import { outDirOf, runOurs, type OurFigures } from './ours.js';
import type { PeerFigures } from './peers.js';

/**
 * The IMAP comparison: a Dovecot of our own serves a copy of M1's Maildir; mbsync pulls every
 * folder into an empty local Maildir, and our export reads the same folders over IMAP while
 * zipping, hashing and writing into the encrypted store. Dovecot indexes the mailbox before
 * either runs, so that neither pays for the first indexing.
 */

const run = promisify(execFile);
const USER = { name: 'bench', password: 'bench-password' };
const ADMIN = { name: 'admin', password: 'admin-password' };

/** Each round runs mbsync, then ours: `ours[i]` beside `peer[i]`. */
export interface ImapFigures {
  readonly messages: number;
  readonly ours: readonly OurFigures[];
  readonly peer: readonly (PeerFigures & { readonly messages: number })[];
}

export async function runImapBench(
  mailbox: Mailbox,
  workDir: string,
  log: (line: string) => void,
  nodeArgs: readonly string[] = [],
  repeat = 1,
): Promise<ImapFigures> {
  const dovecot = await startDovecot({ users: [USER], masterUser: ADMIN });
  try {
    log(`Dovecot on port ${dovecot.port}; copying ${mailbox.name}'s Maildir`);
    const maildir = dovecot.mailRoot(USER.name);
    const home = join(maildir, '..');
    await mkdir(home, { recursive: true });
    await run('cp', ['-a', join(mailbox.dir, 'Maildir'), maildir]);
    // The mail processes run as the owner of the mail folder the helper made (vmail as root).
    const owner = await stat(join(home, '..'));
    await run('chown', ['-R', `${owner.uid}:${owner.gid}`, home]);

    const status = await dovecot.doveadm(['mailbox', 'status', '-u', USER.name, 'messages', '*']);
    const messages = [...status.matchAll(/messages=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    log(`Dovecot indexed ${messages} messages`);

    const ours: OurFigures[] = [];
    const peer: ImapFigures['peer'][number][] = [];
    for (let round = 1; round <= repeat; round++) {
      const stored = await runMbsync(dovecot, workDir);
      log(`${mailbox.name}: mbsync: ${stored.messages} messages in ${stored.seconds.toFixed(1)} s`);
      peer.push(stored);

      const exported = await runOurs(
        {
          source: {
            kind: 'imap',
            host: dovecot.host,
            port: dovecot.port,
            user: USER.name,
            admin: ADMIN.name,
            password: ADMIN.password,
          },
          sink: 'store',
          compression: 'default',
          outDir: outDirOf(workDir, 'imap-ours'),
        },
        nodeArgs,
      );
      log(`${mailbox.name}: ours over IMAP: ${exported.items} in ${exported.seconds.toFixed(1)} s`);
      if (exported.items !== messages) {
        throw new Error(`${mailbox.name}: we exported ${exported.items} of ${messages} messages`);
      }
      ours.push(exported);
    }
    return { messages, ours, peer };
  } finally {
    await dovecot.destroy();
  }
}

async function runMbsync(
  dovecot: Dovecot,
  workDir: string,
): Promise<PeerFigures & { messages: number }> {
  const dir = outDirOf(workDir, 'imap-mbsync');
  await rm(dir, { recursive: true, force: true });
  const local = join(dir, 'Maildir');
  await mkdir(local, { recursive: true });
  const config = join(dir, 'mbsyncrc');
  await writeFile(
    config,
    [
      'IMAPAccount bench',
      `Host ${dovecot.host}`,
      `Port ${dovecot.port}`,
      `User ${USER.name}`,
      `Pass ${USER.password}`,
      'SSLType None',
      'AuthMechs LOGIN',
      '',
      'IMAPStore remote',
      'Account bench',
      '',
      'MaildirStore local',
      `Path ${local}/`,
      `Inbox ${local}/INBOX`,
      'SubFolders Verbatim',
      '',
      'Channel bench',
      'Far :remote:',
      'Near :local:',
      'Patterns *',
      'Create Near',
      'Sync Pull',
      'SyncState *',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  try {
    const measured = await measure('mbsync', ['-c', config, '-a', '-q']);
    return {
      name: 'mbsync (isync)',
      seconds: measured.seconds,
      peakRssBytes: measured.peakRssBytes,
      messages: await countMessages(local),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Files in every cur/ and new/ below `root`: the messages mbsync stored. */
async function countMessages(root: string): Promise<number> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile() && /(^|\/)(cur|new)$/.test(entry.parentPath))
    .length;
}
