/**
 * The plaintext size of a sealed object, from its stored size and its message header, without
 * reading the body: for S3 objects sealed on the client, whose plaintext size is not known when
 * the upload starts and so cannot be sent as metadata.
 *
 * This holds only for the messages `sealStream(..., { signed: false })` writes: message format
 * version 2, the committing suite without a signature (0x0478, so no footer), framed content.
 * Layout per the AWS Encryption SDK message format reference ("Message header", "Message body",
 * version 2):
 *   header  version(1) suite(2) message id(32) AAD length(2) AAD, data key count(2) and per
 *           key three length-prefixed fields, content type(1) frame length(4) suite data(32),
 *           header authentication tag(16)
 *   frame   sequence number(4) IV(12) content(frame length) tag(16)
 *   final   end marker(4) sequence number(4) IV(12) content length(4) content(0..frame) tag(16)
 */

export const UNSIGNED_COMMITTING_SUITE = 0x0478;
const FRAME_OVERHEAD = 4 + 12 + 16;
const FINAL_FRAME_OVERHEAD = 4 + 4 + 12 + 4 + 16;

/** Bytes to read from the start of an object to hold its whole header. */
export const HEADER_READ_BYTES = 16 * 1024;

/** Plaintext bytes, or undefined if the header is not one this function can count from. */
export function plaintextBytes(head: Buffer, storedBytes: number): number | undefined {
  let offset = 0;
  const need = (bytes: number) => {
    if (offset + bytes > head.length) throw new RangeError('header cut short');
    const at = offset;
    offset += bytes;
    return at;
  };

  try {
    if (head[need(1)] !== 0x02) return undefined;
    if (head.readUInt16BE(need(2)) !== UNSIGNED_COMMITTING_SUITE) return undefined;
    need(32);
    need(head.readUInt16BE(need(2)));
    const dataKeys = head.readUInt16BE(need(2));
    for (let i = 0; i < dataKeys * 3; i += 1) need(head.readUInt16BE(need(2)));
    if (head[need(1)] !== 0x02) return undefined;
    const frameLength = head.readUInt32BE(need(4));
    need(32 + 16);

    const body = storedBytes - offset - FINAL_FRAME_OVERHEAD;
    if (frameLength === 0 || body < 0) return undefined;
    const frames = Math.floor(body / (frameLength + FRAME_OVERHEAD));
    const last = body - frames * (frameLength + FRAME_OVERHEAD);
    return last <= frameLength ? frames * frameLength + last : undefined;
  } catch {
    return undefined;
  }
}
