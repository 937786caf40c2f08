import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import type { Compression } from '../src/core/export.js';
import type { Mailbox } from './mailboxes.js';
import { measureShell, quote } from './measure.js';

/**
 * What operators use today on a mail root: Info-ZIP's `zip -r` at the same deflate level,
 * then `sha384sum` of the zip (the export log's hash), and `tar | sha384sum` as the floor:
 * reading every file and hashing the bytes, with nothing compressed or written.
 */

export interface PeerFigures {
  readonly name: string;
  readonly seconds: number;
  readonly peakRssBytes: number;
  readonly zipBytes?: number;
}

const ZIP_LEVEL: Readonly<Record<Compression, number>> = { store: 0, fast: 1, default: 6 };

export async function runZipPeer(
  mailbox: Mailbox,
  compression: Compression,
  outDir: string,
): Promise<PeerFigures> {
  const level = ZIP_LEVEL[compression];
  const zip = join(outDir, 'peer.zip');
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  try {
    const parts = mailbox.parts.map(quote).join(' ');
    const script = `zip -q -r -${level} ${quote(zip)} ${parts}; sha384sum ${quote(zip)}`;
    const measured = await measureShell(script, mailbox.dir);
    return {
      name: `zip -${level} + sha384sum`,
      seconds: measured.seconds,
      peakRssBytes: measured.peakRssBytes,
      zipBytes: (await stat(zip)).size,
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

export async function runTarFloor(mailbox: Mailbox): Promise<PeerFigures> {
  const parts = mailbox.parts.map(quote).join(' ');
  const measured = await measureShell(`tar cf - ${parts} | sha384sum`, mailbox.dir);
  return {
    name: 'tar | sha384sum',
    seconds: measured.seconds,
    peakRssBytes: measured.peakRssBytes,
  };
}
