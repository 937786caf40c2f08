import { LIMITS } from '../core/limits.js';
import type { SourceFolder, SourceItem } from '../core/source.js';
import { SiblingNames, collisionKey } from './safe-names.js';

/**
 * The layout of an export zip.
 *
 *   INBOX/                      one directory per mailbox folder, hierarchy kept
 *   INBOX/000001.eml            one file per message: its raw bytes exactly as stored
 *   INBOX/Projects/             a subfolder
 *   Calendar/000001.eml         one MIME message per calendar item (see calendar-mime.ts)
 *   Contacts/                   folders of non-exportable items are listed, but stay empty
 *   manifest.json               always the last entry (see manifest.ts)
 *
 * Folder names are decoded Unicode, written as UTF-8 (the zip's language encoding flag is
 * set) and made safe by safe-names.ts: no `.`, `..` or empty name, no separator, control
 * character or NUL inside a name, at most LIMITS.folderNameBytes bytes, at most
 * LIMITS.folderDepth levels. Names that become equal once made safe, also when compared
 * case-insensitively as on Windows and macOS, are told apart by ` (2)`, ` (3)`, ...; so are
 * folder names that would collide with an item file (`000001.eml`) or with `manifest.json`.
 *
 * Item files are numbered from 000001 within their folder, in the order of their source ids
 * (numerically when both ids are numbers, as IMAP UIDs are). The number is the item's position
 * among the folder's exportable items in the job's cut, so an item that could not be read
 * leaves a gap rather than shifting the others.
 *
 * Entries are written in a fixed order: folders sorted by their source path (level by level,
 * by UTF-16 code units, never by locale), each folder's directory entry before its items,
 * the manifest last. Every entry carries the same time, 1980-01-01 00:00:00, the earliest a
 * zip can record, and the same permissions, so that the same content gives the same bytes.
 */

export const MANIFEST_NAME = 'manifest.json';

const ITEM_FILE = /^\d{6,}\.eml$/;

export function itemFileName(sequence: number): string {
  return `${String(sequence).padStart(6, '0')}.eml`;
}

/** Where one source folder lands in the zip, and which parent directories it brings along. */
export interface FolderPlacement {
  readonly folder: SourceFolder;
  /** Zip path of the folder's directory, without a trailing slash: `INBOX/Projects`. */
  readonly zipPath: string;
  /**
   * Directories the source did not list as folders but which hold this one (`A` for a listed
   * `A/B` alone). They are written before the folder's own directory entry.
   */
  readonly impliedParents: readonly string[];
}

/** Compares two strings by UTF-16 code units: the same order in every locale. */
export function compareCodeUnits(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** Parent before child, siblings by name: a depth-first walk of the tree. */
export function compareFolderPaths(a: readonly string[], b: readonly string[]): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const order = compareCodeUnits(a[i] as string, b[i] as string);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

const DIGITS = /^\d+$/;

/** Numeric ids (IMAP UIDs) by value, everything else by code units. */
export function compareItemIds(a: string, b: string): number {
  if (DIGITS.test(a) && DIGITS.test(b)) {
    const x = a.replace(/^0+(?=\d)/, '');
    const y = b.replace(/^0+(?=\d)/, '');
    if (x.length !== y.length) return x.length - y.length;
    return compareCodeUnits(x, y) || compareCodeUnits(a, b);
  }
  return compareCodeUnits(a, b);
}

/** The items of one folder in the order they are written. The sort is stable. */
export function orderItems(items: readonly SourceItem[]): SourceItem[] {
  return [...items].sort((x, y) => compareItemIds(x.id, y.id));
}

/** Levels past the limit are joined into the last level kept; the join is then made safe. */
function cappedPath(path: readonly string[]): string[] {
  const levels = path.length === 0 ? [''] : [...path];
  if (levels.length <= LIMITS.folderDepth) return levels;
  const kept = levels.slice(0, LIMITS.folderDepth - 1);
  return [...kept, levels.slice(LIMITS.folderDepth - 1).join('/')];
}

/**
 * Places every folder in the zip. The result is in writing order and does not depend on the
 * order in which the source listed the folders.
 */
export function planFolders(folders: readonly SourceFolder[]): FolderPlacement[] {
  const sorted = [...folders].sort((a, b) => compareFolderPaths(a.path, b.path));
  const siblings = new Map<string, SiblingNames>();
  const placed = new Map<string, string>();
  const placements: FolderPlacement[] = [];

  const namesIn = (parent: string): SiblingNames => {
    let names = siblings.get(parent);
    if (names === undefined) {
      const atRoot = parent === '';
      names = new SiblingNames(
        (key) => ITEM_FILE.test(key) || (atRoot && key === collisionKey(MANIFEST_NAME)),
      );
      siblings.set(parent, names);
    }
    return names;
  };

  const place = (parent: string, name: string): string => {
    const safe = namesIn(parent).claim(name);
    return parent === '' ? safe : `${parent}/${safe}`;
  };

  for (const folder of sorted) {
    const levels = cappedPath(folder.path);
    const impliedParents: string[] = [];
    let parent = '';
    for (let depth = 1; depth < levels.length; depth++) {
      const key = JSON.stringify(levels.slice(0, depth));
      let zipPath = placed.get(key);
      if (zipPath === undefined) {
        zipPath = place(parent, levels[depth - 1] as string);
        placed.set(key, zipPath);
        impliedParents.push(zipPath);
      }
      parent = zipPath;
    }

    const zipPath = place(parent, levels[levels.length - 1] as string);
    const key = JSON.stringify(levels);
    if (!placed.has(key)) placed.set(key, zipPath);
    placements.push({ folder, zipPath, impliedParents });
  }
  return placements;
}
