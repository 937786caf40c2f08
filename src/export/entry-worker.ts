// The thread behind entry-workers.ts: for each entry of a batch, its bytes (from the batch, or
// read from its file), their CRC-32, their SHA-256 and header fields when asked, and the data
// that goes into the zip: deflated alone at the batch's level, or as it is at level 0. The
// entries' data goes back joined into one buffer.
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { crc32, deflateRawSync } from 'node:zlib';

import {
  joinUnpooled,
  windowBitsFor,
  type AnsweredEntry,
  type BatchAnswer,
  type BatchEntry,
  type BatchRequest,
} from './entry-workers.js';
import { readRegularFile } from '../store/regular-file.js';
import { HeaderCapture, parseHeaderFields, type HeaderFields } from './message-header.js';

const port = parentPort;
if (port === null) throw new Error('entry-worker.js runs only as a worker thread');

function headerOf(data: Buffer): HeaderFields {
  const capture = new HeaderCapture();
  capture.observe(data);
  return parseHeaderFields(capture.block());
}

/**
 * The file's bytes, or why they could not be read. Only a regular file is read: one replaced by
 * a FIFO since it was listed would block the thread for ever, which no terminate can stop.
 */
function readFile(path: string): Buffer | string {
  try {
    return readRegularFile(path);
  } catch (error) {
    return (error as Error).message;
  }
}

function work(entry: BatchEntry, data: Buffer, level: number): [AnsweredEntry, Buffer] {
  const output =
    level > 0 ? deflateRawSync(data, { level, windowBits: windowBitsFor(data.length) }) : data;
  const answered: AnsweredEntry = {
    length: output.length,
    crc32: crc32(data),
    size: data.length,
    ...(entry.sha256 ? { sha256: createHash('sha256').update(data).digest('hex') } : {}),
    ...(entry.header ? { header: headerOf(data) } : {}),
  };
  return [answered, output];
}

port.on('message', (request: BatchRequest) => {
  const input = Buffer.from(request.data.buffer, request.data.byteOffset, request.data.byteLength);
  const answered: AnsweredEntry[] = [];
  const outputs: Buffer[] = [];
  let start = 0;
  let total = 0;
  for (const entry of request.entries) {
    let data: Buffer | string;
    if (entry.path === undefined) {
      data = input.subarray(start, start + entry.length);
      start += entry.length;
    } else {
      data = readFile(entry.path);
    }
    if (typeof data === 'string') {
      answered.push({ length: 0, crc32: 0, size: 0, failed: data });
      continue;
    }

    const [facts, output] = work(entry, data, request.level);
    answered.push(facts);
    outputs.push(output);
    total += output.length;
  }

  const data = joinUnpooled(outputs, total);
  const answer: BatchAnswer = { id: request.id, data, entries: answered };
  port.postMessage(answer, [data.buffer as ArrayBuffer]);
});
