import { createCipheriv, createHash } from 'node:crypto';

/**
 * Seeded randomness for the generated mailboxes, so that the same seed gives the same bytes
 * on every machine: a small 32-bit generator for choices (sizes, flags, dates) and an
 * AES-128-CTR keystream for attachment bytes, which runs at several hundred MB/s where
 * `randomBytes` would neither be seeded nor as fast.
 */

export type Chooser = {
  /** A float in [0, 1). */
  next(): number;
  /** A whole number in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(values: readonly T[]): T;
};

/** mulberry32: tiny, fast, and good enough to spread sizes and flags. */
export function chooser(seed: string): Chooser {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (values) => values[Math.floor(next() * values.length)]!,
  };
}

/** Bytes that look random and cannot be compressed, `size` of them, in chunks of `chunk`. */
export async function* randomBytesOf(
  seed: string,
  size: number,
  chunk = 1024 * 1024,
): AsyncGenerator<Buffer> {
  const material = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-128-ctr', material.subarray(0, 16), material.subarray(16));
  const zeros = Buffer.alloc(chunk);
  for (let done = 0; done < size; done += chunk) {
    const length = Math.min(chunk, size - done);
    yield cipher.update(length === chunk ? zeros : zeros.subarray(0, length));
  }
}

/**
 * Base64 lines of 76 characters ended by CRLF (RFC 2045 6.8), from a stream of raw bytes. A
 * raw chunk is cut at a multiple of 57 bytes (one line) and the rest carried to the next.
 */
export async function* base64Lines(raw: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let carry = Buffer.alloc(0);
  for await (const chunk of raw) {
    const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    const whole = data.length - (data.length % 57);
    carry = Buffer.from(data.subarray(whole));
    if (whole > 0) yield linesOf(data.subarray(0, whole));
  }
  if (carry.length > 0) yield linesOf(carry);
}

function linesOf(raw: Buffer): Buffer {
  const text = raw.toString('base64');
  const lines = Math.ceil(text.length / 76);
  const out = Buffer.allocUnsafe(text.length + lines * 2);
  let at = 0;
  for (let i = 0; i < text.length; i += 76) {
    at += out.write(text.slice(i, i + 76), at, 'latin1');
    out[at++] = 13;
    out[at++] = 10;
  }
  return out;
}

/** Raw bytes that make `encoded` bytes of base64 lines (76 characters and CRLF per line). */
export function rawBytesFor(encoded: number): number {
  return Math.max(57, Math.floor(encoded / 78) * 57);
}
