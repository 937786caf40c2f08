import { LIMITS } from '../core/limits.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest } from './manifest.js';

/**
 * Reads a manifest as `manifestJson` lays it out, a line at a time: the head's members one per
 * line, then each list with one record per line. A manifest of a million items is hundreds of
 * MB, too much to parse whole; read this way, only what the reader keeps of each record stays
 * in memory. Each line is parsed with JSON.parse, so that a tampered manifest is at worst
 * refused, never half understood; a manifest laid out otherwise is refused too, down to its
 * commas and the order of its members, so that what is accepted is the JSON any other tool
 * reads the same way.
 */

type ListKey = 'folders' | 'items' | 'nonExportable' | 'unreadable' | 'deleted';
type Head = Omit<Manifest, ListKey>;
type RecordOf<K extends ListKey> = Manifest[K][number];

/**
 * What a reader does with each record; the counts of every list come back anyway. A visitor
 * that throws refuses the manifest, its message prefixed with the line's number.
 */
export interface ManifestVisitor {
  folder?(record: RecordOf<'folders'>): void;
  item?(record: RecordOf<'items'>): void;
  problem?(record: RecordOf<'unreadable'>, list: 'unreadable' | 'deleted'): void;
}

export interface ManifestSummary {
  readonly head: Head;
  readonly counts: Readonly<Record<ListKey, number>>;
}

/** The head's members and the lists, in the order `manifestJson` writes them. */
const HEAD_KEYS: readonly (keyof Head)[] = [
  'format',
  'version',
  'jobId',
  'startTime',
  'compression',
];
const LISTS: readonly ListKey[] = ['folders', 'items', 'nonExportable', 'unreadable', 'deleted'];

const HEAD_LINE = /^ {2}"([A-Za-z]+)": (.*),$/;
const LIST_START = /^ {2}"([A-Za-z]+)": \[(\](,?))?$/;
const LIST_END = /^ {2}\](,?)$/;
const RECORD_LINE = /^ {4}(\{.*\})(,?)$/;

/** Where the reader stands: which line may come next. */
type Place =
  | { readonly at: 'start' }
  | { readonly at: 'head'; readonly next: number }
  | { readonly at: 'lists'; readonly next: number }
  | { readonly at: 'records'; readonly list: number; records: number; comma: boolean }
  | { readonly at: 'end' }
  | { readonly at: 'after' };

export async function readManifestLines(
  bytes: AsyncIterable<Buffer>,
  visitor: ManifestVisitor,
): Promise<ManifestSummary> {
  const head: Record<string, unknown> = {};
  const counts = Object.fromEntries(LISTS.map((key) => [key, 0])) as Record<ListKey, number>;
  let place: Place = { at: 'start' };
  let number = 0;

  const fail = (why: string): never => {
    throw new Error(`line ${number} ${why}`);
  };

  /** After the list at `index`: a comma tells another follows, its absence that none does. */
  const listClosed = (index: number, comma: string): Place => {
    const last = index === LISTS.length - 1;
    if (last !== (comma === '')) fail(last ? 'ends the last list with a comma' : 'lacks a comma');
    return last ? { at: 'end' } : { at: 'lists', next: index + 1 };
  };

  const visit = (key: ListKey, record: string): void => {
    const value = JSON.parse(record) as never;
    try {
      if (key === 'folders') visitor.folder?.(value);
      else if (key === 'items') visitor.item?.(value);
      else if (key === 'unreadable' || key === 'deleted') visitor.problem?.(value, key);
    } catch (error) {
      fail((error as Error).message);
    }
  };

  const take = (line: string): void => {
    number++;
    switch (place.at) {
      case 'start':
        if (line !== '{') fail('does not open the manifest');
        place = { at: 'head', next: 0 };
        return;

      case 'head': {
        const [, key, value] = HEAD_LINE.exec(line) ?? fail('is not laid out as a manifest');
        if (key !== HEAD_KEYS[place.next])
          fail(`holds ${key} where ${HEAD_KEYS[place.next]} belongs`);
        head[key as string] = JSON.parse(value as string);
        place =
          place.next + 1 === HEAD_KEYS.length
            ? { at: 'lists', next: 0 }
            : { at: 'head', next: place.next + 1 };
        return;
      }

      case 'lists': {
        const [, key, empty, comma] = LIST_START.exec(line) ?? fail('does not open a list');
        if (key !== LISTS[place.next]) fail(`opens ${key} where ${LISTS[place.next]} belongs`);
        place =
          empty === undefined
            ? { at: 'records', list: place.next, records: 0, comma: false }
            : listClosed(place.next, comma as string);
        return;
      }

      case 'records': {
        const key = LISTS[place.list] as ListKey;
        const end = LIST_END.exec(line);
        if (end !== null) {
          // `[` then `]` on lines of their own is not how an empty list is written.
          if (place.records === 0) fail(`closes ${key} before any record`);
          if (place.comma) fail(`closes ${key} after a comma`);
          place = listClosed(place.list, end[1] as string);
          return;
        }
        const [, record, comma] = RECORD_LINE.exec(line) ?? fail(`is not a record of ${key}`);
        if (place.records > 0 && !place.comma) fail('follows a record without a comma');
        visit(key, record as string);
        counts[key]++;
        place.records++;
        place.comma = comma === ',';
        return;
      }

      case 'end':
        if (line !== '}') fail('does not close the manifest');
        place = { at: 'after' };
        return;

      case 'after':
        fail('follows the end of the manifest');
    }
  };

  // Bytes that are not UTF-8 are refused, not replaced: a replaced name could match another.
  // A chunk may end inside a character: the decoder keeps its first bytes for the next one.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  // The line read so far, in pieces: newlines are looked for in each piece once only.
  let pieces: string[] = [];
  let carried = 0;
  const scan = (text: string): void => {
    let from = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', from)) {
      const rest = text.slice(from, newline);
      take(pieces.length === 0 ? rest : pieces.join('') + rest);
      pieces = [];
      carried = 0;
      from = newline + 1;
    }
    if (from < text.length) {
      pieces.push(text.slice(from));
      carried += text.length - from;
    }
    if (carried > LIMITS.manifestLineChars) {
      throw new Error(`line ${number + 1} is longer than ${LIMITS.manifestLineChars} characters`);
    }
  };
  try {
    for await (const chunk of bytes) scan(decoder.decode(chunk, { stream: true }));
    scan(decoder.decode());
  } catch (error) {
    if (
      error instanceof TypeError &&
      (error as NodeJS.ErrnoException).code === 'ERR_ENCODING_INVALID_ENCODED_DATA'
    ) {
      throw new Error('it holds bytes that are not UTF-8', { cause: error });
    }
    throw error;
  }
  if (pieces.length > 0) take(pieces.join(''));
  // `take` moved it on: the compiler cannot see through the closure.
  if ((place as Place).at !== 'after') throw new Error('it ends before its last line');

  if (head.format !== MANIFEST_FORMAT || head.version !== MANIFEST_VERSION) {
    throw new Error(`format ${String(head.format)} ${String(head.version)} is unknown`);
  }
  return { head: head as unknown as Head, counts };
}
