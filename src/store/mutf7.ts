/**
 * IMAP modified UTF-7 (RFC 3501 section 5.1.3), the encoding Dovecot uses for folder names on
 * disk by default. Printable US-ASCII stands for itself, `&` is written `&-`, and every other
 * run of characters is UTF-16BE in base64 with `,` for `/`, no padding, between `&` and `-`.
 */

const BASE64_CHARS = /^[A-Za-z0-9+,]*$/;

function needsShift(code: number, extra: ReadonlySet<number>): boolean {
  return code < 0x20 || code > 0x7e || extra.has(code);
}

function encodeRun(run: string): string {
  const bytes = Buffer.alloc(run.length * 2);
  for (let i = 0; i < run.length; i += 1) bytes.writeUInt16BE(run.charCodeAt(i), i * 2);
  return '&' + bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
}

/**
 * Encodes one folder name. `alsoShift` lists characters that would otherwise stand for
 * themselves but must not appear literally (the hierarchy separator `.` and `/` in a Maildir++
 * directory name); they are written in base64, so decoding gives them back.
 */
export function encodeModifiedUtf7(name: string, alsoShift = ''): string {
  const extra = new Set([...alsoShift].map((c) => c.charCodeAt(0)));
  let out = '';
  let run = '';
  for (let i = 0; i < name.length; i += 1) {
    const code = name.charCodeAt(i);
    if (needsShift(code, extra)) {
      run += name[i];
      continue;
    }

    if (run) out += encodeRun(run);
    run = '';
    out += code === 0x26 ? '&-' : name[i];
  }
  if (run) out += encodeRun(run);
  return out;
}

/**
 * Decodes one folder name, or returns undefined when the text is not valid modified UTF-7
 * (an 8-bit byte, an unterminated or malformed shift, leftover bits), so that the caller can
 * fall back to the name as it is.
 */
export function decodeModifiedUtf7(text: string): string | undefined {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) return undefined;
    if (code !== 0x26) {
      out += text[i];
      i += 1;
      continue;
    }

    const end = text.indexOf('-', i + 1);
    if (end < 0) return undefined;
    const b64 = text.slice(i + 1, end);
    i = end + 1;
    if (b64 === '') {
      out += '&';
      continue;
    }

    const decoded = decodeShift(b64);
    if (decoded === undefined) return undefined;
    out += decoded;
  }
  return out;
}

function decodeShift(b64: string): string | undefined {
  if (!BASE64_CHARS.test(b64) || b64.length % 4 === 1) return undefined;
  const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
  if (bytes.length === 0 || bytes.length % 2 !== 0) return undefined;

  // The bits past the last whole UTF-16 unit must be zero (RFC 3501 5.1.3 forbids others).
  if (Buffer.from(bytes).toString('base64').replace(/=+$/, '') !== b64.replace(/,/g, '/')) {
    return undefined;
  }

  let out = '';
  for (let j = 0; j < bytes.length; j += 2) out += String.fromCharCode(bytes.readUInt16BE(j));
  return out;
}
