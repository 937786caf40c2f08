import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { generateM4 } from './gen-calendar.js';
import { generateM1, generateM2, generateM3, type Generated } from './gen-mail.js';

/**
 * The bench's mailboxes, each in its own folder of the work dir named by mailbox and scale.
 * A `generated.json` written last marks a finished build; a folder without it (a build cut
 * short, or a generator changed since) is removed and built again.
 */

export const MAILBOX_NAMES = ['M1', 'M2', 'M3', 'M4'] as const;
export type MailboxName = (typeof MAILBOX_NAMES)[number];

/** Bump when a generator changes what it writes, so that old builds are not reused. */
const GENERATOR_VERSION = 1;

export interface Mailbox extends Generated {
  readonly name: MailboxName;
  readonly description: string;
  /** The mailbox directory: `Maildir/`, and `calendars/` for M4. */
  readonly dir: string;
  /** Entries of `dir` that peers archive (what exists of Maildir, calendars, contacts). */
  readonly parts: readonly string[];
}

const DESCRIPTIONS: Readonly<Record<MailboxName, string>> = {
  M1: 'Enron copies, Maildir++ folders',
  M2: 'base64 attachments of 2-20 MiB',
  M3: 'one message of 600 MiB',
  M4: 'calendar items, recurrences, zones',
};

interface Marker extends Generated {
  readonly version: number;
  readonly scale: number;
}

export async function ensureMailbox(
  name: MailboxName,
  workDir: string,
  scale: number,
  corpus: string,
  log: (line: string) => void,
): Promise<Mailbox | { skipped: string }> {
  if (name === 'M1' && !existsSync(corpus)) {
    return { skipped: `the corpus ${corpus} is absent` };
  }

  const home = join(workDir, `${name}-scale-${scale}`);
  const dir = join(home, 'mailbox');
  const markerFile = join(home, 'generated.json');
  let marker = await readMarker(markerFile);
  if (marker?.version !== GENERATOR_VERSION || marker.scale !== scale) {
    log(`building ${name} in ${dir}`);
    const started = Date.now();
    await rm(home, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const generated = await generate(name, dir, scale, corpus);
    marker = { version: GENERATOR_VERSION, scale, ...generated };
    await writeFile(markerFile, `${JSON.stringify(marker, null, 2)}\n`);
    log(`built ${name}: ${generated.messages} items in ${(Date.now() - started) / 1000} s`);
  }

  const parts = ['Maildir', 'calendars', 'contacts'].filter((part) => existsSync(join(dir, part)));
  return {
    name,
    description: DESCRIPTIONS[name],
    dir,
    parts,
    messages: marker.messages,
    bytes: marker.bytes,
    folders: marker.folders,
  };
}

function generate(name: MailboxName, dir: string, scale: number, corpus: string) {
  switch (name) {
    case 'M1':
      return generateM1(dir, corpus, scale);
    case 'M2':
      return generateM2(dir, scale);
    case 'M3':
      return generateM3(dir, scale);
    case 'M4':
      return generateM4(dir, scale);
  }
}

async function readMarker(file: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}
