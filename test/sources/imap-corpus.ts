import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ImapFlow } from 'imapflow';

import type { Dovecot } from '../helpers/dovecot.js';
import { corpusRoot } from '../helpers/paths.js';

/**
 * Loads corpus mail into a test Dovecot through IMAP APPEND, each message with its own flags
 * and internal date, into a folder tree with special-use folders and names that need modified
 * UTF-7 (RFC 3501 section 5.1.3): umlauts, Japanese, a space and an ampersand.
 */

export interface LoadedMessage {
  readonly folder: readonly string[];
  readonly uid: number;
  readonly file: string;
  readonly flags: readonly string[];
  readonly internalDate: Date;
}

const FLAG_CYCLE: readonly (readonly string[])[] = [
  [],
  ['\\Seen'],
  ['\\Seen', '\\Flagged'],
  ['\\Answered', '\\Seen'],
  ['$Label1'],
  ['\\Seen', 'Work'],
];

/** Folder (as path levels) → corpus files, for the mailbox the tests export. */
export function mailboxPlan(): Map<readonly string[], string[]> {
  const enron = join(corpusRoot, 'mail/enron/stepenovitch-j/inbox');
  const all = filesIn(join(corpusRoot, 'mime')).filter((f) => f.endsWith('.eml'));
  // The two messages over 1 MiB go to one folder, where the tests stream them in chunks.
  const large = all.filter((f) => statSync(f).size > 1024 * 1024);
  const mime = all.filter((f) => !large.includes(f));
  const plan = new Map<readonly string[], string[]>();
  plan.set(['INBOX'], filesIn(enron));
  for (const sub of readdirSync(enron).sort()) {
    if (statSync(join(enron, sub)).isDirectory()) {
      plan.set(['INBOX', sub], filesIn(join(enron, sub)));
    }
  }
  plan.set(['Sent'], mime.slice(0, 10));
  plan.set(['Drafts'], mime.slice(10, 13));
  plan.set(['Entwürfe', 'Übersicht'], mime.slice(13, 45));
  plan.set(['日本語'], mime.slice(45, 75));
  plan.set(['Q3 Reports'], [...mime.slice(75), ...large]);
  plan.set(['R&D'], filesIn(enron).slice(0, 5));
  return plan;
}

function filesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isFile())
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((name) => join(dir, name));
}

export function imapClient(dovecot: Dovecot, user: string, admin: string, password: string) {
  return new ImapFlow({
    host: dovecot.host,
    port: dovecot.port,
    secure: false,
    auth: { user: `${user}*${admin}`, pass: password },
    logger: false,
    disableAutoIdle: true,
  });
}

export async function loadMailbox(
  client: ImapFlow,
  plan: Map<readonly string[], string[]>,
): Promise<LoadedMessage[]> {
  const loaded: LoadedMessage[] = [];
  let n = 0;
  for (const [folder, files] of plan) {
    const path = folder.join('/');
    if (path !== 'INBOX') await client.mailboxCreate(path);
    for (const file of files) {
      const flags = [...(FLAG_CYCLE[n % FLAG_CYCLE.length] as string[])];
      if (folder[0] === 'Drafts') flags.push('\\Draft');
      const internalDate = new Date(Date.UTC(2001, 0, 1) + n * 37 * 60_000);
      n++;
      const result = await client.append(path, readFileSync(file), flags, internalDate);
      if (!result || !result.uid) throw new Error(`APPEND of ${file} gave no UID`);
      loaded.push({ folder, uid: result.uid, file, flags, internalDate });
    }
  }
  return loaded;
}

const folderDirs = new Map<string, string>();

/**
 * What IMAP gives of a stored message: Dovecot sends NUL bytes as 0x80 in BODY[], since a
 * plain literal may not hold NUL (RFC 3501 section 4.3).
 */
export function imapView(stored: Buffer): Buffer {
  return Buffer.from(stored.map((byte) => (byte === 0 ? 0x80 : byte)));
}

/** The message file Dovecot keeps for a UID, found through the folder's dovecot-uidlist. */
export async function storedMessage(
  dovecot: Dovecot,
  user: string,
  folder: readonly string[],
  uid: number,
): Promise<Buffer> {
  const key = `${user}\0${folder.join('/')}`;
  let dir = folderDirs.get(key);
  if (dir === undefined) {
    dir = (await dovecot.doveadm(['mailbox', 'path', '-u', user, folder.join('/')])).trim();
    folderDirs.set(key, dir);
  }
  const uidlist = await readFile(join(dir, 'dovecot-uidlist'), 'utf8');
  // The first line is the header (version, UIDVALIDITY, next UID, GUID).
  const line = uidlist
    .split('\n')
    .slice(1)
    .find((l) => l.startsWith(`${uid} `));
  if (!line) throw new Error(`UID ${uid} is not in ${dir}/dovecot-uidlist`);
  const base = line.slice(line.indexOf(':') + 1);
  for (const sub of ['cur', 'new']) {
    if (!existsSync(join(dir, sub))) continue;
    const name = (await readdir(join(dir, sub))).find(
      (f) => f === base || f.startsWith(`${base}:`),
    );
    if (name) return readFile(join(dir, sub, name));
  }
  throw new Error(`no file for UID ${uid} (${base}) in ${dir}`);
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function readBody(body: NodeJS.ReadableStream | Buffer): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** How a file's lines end: all CRLF, all bare LF, or something else (mixed, NUL bytes). */
export function lineEndings(bytes: Buffer): 'crlf' | 'lf' | 'other' {
  if (bytes.includes(0)) return 'other';
  let crlf = 0;
  let lf = 0;
  let cr = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      if (i > 0 && bytes[i - 1] === 0x0d) crlf++;
      else lf++;
    } else if (bytes[i] === 0x0d && bytes[i + 1] !== 0x0a) cr++;
  }
  if (cr > 0 || (crlf > 0 && lf > 0)) return 'other';
  return lf > 0 ? 'lf' : 'crlf';
}

export function toCrlf(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
}
