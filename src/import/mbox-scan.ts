import { open, stat } from 'node:fs/promises';

import { LIMITS } from '../core/limits.js';
import { type ScannedLine, scanLines } from '../store/lines.js';

/** One message of an mbox file, told by its place; the bytes are read afterwards. */
export interface MboxMessage {
  /** Offset of the `From ` separator line. */
  readonly separatorAt: number;
  /** First byte of the message (past the separator line). */
  readonly start: number;
  /** End of the message, exclusive (before the blank line that precedes the next one). */
  readonly end: number;
  /** True when the message's end came from a Content-Length header that checked out. */
  readonly byContentLength: boolean;
  readonly flags: readonly string[];
  readonly internalDate?: Date;
}

/** Text before the first separator that is not blank. */
export interface MboxPreamble {
  readonly preamble: true;
  readonly start: number;
  readonly end: number;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';

/**
 * Whether a line is an mbox separator. RFC 4155 gives `From <sender> <asctime date>`;
 * Netscape and Thunderbird write `From - <date>` or a bare `From -`. Requiring a time and a
 * year after any other sender keeps body lines such as "From Russia with love" in their
 * message even in files whose writer did not escape them.
 */
export function isSeparatorLine(text: string): boolean {
  const match = /^From (\S+)(?:[ \t]+(.*?))?[ \t]*$/.exec(text);
  if (!match) return false;
  const sender = match[1]!;
  const rest = match[2] ?? '';
  if (sender === '-') return true;
  if (rest === '') return sender.includes('@');
  return /(^|\s)\d{1,2}:\d{2}(:\d{2})?(\s|$)/.test(rest) && /(^|\s)\d{4}(\s|$)/.test(rest);
}

/** The asctime date of a separator line, read as UTC unless a numeric zone is given. */
export function separatorDate(text: string): Date | undefined {
  const match =
    /([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:([+-]\d{4}|[A-Z]{3,4})\s+)?(\d{4})/.exec(
      text,
    );
  if (!match) return undefined;
  const month = MONTHS.indexOf(match[1]!) / 3;
  if (!Number.isInteger(month) || month < 0) return undefined;
  let time = Date.UTC(
    Number(match[7]),
    month,
    Number(match[2]),
    Number(match[3]),
    Number(match[4]),
    Number(match[5] ?? 0),
  );
  const zone = match[6];
  if (zone && /^[+-]\d{4}$/.test(zone)) {
    const minutes = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3));
    time -= (zone.startsWith('-') ? -1 : 1) * minutes * 60_000;
  }
  return Number.isNaN(time) ? undefined : new Date(time);
}

interface Header {
  contentLength?: number;
  status: string;
  xStatus: string;
  mozillaStatus?: number;
  date?: Date;
  bytes: number;
}

function flagsOf(header: Header): string[] {
  const flags = new Set<string>();
  const moz = header.mozillaStatus ?? 0;
  // Status/X-Status letters as mutt and UW IMAP write them; X-Mozilla-Status bits as
  // Netscape and Thunderbird do (read 0x1, replied 0x2, marked 0x4, expunged 0x8, forwarded 0x1000).
  if (header.status.includes('R') || moz & 0x1) flags.add('\\Seen');
  if (header.xStatus.includes('A') || moz & 0x2) flags.add('\\Answered');
  if (header.xStatus.includes('F') || moz & 0x4) flags.add('\\Flagged');
  if (header.xStatus.includes('D') || moz & 0x8) flags.add('\\Deleted');
  if (header.xStatus.includes('T')) flags.add('\\Draft');
  if (moz & 0x1000) flags.add('$Forwarded');
  return [...flags];
}

function readHeaderLine(header: Header, text: string): void {
  const match = /^([A-Za-z0-9-]+)[ \t]*:[ \t]*(.*?)[ \t]*$/.exec(text);
  if (!match) return;
  const name = match[1]!.toLowerCase();
  const value = match[2]!;
  if (name === 'content-length' && /^\d{1,15}$/.test(value)) header.contentLength = Number(value);
  else if (name === 'status') header.status = value;
  else if (name === 'x-status') header.xStatus = value;
  else if (name === 'x-mozilla-status' && /^[0-9a-fA-F]{1,8}$/.test(value))
    header.mozillaStatus = parseInt(value, 16);
  else if (name === 'date' && header.date === undefined) {
    const time = Date.parse(value);
    if (!Number.isNaN(time)) header.date = new Date(time);
  }
}

function textOf(line: ScannedLine): string {
  const head =
    line.start === 0 && line.head.subarray(0, 3).equals(BOM) ? line.head.subarray(3) : line.head;
  return head
    .toString('latin1')
    .replace(/\r?\n$/, '')
    .replace(/\r$/, '');
}

/**
 * Finds the messages of an mbox file in one pass, yielding each as soon as its end is known.
 * A Content-Length header is trusted only when it points exactly at the end of the file or at
 * the next separator (after at most one blank line): then `From ` lines inside the body do not
 * split the message. Otherwise the message ends at the next separator line, less the blank
 * line before it.
 */
export async function* scanMbox(
  path: string,
  signal?: AbortSignal,
): AsyncGenerator<MboxMessage | MboxPreamble> {
  const size = (await stat(path)).size;
  const handle = await open(path, 'r');
  try {
    let current:
      | { separatorAt: number; start: number; separator: string; header: Header; inHeader: boolean }
      | undefined;
    let skipUntil = 0;
    let lastLine: { start: number; end: number; blank: boolean } | undefined;
    let preamble: { start: number; end: number } | undefined;

    const finish = (end: number, byContentLength: boolean): MboxMessage => {
      const message = current!;
      let stop = end;
      if (
        !byContentLength &&
        lastLine &&
        lastLine.blank &&
        lastLine.end === end &&
        lastLine.start >= message.start
      ) {
        stop = lastLine.start;
      }
      current = undefined;
      return {
        separatorAt: message.separatorAt,
        start: message.start,
        end: stop,
        byContentLength,
        flags: flagsOf(message.header),
        internalDate: separatorDate(message.separator) ?? message.header.date,
      };
    };

    for await (const batch of scanLines(path, { headBytes: LIMITS.mboxLinePrefixBytes, signal })) {
      for (const line of batch) {
        if (line.start < skipUntil) continue;
        const text = textOf(line);
        const blank = text === '';

        if (isSeparatorLine(text)) {
          if (current) yield finish(line.start, false);
          if (preamble) yield { preamble: true, ...preamble };
          preamble = undefined;
          current = {
            separatorAt: line.start,
            start: line.end,
            separator: text,
            header: { status: '', xStatus: '', bytes: 0 },
            inHeader: true,
          };
          lastLine = undefined;
          continue;
        }

        lastLine = { start: line.start, end: line.end, blank };
        if (!current) {
          if (!blank) preamble = { start: preamble?.start ?? line.start, end: line.end };
          continue;
        }
        if (!current.inHeader) continue;

        if (blank) {
          current.inHeader = false;
          const length = current.header.contentLength;
          if (length !== undefined && (await endsAtSeparator(handle, line.end + length, size))) {
            skipUntil = line.end + length;
            yield finish(skipUntil, true);
          }
          continue;
        }

        current.header.bytes += line.end - line.start;
        if (current.header.bytes > LIMITS.headerBytesParsed) current.inHeader = false;
        else readHeaderLine(current.header, text);
      }
    }

    if (current) yield finish(size, false);
    if (preamble) yield { preamble: true, ...preamble };
  } finally {
    await handle.close();
  }
}

/** Whether `offset` is the end of the file, or a line start followed by a separator line. */
async function endsAtSeparator(
  handle: import('node:fs/promises').FileHandle,
  offset: number,
  size: number,
) {
  if (offset === size) return true;
  if (offset > size) return false;
  const want = LIMITS.mboxLinePrefixBytes + 3;
  const { buffer, bytesRead } = await handle.read(
    Buffer.alloc(want),
    0,
    want,
    Math.max(0, offset - 1),
  );
  const bytes = buffer.subarray(0, bytesRead);
  const atLineStart = offset === 0 || bytes[0] === 0x0a;
  if (!atLineStart) return false;

  let text = bytes.subarray(offset === 0 ? 0 : 1).toString('latin1');
  const blank = /^\r?\n/.exec(text);
  if (blank) text = text.slice(blank[0].length);
  const newline = text.indexOf('\n');
  return isSeparatorLine((newline < 0 ? text : text.slice(0, newline)).replace(/\r$/, ''));
}
