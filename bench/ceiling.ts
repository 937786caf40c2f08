// What two threads of Node can do at best on a mailbox of small messages: the work an export
// cannot skip for each message, and nothing else. It is no export (no cut, no folder layout,
// no manifest, no envelope format), only a bound: an export of ours cannot be faster than
// this on the same machine. Runs as a process of its own; prints one JSON line.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { crc32, deflateRawSync } from 'node:zlib';

import { HeaderCapture, parseHeaderFields } from '../src/export/message-header.js';

/**
 * `deflate`: read, deflate 6 and CRC-32 only; `sha256`: and each message's SHA-256 too;
 * `fields`: and the header fields the manifest shows.
 */
export type CeilingWork = 'deflate' | 'sha256' | 'fields';

export interface CeilingJob {
  readonly maildir: string;
  readonly work: CeilingWork;
  readonly out: string;
}

export interface CeilingResult {
  readonly messages: number;
  readonly zipBytes: number;
}

const BATCH = 64;
const THREADS = 2;

interface Answer {
  readonly id: number;
  readonly data: Uint8Array;
  readonly entries: readonly { crc: number; size: number; length: number; facts?: string }[];
}

/** Every file under a cur/ or new/ folder below `root`. */
function messageFiles(root: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /(^|\/)(cur|new)$/.test(entry.parentPath)) {
      files.push(join(entry.parentPath, entry.name));
    }
  }
  return files;
}

function answer(id: number, files: readonly string[], work: CeilingWork): Answer {
  const entries: Answer['entries'][number][] = [];
  const outputs: Buffer[] = [];
  let total = 0;
  for (const file of files) {
    const data = readFileSync(file);
    const output = deflateRawSync(data, { level: 6 });
    const facts: Record<string, unknown> = {};
    if (work !== 'deflate') facts['sha256'] = createHash('sha256').update(data).digest('hex');
    if (work === 'fields') {
      const capture = new HeaderCapture();
      capture.observe(data);
      facts['header'] = parseHeaderFields(capture.block());
    }
    const entry = { crc: crc32(data), size: data.length, length: output.length };
    entries.push(work === 'deflate' ? entry : { ...entry, facts: JSON.stringify(facts) });
    outputs.push(output);
    total += output.length;
  }
  const data = new Uint8Array(total);
  let offset = 0;
  for (const output of outputs) {
    data.set(output, offset);
    offset += output.length;
  }
  return { id, data, entries };
}

/** The zip's records, reduced to their size and the fields that change per entry. */
function localHeader(name: Buffer, crc: number, size: number, length: number): Buffer {
  const header = Buffer.alloc(30 + name.length);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(8, 8);
  header.writeUInt32LE(crc, 14);
  header.writeUInt32LE(length, 18);
  header.writeUInt32LE(size, 22);
  header.writeUInt16LE(name.length, 26);
  name.copy(header, 30);
  return header;
}

async function runMain(job: CeilingJob): Promise<CeilingResult> {
  const files = messageFiles(job.maildir);
  const batches: string[][] = [];
  for (let start = 0; start < files.length; start += BATCH) {
    batches.push(files.slice(start, start + BATCH));
  }

  const out = openSync(job.out, 'w');
  const cipher = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
  const hash = createHash('sha384');
  const central: Buffer[] = [];
  const manifest: string[] = [];
  let offset = 0;
  const write = (data: Buffer): void => {
    hash.update(data);
    writeSync(out, cipher.update(data));
  };

  const take = (reply: Answer): void => {
    const parts: Buffer[] = [];
    let start = 0;
    reply.entries.forEach((entry, index) => {
      const name = Buffer.from(`${String(reply.id * BATCH + index).padStart(8, '0')}.eml`);
      const header = localHeader(name, entry.crc, entry.size, entry.length);
      const record = Buffer.alloc(46 + name.length);
      record.writeUInt32LE(0x02014b50, 0);
      record.writeUInt32LE(offset, 42);
      name.copy(record, 46);
      central.push(record);
      parts.push(
        header,
        Buffer.from(reply.data.buffer, reply.data.byteOffset + start, entry.length),
      );
      start += entry.length;
      offset += header.length + entry.length;
      manifest.push(`{"zipPath":"${name.toString()}","size":${entry.size},"facts":${entry.facts}}`);
    });
    write(Buffer.concat(parts));
  };

  await new Promise<void>((resolve, reject) => {
    const answers = new Map<number, Answer>();
    let next = 0;
    let sent = 0;
    const send = (worker: Worker): void => {
      if (sent < batches.length) worker.postMessage({ id: sent, files: batches[sent++] });
    };
    for (let index = 0; index < THREADS; index++) {
      const worker = new Worker(new URL(import.meta.url), { workerData: job.work });
      worker.on('error', reject);
      worker.on('message', (reply: Answer) => {
        answers.set(reply.id, reply);
        for (let ready = answers.get(next); ready; ready = answers.get(next)) {
          answers.delete(next++);
          take(ready);
        }
        if (next === batches.length) resolve();
        else send(worker);
      });
      // Two batches in flight each, so that no thread waits for the main thread.
      send(worker);
      send(worker);
    }
  });

  write(Buffer.from(manifest.join('\n')));
  write(Buffer.concat(central));
  writeSync(out, cipher.final());
  fsyncSync(out);
  closeSync(out);
  hash.digest();
  return { messages: files.length, zipBytes: offset };
}

if (isMainThread) {
  const job = JSON.parse(process.argv[2] ?? '') as CeilingJob;
  const result = await runMain(job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} else {
  const work = workerData as CeilingWork;
  parentPort!.on('message', ({ id, files }: { id: number; files: string[] }) => {
    const reply = answer(id, files, work);
    parentPort!.postMessage(reply, [reply.data.buffer as ArrayBuffer]);
  });
}
