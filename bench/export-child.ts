// One export in a process of its own, so that the parent can measure its peak resident set.
// Reads a JSON job from argv[2], runs the export, prints one JSON line of results.
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';

import type { Compression } from '../src/core/export.js';
import type {
  ObjectInfo,
  ObjectStore,
  PutObjectRequest,
  PutObjectResult,
} from '../src/core/object-store.js';
import type { MailboxSource } from '../src/core/source.js';
import { runExport } from '../src/export/pipeline.js';
import { LocalKeyService } from '../src/keys/local-keys.js';
import { FsObjectStore } from '../src/objectstore/fs-store.js';
import { openMailboxDir } from '../src/store/index.js';

export type ChildSource =
  | { readonly kind: 'dir'; readonly dir: string }
  | {
      readonly kind: 'imap';
      readonly host: string;
      readonly port: number;
      readonly user: string;
      readonly admin: string;
      readonly password: string;
    };

export interface ChildJob {
  readonly source: ChildSource;
  /** `store`: the embedded object store, encrypted; `file`: the zip written to a plain file. */
  readonly sink: 'store' | 'file';
  readonly compression: Compression;
  readonly outDir: string;
}

export interface ChildResult {
  readonly exportSeconds: number;
  readonly zipBytes: number;
  readonly items: number;
  readonly sha384: string;
  readonly maxRssBytes: number;
}

/** The zip as a plain file: what the pipeline costs without encryption. */
class FileSink implements ObjectStore {
  constructor(private readonly root: string) {}

  async checkBucket(): Promise<void> {}

  async put(request: PutObjectRequest): Promise<PutObjectResult> {
    const file = join(this.root, request.bucket, request.key);
    await mkdir(dirname(file), { recursive: true });
    let bytes = 0;
    request.body.on('data', (chunk: Buffer) => (bytes += chunk.length));
    const options = request.signal ? { signal: request.signal } : {};
    await pipeline(request.body, createWriteStream(file), options);
    return { bytes };
  }

  get(): never {
    throw new Error('the bench file sink is write-only');
  }

  async head(): Promise<ObjectInfo | undefined> {
    return undefined;
  }

  async list(): Promise<string[]> {
    return [];
  }

  async delete(bucket: string, key: string): Promise<void> {
    await rm(join(this.root, bucket, key), { force: true });
  }
}

async function openSource(source: ChildSource): Promise<MailboxSource> {
  if (source.kind === 'dir') return openMailboxDir(source.dir);
  // Loaded only for an IMAP source, as a user's export loads it: imapflow takes 85 ms to load.
  const { openImapMailbox } = await import('../src/sources/imap.js');
  return openImapMailbox({
    host: source.host,
    port: source.port,
    secure: false,
    starttls: false,
    user: source.user,
    auth: { kind: 'master', admin: source.admin, password: source.password, separator: '*' },
  });
}

async function sinkOf(job: ChildJob): Promise<{ store: ObjectStore; arn: string }> {
  if (job.sink === 'file') return { store: new FileSink(job.outDir), arn: 'none' };
  const keys = new LocalKeyService(join(job.outDir, 'keys'));
  const key = await keys.createKey({ region: 'us-east-1', accountId: '111122223333' });
  const store = new FsObjectStore(join(job.outDir, 'buckets'), keys);
  await store.createBucket('bench', { region: 'us-east-1' });
  return { store, arn: key.arn };
}

const job = JSON.parse(process.argv[2] ?? '') as ChildJob;
const { store, arn } = await sinkOf(job);
const started = process.hrtime.bigint();
const source = await openSource(job.source);
try {
  const result = await runExport({
    jobId: 'bench',
    source,
    objectStore: store,
    bucket: 'bench',
    zipKey: 'exports/bench/mailbox.zip',
    logKey: 'exports/bench/mailbox.json',
    kmsKeyArn: arn,
    signal: new AbortController().signal,
    startTime: new Date(),
    compression: job.compression,
  });
  const out: ChildResult = {
    exportSeconds: Number(process.hrtime.bigint() - started) / 1e9,
    zipBytes: result.zipBytes,
    items: result.itemsExported,
    sha384: result.log.sha384Hash,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await source.close();
}
