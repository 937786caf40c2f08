import { LIMITS } from '../core/limits.js';
import { scanLines } from '../store/lines.js';

/**
 * One unfolded content line of an iCalendar or vCard file (RFC 5545 section 3.1, RFC 6350
 * section 3.2): a physical line and the lines after it that start with a space or a tab.
 */
export interface ContentLine {
  /** Offset of the first byte (past a UTF-8 byte order mark at the start of the file). */
  readonly start: number;
  /** Offset past the terminator of the last physical line. */
  readonly end: number;
  /** The unfolded line without terminators, bytes as latin1, cut at the parse limit. */
  readonly text: string;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export async function* contentLines(
  path: string,
  signal?: AbortSignal,
): AsyncGenerator<ContentLine> {
  const cap = LIMITS.calendarLineBytesParsed;
  let pending: { start: number; end: number; text: string } | undefined;

  for await (const batch of scanLines(path, { headBytes: cap, signal })) {
    for (const line of batch) {
      let head = line.head;
      let start = line.start;
      if (start === 0 && head.subarray(0, 3).equals(BOM)) {
        head = head.subarray(3);
        start = 3;
      }

      const text = head.toString('latin1').replace(/\r?\n$/, '');
      if (pending && (text.startsWith(' ') || text.startsWith('\t'))) {
        pending.end = line.end;
        if (pending.text.length < cap) pending.text = (pending.text + text.slice(1)).slice(0, cap);
        continue;
      }

      if (pending) yield pending;
      pending = { start, end: line.end, text: text.replace(/\r$/, '') };
    }
  }
  if (pending) yield pending;
}

export interface ParsedContentLine {
  /** Upper-cased property name (`BEGIN`, `UID`, `DTSTART`...). */
  readonly name: string;
  readonly params: ReadonlyArray<readonly [name: string, value: string]>;
  readonly value: string;
}

/**
 * Splits `NAME;PARAM=a,"b;c":value` into its parts; a quoted parameter value may hold `;`,
 * `:` and `,` (RFC 5545 section 3.2). Text stays in latin1, byte for byte.
 */
export function parseContentLine(text: string): ParsedContentLine {
  const nameEnd = text.search(/[;:]/);
  if (nameEnd < 0) return { name: text.trim().toUpperCase(), params: [], value: '' };
  const name = text.slice(0, nameEnd).trim().toUpperCase();
  const params: Array<[string, string]> = [];
  let i = nameEnd;
  while (i < text.length && text[i] === ';') {
    const eq = text.indexOf('=', i + 1);
    const stop = text.slice(i + 1).search(/[;:]/);
    if (eq < 0 || (stop >= 0 && i + 1 + stop < eq)) {
      i = stop < 0 ? text.length : i + 1 + stop;
      continue;
    }

    const paramName = text
      .slice(i + 1, eq)
      .trim()
      .toUpperCase();
    let j = eq + 1;
    let value = '';
    while (j < text.length && text[j] !== ';' && text[j] !== ':') {
      if (text[j] === '"') {
        const close = text.indexOf('"', j + 1);
        const endQuote = close < 0 ? text.length : close;
        value += text.slice(j + 1, endQuote);
        j = endQuote + 1;
      } else {
        value += text[j];
        j += 1;
      }
    }
    params.push([paramName, value]);
    i = j;
  }
  return { name, params, value: i < text.length ? text.slice(i + 1) : '' };
}

/** A TEXT value without its backslash escapes (RFC 5545 section 3.3.11). */
export function unescapeText(value: string): string {
  return value.replace(/\\([\\;,nN])/g, (_, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}

/** latin1 text back to the UTF-8 string its bytes stand for. */
export function utf8Of(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}
