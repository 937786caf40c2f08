import type { KeyringNode } from '@aws-crypto/client-node';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { addAbortSignal, Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { ExportError } from '../core/errors.js';
import type { KeyService } from '../core/key-service.js';
import {
  BucketError,
  ObjectError,
  type BucketCheck,
  type BucketCheckResult,
  type ObjectInfo,
  type ObjectStore,
  type PutObjectRequest,
  type PutObjectResult,
} from '../core/object-store.js';
import { syncFolder, writeFileAtomic } from '../keys/atomic-file.js';
import { openStreams, sealStream } from './envelope.js';
import { checkBucketName, keySegments, RESERVED_PREFIX } from './names.js';
import { encodeRecord, readRecord, RECORD_BYTES } from './object-record.js';

const BUCKET_RECORD = `${RESERVED_PREFIX}-bucket.json`;
const TEMP_PREFIX = `${RESERVED_PREFIX}-tmp-`;

// A temporary file is named after the process writing it (host, pid, and a token of this run
// of the process, since a restarted container's process often gets the same pid again), so
// that `removeLeftovers` can tell the files of a process that died from those still written.
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
const RUN_TOKEN = randomBytes(4).toString('hex');
const TEMP_NAME = /^\.mailbox-export-tmp-([0-9a-f]{8})-(\d+)-([0-9a-f]{8})-[0-9a-f]{16}$/;

export interface FsBucket {
  readonly name: string;
  readonly region: string;
  readonly createdAt: Date;
}

interface BucketRecord {
  readonly version: 1;
  readonly name: string;
  readonly region: string;
  readonly createdAt: string;
}

/**
 * The embedded object store: a folder per bucket under `root`, an object per file, each sealed
 * with envelope encryption under its key (see `envelope.ts`) and preceded by a small record
 * (see `object-record.ts`). A put writes a temporary file in the bucket folder, flushes it and
 * renames it into place, so an object is whole or absent; a process killed meanwhile leaves
 * the temporary file, which `removeLeftovers` takes away at the next start. Buckets here are
 * never public: nothing serves the folder.
 */
export class FsObjectStore implements ObjectStore {
  readonly root: string;
  private readonly keyService: KeyService;

  constructor(root: string, keyService: KeyService) {
    this.root = root;
    this.keyService = keyService;
  }

  async createBucket(name: string, options: { readonly region: string }): Promise<FsBucket> {
    checkBucketName(name);
    const existing = await this.readBucket(name);
    if (existing) {
      if (existing.region === options.region) return existing;
      throw new BucketError(
        'wrong-region',
        name,
        `The bucket ${name} already exists in region ${existing.region}, not ${options.region}.`,
      );
    }

    await mkdir(this.bucketDir(name), { recursive: true, mode: 0o700 });
    const record: BucketRecord = {
      version: 1,
      name,
      region: options.region,
      createdAt: new Date().toISOString(),
    };
    await writeFileAtomic(join(this.bucketDir(name), BUCKET_RECORD), jsonBytes(record));
    return { name, region: options.region, createdAt: new Date(record.createdAt) };
  }

  async listBuckets(): Promise<FsBucket[]> {
    const names = await readdir(this.root).catch(ignoreMissing([] as string[]));
    const buckets: FsBucket[] = [];
    for (const name of names.sort()) {
      const bucket = await this.readBucket(name).catch(() => undefined);
      if (bucket) buckets.push(bucket);
    }

    return buckets;
  }

  async checkBucket(check: BucketCheck, signal?: AbortSignal): Promise<BucketCheckResult> {
    signal?.throwIfAborted();
    const bucket = await this.requireBucket(check.bucket);
    if (bucket.region !== check.region) {
      throw new BucketError(
        'wrong-region',
        check.bucket,
        `The bucket ${check.bucket} is in region ${bucket.region}, but the organization is in ` +
          `${check.region}: use a bucket of region ${check.region}.`,
      );
    }

    return { warnings: [] };
  }

  async put(request: PutObjectRequest): Promise<PutObjectResult> {
    const { bucket, key, signal } = request;

    // The body may fail while the checks below wait; the pipeline reports that error later.
    request.body.once('error', () => undefined);
    let keyring;
    try {
      keyring = await this.prepare(request);
    } catch (error) {
      request.body.destroy();
      throw putError(error, request);
    }

    const folder = this.bucketDir(bucket);
    const writer = `${HOST_TAG}-${process.pid}-${RUN_TOKEN}`;
    const temp = join(folder, `${TEMP_PREFIX}${writer}-${randomBytes(8).toString('hex')}`);
    const handle = await open(temp, 'wx', 0o600);
    let bytes = 0;
    try {
      const count = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length;
          callback(null, chunk);
        },
      });
      // Unsigned, as S3 with SSE-KMS stores objects: a signature would only tell the writer
      // from readers who hold the same key, and hashing the sealed bytes once more cost a
      // fifth of an export stored uncompressed. Objects sealed signed still read.
      await pipeline(
        request.body,
        count,
        sealStream(keyring, { bucket, key }, { signed: false }),
        fileWriter(handle, RECORD_BYTES),
        ...(signal ? [{ signal }] : []),
      );

      const record = encodeRecord({
        version: 1,
        bytes,
        kmsKeyArn: request.kmsKeyArn,
        ...(request.contentType === undefined ? {} : { contentType: request.contentType }),
        createdAt: new Date().toISOString(),
      });
      await writeAll(handle, record, 0);
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw putError(error, request);
    }

    await handle.close();
    const target = join(folder, ...keySegments(bucket, key));
    try {
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await rename(temp, target);
      await syncFolder(dirname(target));
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw putError(error, request);
    }

    return { bytes };
  }

  /**
   * Removes the temporary files that processes of this host left when they died in the middle
   * of a put (a SIGKILL, a crash, a power cut): nothing else ever removes them. Files of a live
   * process, of another host sharing the folder, or not named by this store are kept. Gives
   * the paths removed.
   */
  async removeLeftovers(): Promise<string[]> {
    const removed: string[] = [];
    const buckets = await readdir(this.root, { withFileTypes: true }).catch(ignoreMissing([]));
    for (const bucket of buckets) {
      if (!bucket.isDirectory()) continue;
      const folder = join(this.root, bucket.name);
      const names = await readdir(folder).catch(ignoreMissing([] as string[]));
      for (const name of names) {
        const writer = TEMP_NAME.exec(name);
        if (writer === null || !writerGone(writer[1]!, Number(writer[2]), writer[3]!)) continue;
        await unlink(join(folder, name)).catch(ignoreMissing(undefined));
        removed.push(join(folder, name));
      }
    }
    return removed;
  }

  private async prepare(request: PutObjectRequest): Promise<KeyringNode> {
    keySegments(request.bucket, request.key);
    await this.requireBucket(request.bucket);
    const keyring = await this.keyService.keyring(request.kmsKeyArn);
    request.signal?.throwIfAborted();
    return keyring;
  }

  async get(bucket: string, key: string, signal?: AbortSignal): Promise<Readable> {
    const { handle, record } = await this.openObject(bucket, key);
    let keyring;
    try {
      keyring = await this.keyService.keyring(record.kmsKeyArn);
    } catch (error) {
      await handle.close();
      throw error;
    }

    const source = createReadStream('', { fd: handle, start: RECORD_BYTES });
    const [decrypt, gate] = openStreams(keyring, { bucket, key }, record.kmsKeyArn);

    // Errors reach the reader through the gate, already turned into ObjectErrors there.
    pipeline(source, decrypt, gate).catch(() => undefined);
    return signal ? addAbortSignal(signal, gate) : gate;
  }

  async head(bucket: string, key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    signal?.throwIfAborted();
    try {
      const { handle, record } = await this.openObject(bucket, key);
      await handle.close();
      return { bytes: record.bytes, kmsKeyArn: record.kmsKeyArn };
    } catch (error) {
      if (error instanceof ObjectError && error.reason === 'not-found') return undefined;
      throw error;
    }
  }

  async delete(bucket: string, key: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const segments = keySegments(bucket, key);
    await this.requireBucket(bucket);
    const path = join(this.bucketDir(bucket), ...segments);
    try {
      await unlink(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new ObjectError(
        'write-failed',
        { bucket, key },
        `Could not delete ${key} from the bucket ${bucket}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    await syncFolder(dirname(path));
  }

  async list(bucket: string, prefix: string, signal?: AbortSignal): Promise<string[]> {
    await this.requireBucket(bucket);
    const keys: string[] = [];
    await this.walk(this.bucketDir(bucket), '', prefix, keys, signal);
    return keys.sort();
  }

  private async walk(
    folder: string,
    path: string,
    prefix: string,
    keys: string[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    signal?.throwIfAborted();
    const entries = await readdir(folder, { withFileTypes: true }).catch(ignoreMissing([]));
    for (const entry of entries) {
      if (path === '' && entry.name.startsWith(RESERVED_PREFIX)) continue;
      const key = `${path}${entry.name}`;
      if (entry.isDirectory()) {
        const sub = `${key}/`;
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) {
          await this.walk(join(folder, entry.name), sub, prefix, keys, signal);
        }
      } else if (entry.isFile() && key.startsWith(prefix)) {
        keys.push(key);
      }
    }
  }

  private async openObject(bucket: string, key: string) {
    const segments = keySegments(bucket, key);
    await this.requireBucket(bucket);
    let handle: FileHandle;
    try {
      handle = await open(join(this.bucketDir(bucket), ...segments), 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
        throw new ObjectError(
          'not-found',
          { bucket, key },
          `No object ${key} in bucket ${bucket}.`,
        );
      }

      throw error;
    }

    const record = await readRecord(handle).catch((error: Error) => error.message);
    if (typeof record === 'string') {
      await handle.close();
      throw new ObjectError(
        'undecryptable',
        { bucket, key },
        `The file of object ${key} in bucket ${bucket} is not an object of this store: ${record}.`,
      );
    }

    return { handle, record };
  }

  private bucketDir(name: string): string {
    return join(this.root, name);
  }

  private async readBucket(name: string): Promise<FsBucket | undefined> {
    checkBucketName(name);
    const text = await readFile(join(this.bucketDir(name), BUCKET_RECORD), 'utf8').catch(
      ignoreMissing(undefined),
    );
    if (text === undefined) return undefined;
    const record = JSON.parse(text) as BucketRecord;
    return { name, region: record.region, createdAt: new Date(record.createdAt) };
  }

  private async requireBucket(name: string): Promise<FsBucket> {
    const bucket = await this.readBucket(name);
    if (!bucket) {
      throw new BucketError(
        'not-found',
        name,
        `No bucket ${name} in the embedded store at ${this.root}: create it first ` +
          '("mailbox-export setup --bucket NAME"), or check the bucket name.',
      );
    }

    return bucket;
  }
}

/** A sink that writes to an open file from `start` on, with no buffering of its own. */
function fileWriter(handle: FileHandle, start: number): Writable {
  let position = start;
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writeAll(handle, chunk, position).then(() => {
        position += chunk.length;
        callback();
      }, callback);
    },
    writev(chunks, callback) {
      const buffers = chunks.map((c) => c.chunk as Buffer);
      writevAll(handle, buffers, position).then((written) => {
        position += written;
        callback();
      }, callback);
    },
  });
}

async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(
      data,
      written,
      data.length - written,
      position + written,
    );
    written += bytesWritten;
  }
}

/**
 * Writes `buffers` one after the other in one call where the system takes them all, without
 * joining them first: joined, every MiB sealed would be copied once more.
 */
async function writevAll(
  handle: FileHandle,
  buffers: readonly Buffer[],
  position: number,
): Promise<number> {
  const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
  const { bytesWritten } = await handle.writev(buffers, position);
  if (bytesWritten === total) return total;

  // A short write: the rest, buffer by buffer.
  let skipped = 0;
  for (const buffer of buffers) {
    const done = Math.min(buffer.length, Math.max(0, bytesWritten - skipped));
    if (done < buffer.length)
      await writeAll(handle, buffer.subarray(done), position + skipped + done);
    skipped += buffer.length;
  }
  return total;
}

function putError(error: unknown, request: PutObjectRequest): unknown {
  if (request.signal?.aborted) return request.signal.reason;
  if (error instanceof ExportError) return error;
  return new ObjectError(
    'write-failed',
    request,
    `Writing object ${request.key} to bucket ${request.bucket} failed: ` +
      `${(error as Error).message ?? String(error)}. Nothing was stored.`,
    { cause: error },
  );
}

/** Whether the process that named a temporary file has ended; unknown counts as alive. */
function writerGone(host: string, pid: number, token: string): boolean {
  if (host !== HOST_TAG) return false;
  if (pid === process.pid) return token !== RUN_TOKEN;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function ignoreMissing<T>(fallback: T): (error: NodeJS.ErrnoException) => T {
  return (error) => {
    if (error.code === 'ENOENT') return fallback;
    throw error;
  };
}

function jsonBytes(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
}
