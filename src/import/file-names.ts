import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { entryName } from '../store/file-names.js';

/**
 * File names that are not UTF-8 (Latin-1 names from an old system, say), met while importing.
 * Node reads a directory as UTF-8 by default and puts U+FFFD in place of the bytes it cannot
 * decode, so the name it gives leads to no file: such names are read again as bytes. Shown to
 * people, each byte that is not part of a UTF-8 character reads `\xNN` (store/file-names.ts).
 */

/**
 * Why an input with such a name is skipped: its name may become a folder's, or tell its kind.
 * Inside a Maildir's cur/ and new/ a name only names a message, which is imported as it is.
 */
export const NAME_NOT_UTF8 =
  'its name is not UTF-8: rename it (for example with convmv) to import it';

export interface NamesNotUtf8 {
  /** The paths of `dir`'s entries whose names are not UTF-8, shown for people. */
  readonly shown: readonly string[];
  /** Whether `name`, as Node read it, is the name of a file (and not one read wrong). */
  real(name: string): boolean;
}

/**
 * The entries of `dir` whose names are not UTF-8, given `names` as Node read them: the
 * directory is read again as bytes only when one of them holds U+FFFD.
 */
export async function namesNotUtf8(dir: string, names: readonly string[]): Promise<NamesNotUtf8> {
  if (!names.some((name) => name.includes('\uFFFD'))) return { shown: [], real: () => true };
  const listed = (await readdir(dir, 'buffer')).map(entryName);
  const utf8 = new Set(listed.filter((name) => !name.bytes).map((name) => name.text));
  return {
    shown: listed.filter((name) => name.bytes).map((name) => join(dir, name.text)),
    real: (name) => utf8.has(name),
  };
}

export interface ListedFile {
  /** The name as text, each byte that is not part of a UTF-8 character as `\xNN`. */
  readonly name: string;
  /** What opens the file, whatever its name. */
  readonly path: string | Buffer;
  /** The path for people to read. */
  readonly shown: string;
}

/** The names in `dir`, each with a path that opens its file even when the name is not UTF-8. */
export async function listFiles(dir: string): Promise<ListedFile[]> {
  return (await readdir(dir, 'buffer')).map((raw) => {
    const { text, bytes } = entryName(raw);
    const shown = join(dir, text);
    const path = bytes ? Buffer.concat([Buffer.from(`${dir}/`), bytes]) : shown;
    return { name: text, path, shown };
  });
}
