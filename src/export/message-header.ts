import PostalMime from 'postal-mime';
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
    const kept = end === -1 ? joined : joined.subarray(0, end);
    this.chunks.push(kept);
    this.collected = kept.length;
    if (kept.length > this.limit) this.state = 'too-large';
    else if (end !== -1) this.state = 'complete';
    if (this.state === 'too-large') this.chunks.length = 0;
  }

  /** The header block, or undefined when it was longer than the limit. */
  block(): Buffer | undefined {
    if (this.state === 'too-large') return undefined;
    return Buffer.concat(this.chunks);
  }
}

/** Offset just past the blank line ending the header, or -1. Accepts CRLF and bare LF. */
function headerEnd(bytes: Buffer, from: number): number {
  for (let i = from; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue;
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

/** Reads subject, sender, date and message id from a captured header block. */
export async function parseHeaderFields(block: Buffer | undefined): Promise<HeaderFields> {
  if (block === undefined) return { status: 'too-large' };

  let email;
  try {
    email = await PostalMime.parse(Buffer.concat([block, Buffer.from('\r\n\r\n')]), {
      maxHeadersSize: LIMITS.headerBytesParsed * 2,
    });
  } catch {
    return { status: 'failed' };
  }

  const present = new Set(email.headers.map((header) => header.key));
  const unparsed: string[] = [];
  const truncated: string[] = [];
  const fields: {
    subject?: string;
    from?: { name: string; address: string };
    date?: string;
    messageId?: string;
  } = {};

  if (present.has('subject') && email.subject !== undefined) {
    fields.subject = cut(email.subject, 'subject', truncated);
  }
  if (present.has('from')) {
    const from = email.from;
    if (from !== undefined && from.address !== undefined && from.address !== '') {
      fields.from = {
        name: cut(from.name, 'from', truncated),
        address: cut(from.address, 'from', truncated),
      };
    } else {
      unparsed.push('from');
    }
  }
  if (present.has('date')) {
    if (email.date !== undefined && ISO_DATE.test(email.date)) fields.date = email.date;
    else unparsed.push('date');
  }
  if (present.has('message-id')) {
    if (email.messageId !== undefined && email.messageId !== '') {
      fields.messageId = cut(email.messageId, 'messageId', truncated);
    } else {
      unparsed.push('messageId');
    }
  }

  return {
    status: 'parsed',
    ...fields,
    ...(unparsed.length > 0 ? { unparsed } : {}),
    ...(truncated.length > 0 ? { truncated: [...new Set(truncated)] } : {}),
  };
}
