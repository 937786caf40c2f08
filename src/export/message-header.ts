import { addressParser, decodeWords } from 'postal-mime';
import { LIMITS } from '../core/limits.js';

/**
 * The manifest's view of a message header: what could be read from it, and nothing invented.
 * A field is absent when the message has no such header; its name is listed in `unparsed` when
 * the header is there but its value cannot be read (a date that is no date, a sender without
 * an address), and in `truncated` when its value was cut to LIMITS.manifestFieldChars.
 */
export interface HeaderFields {
  /**
   * `parsed`: the header block was read; `too-large`: it is longer than
   * LIMITS.headerBytesParsed and was not read; `failed`: the parser gave up.
   */
  readonly status: 'parsed' | 'too-large' | 'failed';
  readonly subject?: string;
  readonly from?: { readonly name: string; readonly address: string };
  /** ISO 8601 in UTC, as the Date header gives it. */
  readonly date?: string;
  readonly messageId?: string;
  readonly unparsed?: readonly string[];
  readonly truncated?: readonly string[];
}

/**
 * Collects the header block of a message as its bytes pass on their way into the zip, and
 * stops collecting at the blank line that ends it (RFC 5322 §2.1) or at the limit.
 */
export class HeaderCapture {
  private readonly chunks: Buffer[] = [];
  private collected = 0;
  private state: 'reading' | 'complete' | 'too-large' = 'reading';

  constructor(private readonly limit: number = LIMITS.headerBytesParsed) {}

  observe(chunk: Buffer): void {
    if (this.state !== 'reading') return;

    const searchFrom = Math.max(0, this.collected - 3);
    const joined = this.chunks.length === 0 ? chunk : Buffer.concat([...this.chunks, chunk]);
    this.chunks.length = 0;
    const end = headerEnd(joined, searchFrom);
    // A copy: the chunk's memory goes on to the zip, which may hand it to another thread.
    const kept = Buffer.from(end === -1 ? joined : joined.subarray(0, end));
    this.chunks.push(kept);
    this.collected = kept.length;
    if (kept.length > this.limit) this.state = 'too-large';
    else if (end !== -1) this.state = 'complete';
    if (this.state === 'too-large') this.chunks.length = 0;
  }

  /** The header block, or undefined when it was longer than the limit. */
  block(): Buffer | undefined {
    if (this.state === 'too-large') return undefined;
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
  }
}

/** Offset just past the blank line ending the header, or -1. Accepts CRLF and bare LF. */
function headerEnd(bytes: Buffer, from: number): number {
  for (let i = bytes.indexOf(0x0a, from); i !== -1; i = bytes.indexOf(0x0a, i + 1)) {
    if (bytes[i + 1] === 0x0a) return i + 2;
    if (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function cut(value: string, name: string, truncated: string[]): string {
  if (value.length <= LIMITS.manifestFieldChars) return value;
  truncated.push(name);
  return value.slice(0, LIMITS.manifestFieldChars).replace(/[\ud800-\udbff]$/, '');
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

const FIELD_NAMES = new Set(['subject', 'from', 'date', 'message-id']);

/** Only SP and HTAB surround a field name or fold a line (RFC 5322 §2.2, §3.2.2). */
function isWsp(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

function trimWsp(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isWsp(text.charCodeAt(start))) start++;
  while (end > start && isWsp(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/** The wanted field names as bytes, to pass over every other field without decoding it. */
const FIELD_NAME_BYTES = [...FIELD_NAMES].map((name) => Buffer.from(name, 'latin1'));

/**
 * Whether the line from `start` begins, after SP and HTAB, with a wanted field name in any
 * case. Only a line that does can hold a wanted field: a name is compared lowercased, and no
 * character but an ASCII letter lowercases to the letters of these names.
 */
function mayBeWanted(block: Buffer, start: number, end: number): boolean {
  while (start < end && isWsp(block[start]!)) start++;
  return FIELD_NAME_BYTES.some((name) => {
    if (end - start < name.length) return false;
    for (let i = 0; i < name.length; i++) {
      // ASCII letters differ from their capitals in bit 0x20 alone; '-' has no capital.
      if ((block[start + i]! | 0x20) !== name[i]) return false;
    }
    return true;
  });
}

/**
 * The first occurrence of each wanted field, unfolded: folding breaks are removed and the
 * folding whitespace kept (RFC 5322 §2.2.3), a stray CR or LF becomes a space, and the value
 * is trimmed of SP and HTAB only. Lines end at LF, with any CRs before it; the block ends at
 * its first empty line. Each line is decoded as UTF-8 (RFC 6532) on its own, so that the
 * fields come out as postal-mime, which reads lines that way, would give them; only the lines
 * of fields that may be wanted are decoded.
 */
function firstFields(block: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  const take = (group: readonly string[]): void => {
    const line = group.join('');
    const colon = line.indexOf(':');
    const name = trimWsp(colon < 0 ? line : line.slice(0, colon)).toLowerCase();
    if (!FIELD_NAMES.has(name) || fields.has(name)) return;
    fields.set(name, colon < 0 ? '' : trimWsp(line.slice(colon + 1).replace(/[\r\n]+/g, ' ')));
  };

  let group: string[] | undefined;
  let first = true;
  for (let start = 0; start < block.length;) {
    let next = block.indexOf(0x0a, start);
    if (next === -1) next = block.length;
    let end = next;
    while (end > start && (block[end - 1] === 0x0d || block[end - 1] === 0x0a)) end--;
    if (end === start) break;

    // A line that begins with SP or HTAB folds into the field before it, if there is one.
    if (!first && isWsp(block[start]!)) {
      group?.push(utf8.decode(block.subarray(start, end)));
    } else {
      if (group !== undefined) take(group);
      group = mayBeWanted(block, start, end)
        ? [utf8.decode(block.subarray(start, end))]
        : undefined;
    }
    first = false;
    start = next + 1;
  }
  if (group !== undefined) take(group);
  return fields;
}

/**
 * Reads subject, sender, date and message id from a captured header block, with postal-mime's
 * decoders for encoded words (RFC 2047) and addresses. Only the four fields are read: a whole
 * parse of the block by postal-mime cost as much as deflating the message.
 */
export function parseHeaderFields(block: Buffer | undefined): HeaderFields {
  if (block === undefined) return { status: 'too-large' };

  const unparsed: string[] = [];
  const truncated: string[] = [];
  const fields: {
    subject?: string;
    from?: { name: string; address: string };
    date?: string;
    messageId?: string;
  } = {};

  try {
    const raw = firstFields(block);

    const subject = raw.get('subject');
    if (subject) fields.subject = cut(decodeWords(subject), 'subject', truncated);

    const from = raw.get('from');
    if (from !== undefined) {
      const first = from ? addressParser(from)[0] : undefined;
      if (first?.address) {
        fields.from = {
          name: cut(first.name, 'from', truncated),
          address: cut(first.address, 'from', truncated),
        };
      } else {
        unparsed.push('from');
      }
    }

    const date = raw.get('date');
    if (date !== undefined) {
      const parsed = new Date(date);
      if (!Number.isNaN(parsed.getTime()) && ISO_DATE.test(parsed.toISOString())) {
        fields.date = parsed.toISOString();
      } else {
        unparsed.push('date');
      }
    }

    const messageId = raw.get('message-id');
    if (messageId !== undefined) {
      const decoded = messageId ? decodeWords(messageId) : '';
      if (decoded !== '') fields.messageId = cut(decoded, 'messageId', truncated);
      else unparsed.push('messageId');
    }
  } catch {
    return { status: 'failed' };
  }

  return {
    status: 'parsed',
    ...fields,
    ...(unparsed.length > 0 ? { unparsed } : {}),
    ...(truncated.length > 0 ? { truncated: [...new Set(truncated)] } : {}),
  };
}
