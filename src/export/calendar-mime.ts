import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { CalendarFields, CalendarTime } from './calendar-fields.js';
import { LONE_SURROGATE } from './safe-names.js';

/**
 * One calendar item written as one MIME message (RFC 5322, RFC 2045), so that the zip holds
 * mail clients can open. The body is the item's bytes, its overrides and time zones
 * included, as a `text/calendar` part (RFC 5545 §8.1); they survive exactly:
 *
 * - `8bit` when the bytes are UTF-8 without NUL, their lines at most 998 octets (RFC 2045
 *   §2.8) and all ending the same way; the header then ends its lines the same way too, so
 *   a calendar stored with bare LF gives an .eml with bare LF, as Maildir stores mail.
 * - `base64` otherwise (76-character lines, RFC 2045 §6.8), and for items larger than
 *   LIMITS.calendarItemBytesInMemory, which are streamed and whose fields are not read.
 *
 * Every header is derived from the item alone, in a fixed order, so the same item always
 * gives the same message:
 *
 *   MIME-Version: 1.0
 *   Date: DTSTAMP (UTC, `+0000`), else DTSTART as written (`-0000`: no zone known,
 *         RFC 5322 §3.3), else the item's internal date; left out when none is known
 *   Subject: SUMMARY, RFC 2047 encoded-words when not plain ASCII; left out when none
 *   Message-ID: <hash of the UID@calendar.mailbox-export.invalid>; of the bytes without UID
 *   Content-Type: text/calendar; charset=UTF-8; method=<METHOD>; component=<VEVENT...>
 *   Content-Transfer-Encoding: 8bit | base64
 *
 * `charset` is given only for UTF-8 bytes, `method` only when the item has one.
 */

export type TransferEncoding = '8bit' | 'base64';

export interface BodyForm {
  readonly encoding: TransferEncoding;
  readonly lineBreak: '\r\n' | '\n';
  readonly utf8: boolean;
}

const MAX_LINE_OCTETS = 998;

/** How a body held in memory is written. */
export function chooseBodyForm(ics: Buffer): BodyForm {
  const utf8 = isUtf8(ics);
  const base64: BodyForm = { encoding: 'base64', lineBreak: '\r\n', utf8 };
  if (!utf8 || ics.includes(0)) return base64;

  let crlf = 0;
  let lf = 0;
  let lineStart = 0;
  for (let i = ics.indexOf(0x0a); i !== -1; i = ics.indexOf(0x0a, i + 1)) {
    const withCr = i > 0 && ics[i - 1] === 0x0d;
    if (withCr) crlf++;
    else lf++;
    if (i - lineStart - (withCr ? 1 : 0) > MAX_LINE_OCTETS) return base64;
    lineStart = i + 1;
  }
  if (ics.length - lineStart > MAX_LINE_OCTETS) return base64;
  if (crlf > 0 && lf > 0) return base64;

  const lineBreak = lf > 0 ? '\n' : '\r\n';
  let carriageReturns = 0;
  for (let i = ics.indexOf(0x0d); i !== -1; i = ics.indexOf(0x0d, i + 1)) carriageReturns++;
  if (carriageReturns !== crlf) return base64;
  return { encoding: '8bit', lineBreak, utf8 };
}

/** The form of a body too large to read whole before it is written. */
export const STREAMED_FORM: BodyForm = { encoding: 'base64', lineBreak: '\r\n', utf8: false };

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const two = (n: number): string => String(n).padStart(2, '0');

/** RFC 5322 §3.3 date-time from the time's own fields, whatever the local time zone. */
export function formatMailDate(time: CalendarTime): string | undefined {
  const instant = new Date(
    Date.UTC(time.year, time.month - 1, time.day, time.hour, time.minute, time.second),
  );
  const valid =
    time.year >= 1900 &&
    time.year <= 9999 &&
    instant.getUTCMonth() === time.month - 1 &&
    instant.getUTCDate() === time.day &&
    instant.getUTCHours() === time.hour;
  if (!valid) return undefined;

  const zone = time.utc ? '+0000' : '-0000';
  const clock = `${two(time.hour)}:${two(time.minute)}:${two(time.second)}`;
  const day = DAYS[instant.getUTCDay()] as string;
  const month = MONTHS[time.month - 1] as string;
  return `${day}, ${two(time.day)} ${month} ${time.year} ${clock} ${zone}`;
}

function timeOfDate(date: Date): CalendarTime {
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    second: date.getUTCSeconds(),
    utc: true,
    dateOnly: false,
  };
}

/**
 * Bytes of UTF-8 per encoded-word: 39 bytes give 52 base64 characters, a 64-character word,
 * and with `Subject: ` in front a first line of 73: RFC 2047 §2 caps such lines at 76.
 */
const ENCODED_WORD_BYTES = 39;

/** Printable ASCII that a reader's unfolding and trimming leaves as it is. */
const PLAIN_SUBJECT = /^(?:[\x21-\x7e]+(?: [\x21-\x7e]+)*)?$/;

/**
 * The Subject field: as it is when it is printable ASCII without leading, trailing or double
 * spaces that fits one line and holds no `=?`, else RFC 2047 `B` encoded-words, one per
 * folded line, each holding whole code points (RFC 2047 §5).
 */
export function subjectField(subject: string, lineBreak: string): string {
  const name = 'Subject: ';
  if (
    PLAIN_SUBJECT.test(subject) &&
    !subject.includes('=?') &&
    name.length + subject.length <= 78
  ) {
    return `${name}${subject}`;
  }

  const words: string[] = [];
  let part = '';
  for (const codePoint of subject.replace(LONE_SURROGATE, '\ufffd')) {
    if (Buffer.byteLength(part + codePoint) > ENCODED_WORD_BYTES) {
      words.push(part);
      part = '';
    }
    part += codePoint;
  }
  words.push(part);
  const encoded = words.map((word) => `=?UTF-8?B?${Buffer.from(word).toString('base64')}?=`);
  return `${name}${encoded.join(`${lineBreak} `)}`;
}

const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

export interface HeaderInput {
  readonly fields: CalendarFields;
  readonly form: BodyForm;
  /** What the Message-ID is derived from when the item has no UID. */
  readonly identity: string | Buffer;
  readonly internalDate?: Date;
}

export function calendarHeader(input: HeaderInput): Buffer {
  const { fields, form } = input;
  const lines = ['MIME-Version: 1.0'];

  const date =
    (fields.dtstamp && formatMailDate(fields.dtstamp)) ??
    (fields.dtstart && formatMailDate(fields.dtstart)) ??
    (input.internalDate && formatMailDate(timeOfDate(input.internalDate)));
  if (date !== undefined) lines.push(`Date: ${date}`);
  if (fields.summary !== undefined) lines.push(subjectField(fields.summary, form.lineBreak));

  const seed =
    fields.uid !== undefined
      ? `uid:${fields.uid}`
      : Buffer.concat([Buffer.from('bytes:'), Buffer.from(input.identity)]);
  const id = createHash('sha256').update(seed).digest('hex').slice(0, 40);
  lines.push(`Message-ID: <${id}@calendar.mailbox-export.invalid>`);

  const parameters = ['text/calendar'];
  if (form.utf8) parameters.push('charset=UTF-8');
  if (fields.method !== undefined && TOKEN.test(fields.method)) {
    parameters.push(`method=${fields.method.toUpperCase()}`);
  }
  const component = fields.component !== undefined && TOKEN.test(fields.component);
  parameters.push(`component=${component ? fields.component : 'VEVENT'}`);
  lines.push(`Content-Type: ${parameters.join('; ')}`);
  lines.push(`Content-Transfer-Encoding: ${form.encoding}`);

  return Buffer.from(`${lines.join(form.lineBreak)}${form.lineBreak}${form.lineBreak}`);
}

const BASE64_LINE_INPUT = 57;

/**
 * Base64 in lines of 76 characters, as RFC 2045 §6.8 asks. Fed chunk by chunk, it holds back
 * at most one line's worth of input between calls.
 */
export class Base64Lines {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer {
    const input = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const whole = input.length - (input.length % BASE64_LINE_INPUT);
    this.pending = Buffer.from(input.subarray(whole));
    return this.encode(input.subarray(0, whole));
  }

  end(): Buffer {
    const rest = this.encode(this.pending);
    this.pending = Buffer.alloc(0);
    return rest;
  }

  private encode(input: Buffer): Buffer {
    const lines: string[] = [];
    for (let at = 0; at < input.length; at += BASE64_LINE_INPUT) {
      lines.push(input.subarray(at, at + BASE64_LINE_INPUT).toString('base64'), '\r\n');
    }
    return Buffer.from(lines.join(''));
  }
}
