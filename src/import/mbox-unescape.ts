import { LIMITS } from '../core/limits.js';

/**
 * How `From ` at the start of a body line was escaped. mboxo writes `>From ` for `From ` and
 * cannot tell it from a real `>From `; mboxrd also adds a `>` to every `>+From `, so reading
 * removes exactly one. See RFC 4155 and the mbox(5) manual.
 */
export type MboxFormat = 'mboxo' | 'mboxrd';

/** mboxrd is the default: it reads mboxo files the same except for `>>From ` lines. */
export const DEFAULT_MBOX_FORMAT: MboxFormat = 'mboxrd';

const FROM = Buffer.from('From ');
const QUOTE = 0x3e;

/**
 * Removes the escaping `>` from `>From ` lines (mboxo) or `>+From ` lines (mboxrd) of a
 * message read in chunks. Only the start of a line that could still become such a line is
 * held back between chunks.
 */
export async function* unescapeFromLines(
  source: AsyncIterable<Uint8Array>,
  format: MboxFormat,
): AsyncGenerator<Buffer> {
  let carry: Buffer | undefined;
  let atLineStart = true;

  for await (const chunk of source) {
    const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : Buffer.from(chunk);
    carry = undefined;
    const out: Buffer[] = [];
    let segment = 0;
    let pos = 0;

    while (pos < buf.length) {
      if (atLineStart) {
        let k = pos;
        while (k < buf.length && buf[k] === QUOTE && k - pos <= LIMITS.mboxQuoteRun) k += 1;
        const run = k - pos;
        if (run > 0 && run <= LIMITS.mboxQuoteRun && k + FROM.length > buf.length) {
          // Too few bytes to decide: keep this line start for the next chunk.
          if (pos > segment) out.push(buf.subarray(segment, pos));
          carry = Buffer.from(buf.subarray(pos));
          segment = buf.length;
          break;
        }
        const escaped =
          run > 0 && run <= LIMITS.mboxQuoteRun && buf.subarray(k, k + FROM.length).equals(FROM);
        if (escaped && (format === 'mboxrd' || run === 1)) {
          if (pos > segment) out.push(buf.subarray(segment, pos));
          segment = pos + 1;
        }
        atLineStart = false;
      }

      const newline = buf.indexOf(10, pos);
      if (newline < 0) pos = buf.length;
      else {
        pos = newline + 1;
        atLineStart = true;
      }
    }

    if (segment < buf.length) out.push(buf.subarray(segment));
    for (const piece of out) yield piece;
  }

  if (carry) yield carry;
}
