import { createHash } from 'node:crypto';

import { LIMITS } from '../core/limits.js';
import { decodeModifiedUtf7, encodeModifiedUtf7 } from './mutf7.js';

/**
 * How a mailbox is laid out on disk. Mail is Maildir++ as Dovecot writes it: the Maildir root
 * is INBOX, every other folder is a directory `.A.B` beside cur/new/tmp, one name per level in
 * modified UTF-7 with `.` as the hierarchy separator. Calendars and address books are one
 * directory per collection holding one file per item, names percent-encoded.
 */

export const INBOX = 'INBOX';
export const MAILDIR = 'Maildir';
export const CALENDARS = 'calendars';
export const CONTACTS = 'contacts';

/** IMAP names INBOX case-insensitively (RFC 3501 5.1); the store always writes `INBOX`. */
export function normalizeFolderPath(path: readonly string[]): string[] {
  const out = [...path];
  if (out[0] !== undefined && out[0].toUpperCase() === INBOX) out[0] = INBOX;
  return out;
}

/**
 * The Maildir++ directory name of a folder: '' for INBOX, `.A.B` for the others. A `.` or `/`
 * inside a name is shifted into base64 (`&AC4-`, `&AC8-`) so that it is not read back as a
 * hierarchy separator.
 */
export function maildirDirName(path: readonly string[]): string {
  const levels = normalizeFolderPath(path);
  if (levels.length === 0) throw new Error('A folder path needs at least one name');
  for (const level of levels) {
    if (level === '') throw new Error(`Empty name in folder path ${JSON.stringify(path)}`);
  }

  if (levels.length === 1 && levels[0] === INBOX) return '';
  return '.' + levels.map((level) => encodeModifiedUtf7(level, './')).join('.');
}

/**
 * The folder path of a Maildir++ directory name (with its leading dot). A level that is not
 * valid modified UTF-7 (a name written by a tool that uses raw UTF-8) is kept as it is.
 */
export function folderPathOfDirName(dirName: string): string[] {
  const levels = dirName.slice(1).split('.');
  if (levels.some((level) => level === '')) return [dirName.slice(1)];
  return levels.map((level) => decodeModifiedUtf7(level) ?? level);
}

const SAFE_FILE_CHAR = /[A-Za-z0-9\-_@+=,~!'()]/;

/**
 * A calendar, address book or item name made safe as one file name: every byte outside a
 * small ASCII set is percent-encoded (UTF-8), a leading dot too, so no name can be hidden,
 * be `.` or `..`, or hold a separator. A name whose encoding is longer than the limit is cut
 * and made unique with a hash of the whole name.
 */
export function encodeFileName(name: string): string {
  if (name === '') throw new Error('An empty name cannot be stored');
  let out = '';
  for (const char of name) {
    if (SAFE_FILE_CHAR.test(char) || (char === '.' && out !== '')) out += char;
    else {
      for (const byte of Buffer.from(char, 'utf8')) {
        out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
      }
    }
  }
  if (Buffer.byteLength(out) <= LIMITS.storedFileNameBytes) return out;

  const hash = createHash('sha256').update(name).digest('hex').slice(0, 16);
  let cut = out.slice(0, LIMITS.storedFileNameBytes - 17);
  const partial = cut.lastIndexOf('%');
  if (partial >= 0 && partial > cut.length - 3) cut = cut.slice(0, partial);
  return `${cut}~${hash}`;
}

/** The name a file name stands for; a name that is not valid percent-encoding stays as it is. */
export function decodeFileName(fileName: string): string {
  try {
    return decodeURIComponent(fileName);
  } catch {
    return fileName;
  }
}
