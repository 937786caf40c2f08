import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

import { MailboxWriter } from '../src/store/index.js';
import { base64Lines, chooser, randomBytesOf, rawBytesFor, type Chooser } from './random.js';

/**
 * Mail mailboxes for the bench, written through the embedded store's own writer so that the
 * layout is the Maildir++ that Dovecot and our source read. Writes are not flushed one by
 * one (`durable: false`): the bench needs the bytes, not crash safety, and fsync per message
 * would make M1 take minutes.
 */

export interface Generated {
  readonly messages: number;
  readonly bytes: number;
  readonly folders: number;
}

/** Top folders the Enron copies go under; half of them are not ASCII. */
const M1_SETS = ['Archive 2001', 'Général', 'Входящие', '受信箱'];
const M1_COPIES = 8;

const DAY = 24 * 3600 * 1000;
const EPOCH_2001 = Date.UTC(2001, 0, 1);

function flagsOf(choose: Chooser): string[] {
  const flags: string[] = [];
  if (choose.next() < 0.8) flags.push('\\Seen');
  if (choose.next() < 0.1) flags.push('\\Flagged');
  if (choose.next() < 0.15) flags.push('\\Answered');
  return flags;
}

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** LF to CRLF, and the Message-ID made unique to the copy (one added if there was none). */
function copyOf(original: Buffer, copy: number, index: number): Buffer {
  const text = original.toString('latin1').replace(/\r?\n/g, '\r\n');
  const headerEnd = text.indexOf('\r\n\r\n');
  const header = headerEnd < 0 ? text : text.slice(0, headerEnd);
  const body = headerEnd < 0 ? '' : text.slice(headerEnd);
  const id = `<bench-m1.${copy}.${index}@mailbox-export.invalid>`;
  const replaced = header.replace(/^Message-ID:[^\r]*(\r\n[ \t][^\r]*)*/im, `Message-ID: ${id}`);
  const withId = replaced === header ? `Message-ID: ${id}\r\n${header}` : replaced;
  return Buffer.from(withId + body, 'latin1');
}

/** Runs `work` over `inputs`, `limit` at a time. */
async function eachLimit<T>(
  inputs: readonly T[],
  limit: number,
  work: (input: T) => Promise<void>,
) {
  let next = 0;
  const runners = Array.from({ length: limit }, async () => {
    while (next < inputs.length) await work(inputs[next++]!);
  });
  await Promise.all(runners);
}

/**
 * M1: the Enron messages copied `round(8 * scale)` times (at least once). Copy k goes under
 * the top folder `M1_SETS[k % 4]`, keeping each user's folder tree below it.
 */
export async function generateM1(dir: string, corpus: string, scale: number): Promise<Generated> {
  const files = await filesUnder(corpus);
  const copies = Math.max(1, Math.round(M1_COPIES * scale));
  const perCopy = scale < 1 / M1_COPIES ? Math.max(1, Math.round(files.length * scale * 8)) : 0;
  const originals = perCopy > 0 ? files.slice(0, perCopy) : files;
  const writer = await MailboxWriter.open(dir, { durable: false });
  const choose = chooser('M1');
  const folders = new Set<string>();
  let bytes = 0;

  const jobs = [];
  for (let copy = 0; copy < copies; copy++) {
    for (const [index, file] of originals.entries()) {
      const rel = relative(corpus, file).split('/').slice(0, -1);
      const path = [M1_SETS[copy % M1_SETS.length]!, ...rel];
      const date = new Date(EPOCH_2001 + choose.int(0, 364) * DAY + choose.int(0, DAY - 1));
      jobs.push({ copy, index, file, path, flags: flagsOf(choose), date });
      folders.add(path.join('/'));
    }
  }

  await eachLimit(jobs, 8, async (job) => {
    const body = copyOf(await readFile(job.file), job.copy, job.index);
    bytes += body.length;
    await writer.deliverMessage(job.path, body, { flags: job.flags, internalDate: job.date });
  });
  return { messages: jobs.length, bytes, folders: folders.size };
}

const MIB = 1024 * 1024;

/** One message of about `size` bytes: a text part and a base64 attachment of random bytes. */
async function* attachmentMessage(seed: string, size: number): AsyncGenerator<Buffer> {
  const boundary = `bench-${seed}`;
  const head = [
    `Message-ID: <${seed}@mailbox-export.invalid>`,
    'Date: Tue, 04 Mar 2025 09:30:00 +0100',
    'From: Bench Sender <sender@example.com>',
    'To: Bench Reader <reader@example.com>',
    `Subject: Attachment ${seed}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'The attached file holds random bytes.',
    `--${boundary}`,
    `Content-Type: application/octet-stream; name="${seed}.bin"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${seed}.bin"`,
    '',
    '',
  ].join('\r\n');
  const tail = `--${boundary}--\r\n`;
  yield Buffer.from(head);
  const raw = rawBytesFor(size - head.length - tail.length);
  yield* base64Lines(randomBytesOf(seed, raw));
  yield Buffer.from(tail);
}

/** M2: 300 messages of 2 to 20 MiB, spread over three folders. */
export async function generateM2(dir: string, scale: number): Promise<Generated> {
  const writer = await MailboxWriter.open(dir, { durable: false });
  const choose = chooser('M2');
  const folders = [['INBOX'], ['Pièces jointes'], ['Projects', 'Scans']];
  const count = Math.max(1, Math.round(300 * scale));
  let bytes = 0;
  for (let n = 0; n < count; n++) {
    const size = choose.int(2 * MIB, 20 * MIB);
    const folder = folders[n % folders.length]!;
    const stored = await writer.deliverMessage(folder, attachmentMessage(`m2-${n}`, size), {
      flags: ['\\Seen'],
      internalDate: new Date(Date.UTC(2025, 2, 4) + n * 60_000),
    });
    bytes += stored.size;
  }
  return { messages: count, bytes, folders: folders.length };
}

/** M3: one message of 600 MiB. */
export async function generateM3(dir: string, scale: number): Promise<Generated> {
  const writer = await MailboxWriter.open(dir, { durable: false });
  const size = Math.max(MIB, Math.round(600 * MIB * scale));
  const stored = await writer.deliverMessage(['INBOX'], attachmentMessage('m3-0', size), {
    internalDate: new Date(Date.UTC(2025, 2, 4)),
  });
  return { messages: 1, bytes: stored.size, folders: 1 };
}
