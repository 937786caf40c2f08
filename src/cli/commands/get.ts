import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';

import type { App } from '../../app/app.js';
import { missingBucketError } from '../../app/embedded-buckets.js';
import { ObjectError } from '../../core/object-store.js';
import { withApp } from '../app-context.js';
import { counted } from '../counted.js';
import type { GlobalOptions } from '../main.js';
import { parseS3Path } from '../s3-path.js';
import { UsageError } from '../usage-error.js';

export interface GetOptions extends GlobalOptions {
  path: string;
  output?: string;
}

/**
 * Copies an object of the embedded buckets to a file, decrypted. The file appears only when
 * whole: it is written beside its final name and renamed, so an interrupted get leaves none.
 */
export async function download(app: App, path: string, output: string): Promise<number> {
  if (app.config.s3) {
    throw new UsageError(
      'Exports go to an S3 API in this configuration: fetch them with `aws s3 cp`.',
    );
  }
  const { bucket, key } = parseS3Path(path);
  const body = await app.buckets.get(bucket, key).catch((error: unknown) => {
    // ObjectError's code, WriteFailed, speaks of a lost upload; here the path names nothing.
    if (error instanceof ObjectError && error.reason === 'not-found') {
      throw new UsageError(error.message, { cause: error });
    }
    throw missingBucketError(error);
  });

  const partial = `${output}.partial-${process.pid}`;
  let bytes = 0;
  body.on('data', (chunk: Buffer) => (bytes += chunk.length));
  try {
    await pipeline(body, createWriteStream(partial, { mode: 0o600 }));
    await rename(partial, output);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return bytes;
}

export async function runGet(options: GetOptions): Promise<void> {
  const output = options.output ?? basename(parseS3Path(options.path).key);
  const bytes = await withApp(options, (app) => download(app, options.path, output), {
    recover: false,
  });
  process.stdout.write(`${output}: ${counted(bytes, 'byte')}\n`);
}
