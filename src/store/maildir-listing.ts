import { opendirSync, statSync, type Dir } from 'node:fs';
import { join } from 'node:path';

import type { SourceItem } from '../core/source.js';
import { byteLocator, entryName, type EntryName } from './file-names.js';
import {
  flagsOfLetters,
  parseMaildirEntry,
  readKeywordTable,
  type MaildirEntry,
} from './maildir-format.js';
import { TimeSlice } from './time-slice.js';

/** Messages of a Maildir folder listed at a time. */
const LISTING_CHUNK_ITEMS = 1024;

/**
 * Times a Maildir folder is read again at most while it changes as it is listed: each pass
 * finds most of what a rename hid from the one before.
 */
const RESCAN_PASSES = 8;

/** A file of a Maildir folder, `cur/NAME` or `new/NAME`, and what its name says. */
interface MaildirFile extends MaildirEntry {
  readonly file: string;
  /** The file's name as bytes, when they are not UTF-8 (file-names.ts). */
  readonly bytes?: Buffer;
}

function maildirPath(dir: string, name: MaildirFile): string | Buffer {
  return name.bytes ? Buffer.concat([Buffer.from(`${dir}/`), name.bytes]) : join(dir, name.file);
}

function sizeOf(dir: string, name: MaildirFile): number | undefined {
  return statSync(maildirPath(dir, name), { throwIfNoEntry: false })?.size;
}

function locatorOf(name: MaildirFile): string {
  return name.bytes ? byteLocator(name.bytes) : name.file;
}

/**
 * A Maildir folder's messages, cur/ as it is read. new/ is read whole first, so that a name
 * found in both (a move caught half-way) is read from cur/, and a copy in new/ of another size
 * is listed as a message of its own; new/ holds what no client has seen yet, usually little.
 *
 * A directory read while a client renames files in it (setting a flag, taking a message
 * from new/ to cur/) may miss a renamed file altogether, under its old name and its new one.
 * So while the directories keep changing during a pass, they are read again for unique names
 * not yet listed; only those names are kept in memory, not the items.
 */
export async function* listMaildirFolder(
  dir: string,
  signal: AbortSignal,
): AsyncGenerator<SourceItem[]> {
  const keywords = await readKeywordTable(dir);
  // Messages with the same flags share one list of them, as most of a folder's do.
  const flagLists = new Map<string, readonly string[]>();
  const flagsOf = (letters: string): readonly string[] => {
    let flags = flagLists.get(letters);
    if (flags === undefined) {
      flags = Object.freeze(flagsOfLetters(letters, keywords));
      flagLists.set(letters, flags);
    }
    return flags;
  };
  const slice = new TimeSlice();
  // Names come a batch at a time, read and stat'ed without waiting between them: a wait per
  // name cost more than the stat.
  const named = async function* (sub: string): AsyncGenerator<MaildirFile[]> {
    for await (const names of nameBatches(join(dir, sub), slice)) {
      signal.throwIfAborted();
      const files: MaildirFile[] = [];
      for (const name of names) {
        if (name.text.startsWith('.')) continue;
        const file = `${sub}/${name.text}`;
        const bytes = name.bytes && Buffer.concat([Buffer.from(`${sub}/`), name.bytes]);
        files.push({ file, ...(bytes ? { bytes } : {}), ...parseMaildirEntry(name) });
      }
      yield files;
    }
  };

  const listed = new Set<string>();
  // Names read but gone when stat'ed: renamed since, most of them, and looked for again.
  const missed = new Map<string, MaildirFile>();
  let chunk: SourceItem[] = [];
  /** `copy`: a second file under a name already listed, listed as an item of its own. */
  const take = (name: MaildirFile, copy = false): SourceItem[] | undefined => {
    if (!copy && listed.has(name.key)) return undefined;
    const info = statSync(maildirPath(dir, name), { throwIfNoEntry: false });
    if (info === undefined && !copy) missed.set(name.key, name);
    if (!info?.isFile()) return undefined;
    if (!copy) {
      missed.delete(name.key);
      listed.add(name.key);
    }
    chunk.push({
      id: name.uniqueName,
      kind: 'message',
      size: info.size,
      flags: flagsOf(name.flagLetters),
      internalDate: info.mtime,
      locator: locatorOf(name),
    });
    if (chunk.length < LISTING_CHUNK_ITEMS) return undefined;
    const full = chunk;
    chunk = [];
    return full;
  };

  let stamp = directoriesStamp(dir);
  const fresh = new Map<string, MaildirFile>();
  for await (const names of named('new')) for (const name of names) fresh.set(name.key, name);
  // A name in both new/ and cur/ is most often a move caught half-way (a link, then an
  // unlink): it is read from cur/. A copy in new/ of another size is another message under
  // the same name, and is exported too rather than lost.
  const copies: MaildirFile[] = [];
  for await (const names of named('cur')) {
    for (const name of names) {
      const copy = fresh.get(name.key);
      fresh.delete(name.key);
      if (copy !== undefined && sizeOf(dir, copy) !== sizeOf(dir, name)) copies.push(copy);
      const full = take(name);
      if (full) yield full;
    }
  }
  for (const name of fresh.values()) {
    const full = take(name);
    if (full) yield full;
  }
  fresh.clear();
  for (const copy of copies) {
    const full = take(copy, true);
    if (full) yield full;
  }

  for (let pass = 0; pass < RESCAN_PASSES; pass++) {
    const now = directoriesStamp(dir);
    if (now === stamp && missed.size === 0) break;
    stamp = now;
    for (const sub of ['cur', 'new']) {
      for await (const names of named(sub)) {
        for (const name of names) {
          const full = take(name);
          if (full) yield full;
        }
      }
    }
  }

  // Still renamed at every look: listed where last seen, for the read to find it.
  for (const name of missed.values()) {
    const flags = flagsOf(name.flagLetters);
    chunk.push({ id: name.uniqueName, kind: 'message', flags, locator: locatorOf(name) });
  }
  if (chunk.length > 0) yield chunk;
}

/** When cur/ and new/ last changed: equal stamps, no rename or delivery in between. */
function directoriesStamp(dir: string): string {
  const parts: string[] = [];
  for (const sub of ['cur', 'new']) {
    const info = statSync(join(dir, sub), { bigint: true, throwIfNoEntry: false });
    parts.push(info === undefined ? '-' : `${info.mtimeNs}:${info.ctimeNs}`);
  }
  return parts.join('/');
}

/**
 * The names in a directory as they are read, a batch at a time; none if it does not exist.
 * They are read synchronously, from a directory the kernel has cached, giving way to other
 * work between batches once a slice of time is used.
 */
async function* nameBatches(dir: string, slice: TimeSlice): AsyncGenerator<EntryName[]> {
  let opened: Dir;
  try {
    // Names as bytes, so that one that is not UTF-8 still names its file. Node's types only
    // know text encodings here; 'buffer' gives each entry's name as a Buffer.
    opened = opendirSync(dir, { bufferSize: 1024, encoding: 'buffer' as BufferEncoding });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    for (;;) {
      const batch: EntryName[] = [];
      for (let entry = opened.readSync(); entry !== null; entry = opened.readSync()) {
        batch.push(entryName(entry.name as unknown as Buffer));
        if (batch.length === LISTING_CHUNK_ITEMS) break;
      }
      if (batch.length === 0) return;
      yield batch;
      await slice.giveWay();
    }
  } finally {
    opened.closeSync();
  }
}
