import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

import { escapedText, type EntryName } from './file-names.js';

/**
 * The Maildir file name: `<unique name>:2,<flags>`. The unique name identifies a message for
 * its whole life; the info after `:` changes when flags change, and a message moves from new/
 * to cur/ once a client has seen it. See https://cr.yp.to/proto/maildir.html and Dovecot's
 * Maildir++ notes.
 */

/** System flags by their Maildir letter. `P` (passed) is the RFC 5550 `$Forwarded` keyword. */
const FLAG_BY_LETTER: Readonly<Record<string, string>> = {
  D: '\\Draft',
  F: '\\Flagged',
  P: '$Forwarded',
  R: '\\Answered',
  S: '\\Seen',
  T: '\\Deleted',
};

const LETTER_BY_FLAG: ReadonlyMap<string, string> = new Map(
  Object.entries(FLAG_BY_LETTER)
    .filter(([letter]) => letter !== 'P')
    .map(([letter, flag]) => [flag.toLowerCase(), letter]),
);

/** Dovecot keeps up to 26 keywords per folder, one lowercase letter each. */
export const KEYWORD_LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** IMAP keyword syntax: an atom (RFC 3501 section 9, `flag-keyword`). */
const KEYWORD_SPECIALS = new Set('(){%*"\\]');

function isKeywordAtom(flag: string): boolean {
  if (flag === '') return false;
  for (const char of flag) {
    const code = char.charCodeAt(0);
    if (code <= 0x20 || code >= 0x7f || KEYWORD_SPECIALS.has(char)) return false;
  }
  return true;
}

export interface MaildirName {
  readonly uniqueName: string;
  /** The letters after `:2,`, or '' when the file has no info (a message still in new/). */
  readonly flagLetters: string;
}

export function parseMaildirFileName(fileName: string): MaildirName {
  const colon = fileName.indexOf(':');
  if (colon < 0) return { uniqueName: fileName, flagLetters: '' };
  const info = fileName.slice(colon + 1);
  return {
    uniqueName: fileName.slice(0, colon),
    flagLetters: info.startsWith('2,') ? info.slice(2) : '',
  };
}

/** A Maildir file name read from its directory, as text or as bytes (file-names.ts). */
export interface MaildirEntry extends MaildirName {
  /**
   * Tells messages apart within a folder: the unique name, or for a name that is not UTF-8
   * its bytes, so that its escaped text cannot stand for a real name that reads the same.
   */
  readonly key: string;
}

export function parseMaildirEntry({ text, bytes }: EntryName): MaildirEntry {
  if (bytes === undefined) {
    const { uniqueName, flagLetters } = parseMaildirFileName(text);
    return { uniqueName, flagLetters, key: uniqueName };
  }

  // Only the unique name shows escaped bytes; flags are letters, never bytes read as text.
  const colon = bytes.indexOf(0x3a);
  const unique = colon < 0 ? bytes : bytes.subarray(0, colon);
  const info = colon < 0 ? '' : bytes.subarray(colon + 1).toString('latin1');
  const flagLetters = /^2,[\x21-\x7e]*$/.test(info) ? info.slice(2) : '';
  return {
    uniqueName: escapedText(unique),
    flagLetters,
    key: `bytes:${unique.toString('base64url')}`,
  };
}

/** Keyword names by letter, from a folder's `dovecot-keywords` (lines `<index> <name>`). */
export async function readKeywordTable(folderDir: string): Promise<Map<string, string>> {
  const table = new Map<string, string>();
  let text: string;
  try {
    text = await readFile(join(folderDir, 'dovecot-keywords'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return table;
    throw error;
  }

  for (const line of text.split('\n')) {
    const match = /^(\d+) (.+)$/.exec(line.replace(/\r$/, ''));
    if (!match) continue;
    const letter = KEYWORD_LETTERS[Number(match[1])];
    if (letter !== undefined && match[2] !== undefined) table.set(letter, match[2]);
  }
  return table;
}

/**
 * IMAP flags of a file's flag letters. A keyword letter missing from `dovecot-keywords` is
 * kept as the letter itself rather than lost.
 */
export function flagsOfLetters(letters: string, keywords: ReadonlyMap<string, string>): string[] {
  const flags: string[] = [];
  for (const letter of new Set(letters)) {
    const system = FLAG_BY_LETTER[letter];
    if (system !== undefined) flags.push(system);
    else if (letter >= 'a' && letter <= 'z') flags.push(keywords.get(letter) ?? letter);
  }
  return flags;
}

/** Flag letters of IMAP flags, in ASCII order as Maildir requires, and the flags not stored. */
export function lettersOfFlags(
  flags: readonly string[],
  keywordLetter: (keyword: string) => string | undefined,
): { letters: string; dropped: string[] } {
  const letters = new Set<string>();
  const dropped: string[] = [];
  for (const flag of flags) {
    const system = LETTER_BY_FLAG.get(flag.toLowerCase());
    if (system !== undefined) letters.add(system);
    else if (flag.toLowerCase() === '\\recent') continue;
    else if (flag.startsWith('\\') || !isKeywordAtom(flag)) dropped.push(flag);
    else {
      const letter = keywordLetter(flag);
      if (letter === undefined) dropped.push(flag);
      else letters.add(letter);
    }
  }
  return { letters: [...letters].sort().join(''), dropped };
}

let deliveries = 0;
const host = hostname().replace(/\//g, '\\057').replace(/:/g, '\\072').replace(/,/g, '\\054');

/**
 * A new unique name in the form Dovecot writes: seconds, microseconds, process id and a
 * per-process counter, then the host name with `/`, `:` and `,` escaped as octal. The
 * microseconds are padded so that names sort in delivery order.
 */
export function newUniqueName(now = Date.now()): string {
  deliveries += 1;
  const seconds = Math.floor(now / 1000);
  const micros = (now % 1000) * 1000 + (deliveries % 1000);
  return `${seconds}.M${String(micros).padStart(6, '0')}P${process.pid}Q${deliveries}.${host}`;
}
