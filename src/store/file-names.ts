import { join } from 'node:path';

/**
 * File names that are not UTF-8. A Maildir or a calendar folder written by another tool may
 * hold a file whose name is bytes in some other encoding: read as text, such a name no longer
 * names the file, and the message would be lost from the export. These names are kept as their
 * bytes: the item's id shows each byte that is not UTF-8 as `\xNN`, and its locator carries
 * the bytes themselves, from which the file is opened.
 */

const BYTES_PREFIX = 'bytes:';

/** A directory entry's name: as text, and as bytes when the text does not give them back. */
export interface EntryName {
  readonly text: string;
  readonly bytes?: Buffer;
}

export function entryName(raw: Buffer): EntryName {
  const text = raw.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(raw)) return { text };
  return { text: escapedText(raw), bytes: raw };
}

/** The name as text, every byte that does not belong to a UTF-8 character as `\xNN`. */
export function escapedText(raw: Buffer): string {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let text = '';
  for (let at = 0; at < raw.length;) {
    const lead = raw[at]!;
    const length = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 0;
    if (length > 0 && at + length <= raw.length) {
      try {
        text += decoder.decode(raw.subarray(at, at + length));
        at += length;
        continue;
      } catch {
        // Not a character: the lead byte is escaped below, and what follows is read again.
      }
    }
    text += `\\x${lead.toString(16).padStart(2, '0')}`;
    at += 1;
  }
  return text;
}

/** The locator of a file by the bytes of its name relative to its folder (`cur/NAME`). */
export function byteLocator(relative: Buffer): string {
  return BYTES_PREFIX + relative.toString('base64url');
}

/**
 * The path that `locator` names under `dir`: a string for a locator of text, the bytes for one
 * made by `byteLocator`, undefined when `valid` refuses the relative name (read as Latin-1,
 * so that a check on `/` and `.` sees each byte).
 */
export function locatedPath(
  dir: string,
  locator: string,
  valid: (relative: string) => boolean,
): string | Buffer | undefined {
  if (!locator.startsWith(BYTES_PREFIX)) return valid(locator) ? join(dir, locator) : undefined;
  const relative = Buffer.from(locator.slice(BYTES_PREFIX.length), 'base64url');
  if (relative.includes(0) || !valid(relative.toString('latin1'))) return undefined;
  return Buffer.concat([Buffer.from(`${dir}/`, 'utf8'), relative]);
}
