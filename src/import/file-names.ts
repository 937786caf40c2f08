import { readdir } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { join, sep } from 'node:path';

/**
 * File names that are not UTF-8 (Latin-1 names from an old system, say). Node reads a directory
 * as UTF-8 by default and puts U+FFFD in place of the bytes it cannot decode, so the name it
 * gives leads to no file: such names are read again as bytes.
 */

/**
 * Why an input with such a name is skipped: its name may become a folder's, or tell its kind.
 * Inside a Maildir's cur/ and new/ a name only names a message, which is imported as it is.
 */
export const NAME_NOT_UTF8 =
  'its name is not UTF-8: rename it (for example with convmv) to import it';

/** A name for people to read: printable ASCII as it is, every other byte as `\xNN`. */
export function shownName(bytes: Buffer): string {
  let shown = '';
  for (const byte of bytes) {
    shown += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16)}`;
  }
  return shown;
}

export interface NamesNotUtf8 {
  /** The names of `dir` that are not UTF-8, as bytes. */
  readonly names: readonly Buffer[];
  /** Whether `name`, as Node read it, is the name of a file (and not one read wrong). */
  real(name: string): boolean;
}

/**
 * The names of `dir` that are not UTF-8, given `names` as Node read them: the directory is read
 * again as bytes only when one of them holds U+FFFD.
 */
export async function namesNotUtf8(dir: string, names: readonly string[]): Promise<NamesNotUtf8> {
  if (!names.some((name) => name.includes('\uFFFD'))) return { names: [], real: () => true };
  const listed = await readdir(dir, 'buffer');
  const utf8 = new Set(listed.filter((bytes) => isUtf8(bytes)).map((bytes) => bytes.toString()));
  return {
    names: listed.filter((bytes) => !isUtf8(bytes)),
    real: (name) => utf8.has(name),
  };
}

export interface ListedFile {
  /** The name as text, with U+FFFD for bytes that are not UTF-8. */
  readonly name: string;
  /** What opens the file, whatever its name. */
  readonly path: string | Buffer;
  /** The path for people to read (see `shownName`). */
  readonly shown: string;
}

/** The names in `dir`, each with a path that opens its file even when the name is not UTF-8. */
export async function listFiles(dir: string): Promise<ListedFile[]> {
  return (await readdir(dir, 'buffer')).map((bytes) => {
    if (isUtf8(bytes)) {
      const path = join(dir, bytes.toString('utf8'));
      return { name: bytes.toString('utf8'), path, shown: path };
    }
    const path = Buffer.concat([Buffer.from(`${dir}${sep}`), bytes]);
    return { name: bytes.toString('utf8'), path, shown: join(dir, shownName(bytes)) };
  });
}
