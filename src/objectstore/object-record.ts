import type { FileHandle } from 'node:fs/promises';

import { LIMITS } from '../core/limits.js';

/**
 * The embedded store's object file: a fixed-size record, then the Encryption SDK message.
 *
 *   bytes 0-7    "MBXOBJ01"
 *   bytes 8-11   length of the JSON record, unsigned big-endian
 *   bytes 12-    the JSON record, zero-padded to `LIMITS.objectRecordBytes`
 *   then         the sealed message, as `encryptStream` wrote it
 *
 * The record is written last, into the space kept for it, and the file is renamed into place
 * after that: one file and one rename, so a reader never sees an object without its record.
 * Nothing in it is secret; the plaintext size is also what S3 reveals as ContentLength.
 */

export const RECORD_BYTES = LIMITS.objectRecordBytes;
const MAGIC = Buffer.from('MBXOBJ01', 'latin1');
const PREFIX_BYTES = MAGIC.length + 4;
const CONTENT_TYPE_CHARS = 256;

export interface ObjectRecord {
  readonly version: 1;
  /** Plaintext bytes, as the caller sent them. */
  readonly bytes: number;
  readonly kmsKeyArn: string;
  readonly contentType?: string;
  readonly createdAt: string;
}

export function encodeRecord(record: ObjectRecord): Buffer {
  const trimmed =
    record.contentType === undefined
      ? record
      : { ...record, contentType: record.contentType.slice(0, CONTENT_TYPE_CHARS) };
  const json = Buffer.from(JSON.stringify(trimmed), 'utf8');
  if (PREFIX_BYTES + json.length > RECORD_BYTES) {
    throw new RangeError(`The object record needs ${json.length} bytes, more than it may hold.`);
  }

  const block = Buffer.alloc(RECORD_BYTES);
  MAGIC.copy(block, 0);
  block.writeUInt32BE(json.length, MAGIC.length);
  json.copy(block, PREFIX_BYTES);
  return block;
}

/** The record at the head of an open object file, or why it cannot be read. */
export async function readRecord(handle: FileHandle): Promise<ObjectRecord | string> {
  const block = Buffer.alloc(RECORD_BYTES);
  const { bytesRead } = await handle.read(block, 0, RECORD_BYTES, 0);
  if (bytesRead < PREFIX_BYTES || !block.subarray(0, MAGIC.length).equals(MAGIC)) {
    return 'it does not start with an object record';
  }

  const length = block.readUInt32BE(MAGIC.length);
  if (PREFIX_BYTES + length > bytesRead) return 'its object record is cut short';

  let record: ObjectRecord;
  try {
    record = JSON.parse(block.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + length));
  } catch {
    return 'its object record is not JSON';
  }

  if (record.version !== 1 || !Number.isSafeInteger(record.bytes) || record.bytes < 0) {
    return 'its object record is not of version 1';
  }

  if (typeof record.kmsKeyArn !== 'string') return 'its object record names no key';
  return record;
}
