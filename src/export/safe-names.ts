import { LIMITS } from '../core/limits.js';

/**
 * Folder names come from the mailbox's owner and from remote servers; inside the zip each one
 * becomes a directory on whatever disk the zip is unpacked to. A safe name is one that every
 * common unzip tool writes as a single directory inside its target, on Linux, macOS and
 * Windows alike.
 */

/**
 * Path separators of every platform (`/`, `\`), the drive and stream separator `:`, the other
 * characters Windows refuses in a name (`* ? " < > |`), C0 and C1 controls and NUL.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f/\\:*?"<>|]/g;

/** A UTF-16 surrogate without its partner cannot be written as UTF-8. */
export const LONE_SURROGATE =
  /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Windows opens a device, not a file, for these names, with or without an extension. */
const WINDOWS_DEVICE_NAME = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** Windows drops trailing dots and spaces, so `a.` and `a` would land on the same directory. */
const TRAILING_DOTS_AND_SPACES = /[. ]+$/;

/** Cuts a string to at most `maxBytes` of UTF-8 without splitting a code point. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;

  let bytes = 0;
  let end = 0;
  for (const codePoint of text) {
    const size = Buffer.byteLength(codePoint);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += codePoint.length;
  }
  return text.slice(0, end);
}

/**
 * One folder name made safe: unsafe characters become `_`, `.`, `..` and the empty name become
 * underscores, Windows device names get a leading `_`, and the name is cut to `maxBytes` of
 * UTF-8. The result is never empty and never holds a separator. Two different names may give
 * the same safe name; `SiblingNames` tells them apart.
 */
export function safeName(name: string, maxBytes: number = LIMITS.folderNameBytes): string {
  let safe = name.replace(LONE_SURROGATE, '\ufffd').replace(UNSAFE_CHARACTERS, '_');
  if (WINDOWS_DEVICE_NAME.test(safe)) safe = `_${safe}`;
  safe = truncateUtf8(safe, maxBytes);
  safe = safe.replace(TRAILING_DOTS_AND_SPACES, (tail) => '_'.repeat(tail.length));
  return safe === '' ? '_' : safe;
}

/**
 * The key under which two names collide on the file systems users unpack to: macOS and
 * Windows compare names case-insensitively, and APFS also ignores Unicode normalization.
 * Lower case alone is not enough: NTFS compares upper-cased names, under which `ı` and `i`, or
 * `σ` and `ς`, are one letter. Upper-casing first and then lowering puts all of them on one
 * key; it also joins a few names those systems keep apart (`ß` and `ss`), which costs only a
 * ` (2)` suffix.
 */
export function collisionKey(name: string): string {
  return name.normalize('NFC').toUpperCase().toLowerCase();
}

/**
 * The names already given inside one zip directory. `claim` returns a safe name no sibling has
 * taken, under `collisionKey`, appending ` (2)`, ` (3)`, ... as needed; names for which
 * `isReserved` holds (item files, the manifest) are never handed out as they are. Callers
 * claim in a fixed order, which makes the result deterministic.
 */
export class SiblingNames {
  private readonly taken = new Set<string>();

  constructor(private readonly isReserved: (key: string) => boolean = () => false) {}

  claim(name: string): string {
    const safe = safeName(name);
    if (this.isFree(safe)) return this.take(safe);

    for (let n = 2; ; n++) {
      const suffix = ` (${n})`;
      const base = safeName(safe, LIMITS.folderNameBytes - Buffer.byteLength(suffix));
      const candidate = `${base}${suffix}`;
      if (this.isFree(candidate)) return this.take(candidate);
    }
  }

  private isFree(name: string): boolean {
    const key = collisionKey(name);
    return !this.taken.has(key) && !this.isReserved(key);
  }

  private take(name: string): string {
    this.taken.add(collisionKey(name));
    return name;
  }
}
