import { StringDecoder } from 'node:string_decoder';

import { LIMITS } from '../core/limits.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest } from './manifest.js';

/**
 * Reads a manifest as `manifestJson` lays it out, a line at a time: the head's members one per
 * line, then each list with one record per line. A manifest of a million items is hundreds of
 * MB, too much to parse whole; read this way, only what the reader keeps of each record stays
 * in memory. Each line is parsed with JSON.parse, so that a tampered manifest is at worst
 * refused, never half understood; a manifest laid out otherwise is refused too.
 */

type ListKey = 'folders' | 'items' | 'nonExportable' | 'unreadable' | 'deleted';
type Head = Omit<Manifest, ListKey>;
type RecordOf<K extends ListKey> = Manifest[K][number];

/** What a reader does with each record; the counts of every list come back anyway. */
export interface ManifestVisitor {
  folder?(record: RecordOf<'folders'>): void;
  item?(record: RecordOf<'items'>): void;
  problem?(record: RecordOf<'unreadable'>, list: 'unreadable' | 'deleted'): void;
}

export interface ManifestSummary {
  readonly head: Head;
  readonly counts: Readonly<Record<ListKey, number>>;
}

const LISTS: readonly ListKey[] = ['folders', 'items', 'nonExportable', 'unreadable', 'deleted'];
const HEAD_LINE = /^ {2}("[A-Za-z]+": .*?),?$/;
const LIST_START = /^ {2}"([A-Za-z]+)": \[(\])?,?$/;
const LIST_END = /^ {2}\],?$/;
const RECORD_LINE = /^ {4}(\{.*\}),?$/;

export async function readManifestLines(
  bytes: AsyncIterable<Buffer>,
  visitor: ManifestVisitor,
): Promise<ManifestSummary> {
  const head: Record<string, unknown> = {};
  const counts = Object.fromEntries(LISTS.map((key) => [key, 0])) as Record<ListKey, number>;
  let list: ListKey | undefined;
  let number = 0;
  let ended = false;

  const take = (line: string): void => {
    number++;
    const fail = (why: string): never => {
      throw new Error(`line ${number} ${why}`);
    };
    if (ended) fail('follows the end of the manifest');
    if (number === 1) return void (line !== '{' && fail('does not open the manifest'));
    if (line === '}') {
      ended = true;
      return;
    }

    if (list !== undefined) {
      if (LIST_END.test(line)) return void (list = undefined);
      const record = RECORD_LINE.exec(line)?.[1] ?? fail(`is not a record of ${list}`);
      const value = JSON.parse(record) as never;
      counts[list]++;
      if (list === 'folders') visitor.folder?.(value);
      else if (list === 'items') visitor.item?.(value);
      else if (list === 'unreadable' || list === 'deleted') visitor.problem?.(value, list);
      return;
    }

    const start = LIST_START.exec(line);
    if (start !== null) {
      const key = start[1] as ListKey;
      if (!LISTS.includes(key)) fail(`opens a list the manifest has not: ${key}`);
      if (start[2] === undefined) list = key;
      return;
    }
    const member = HEAD_LINE.exec(line)?.[1] ?? fail('is not laid out as a manifest');
    Object.assign(head, JSON.parse(`{${member}}`));
  };

  // A chunk may end inside a character: the decoder keeps its first bytes for the next one.
  const decoder = new StringDecoder('utf8');
  let carry = '';
  for await (const chunk of bytes) {
    const text = carry + decoder.write(chunk);
    const lines = text.split('\n');
    carry = lines.pop()!;
    if (carry.length > LIMITS.manifestLineChars) {
      throw new Error(`line ${number + 1} is longer than ${LIMITS.manifestLineChars} characters`);
    }
    for (const line of lines) take(line);
  }
  carry += decoder.end();
  if (carry !== '') take(carry);
  if (!ended) throw new Error('it ends before its last line');

  if (head.format !== MANIFEST_FORMAT || head.version !== MANIFEST_VERSION) {
    throw new Error(`format ${String(head.format)} ${String(head.version)} is unknown`);
  }
  return { head: head as unknown as Head, counts };
}
