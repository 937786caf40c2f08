import { Readable } from 'node:stream';
import type { ExportOptions, ExportResult } from '../core/export.js';
import { ExportError } from '../core/errors.js';
import type { ExportLog } from '../core/model.js';
import { ByteCounter } from './digest.js';
import { Cut } from './cut.js';
import { closeManifest, openManifest } from './manifest.js';
import { ProgressReporter } from './progress.js';
import { writeEntries, writeManifest, type EntryTotals } from './entries.js';
import { InOrder } from './in-order.js';
import { ZipWriter } from './zip-writer.js';

/**
 * The export: source → zip stream (hashed with SHA-384 as it is written) → byte count →
 * object store, then the export log. Nothing grows with the mailbox in memory: the cut, the
 * manifest's lists and the zip's central directory wait on disk (spool.ts), and each stage
 * reads only as fast as the next one takes (the zip's output, the byte count and the store's
 * upload are piped, never buffered).
 */

function epochSeconds(date: Date): string {
  return String(Math.floor(date.getTime() / 1000));
}

function asWriteFailure(error: unknown, options: ExportOptions, key: string): ExportError {
  if (error instanceof ExportError) return error;
  const where = `s3://${options.bucket}/${key}`;
  return new ExportError('WriteFailed', `job ${options.jobId}: could not store ${where}`, {
    cause: error,
  });
}

/**
 * Runs one export job. Resolves once the zip and then the export log are stored. Rejects with
 * an `ExportError`: `Cancelled` when `signal` aborts, `ItemUnreadable` past the bad-item
 * limit, `SourceUnavailable`, `WriteFailed`; in each case the zip upload is aborted, so that
 * nothing is stored. Once the zip is stored the job is past cancelling: the log is written
 * regardless, so that a zip never stands without its log. The caller owns `source` and
 * closes it.
 */
export async function runExport(options: ExportOptions): Promise<ExportResult> {
  const badItemLimit = options.badItemLimit ?? 0;
  if (!Number.isInteger(badItemLimit) || badItemLimit < 0) {
    throw new RangeError(`badItemLimit must be a whole number >= 0, not ${badItemLimit}`);
  }

  const controller = new AbortController();
  const stop = (reason: ExportError): void => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const cancel = (): void =>
    stop(new ExportError('Cancelled', `job ${options.jobId} was cancelled`));
  if (options.signal.aborted) cancel();
  options.signal.addEventListener('abort', cancel, { once: true });

  const pending: Promise<unknown>[] = [];
  try {
    if (controller.signal.aborted) throw controller.signal.reason;
    const cut = await Cut.take(options.source, options.jobId, controller.signal);
    let zipped: ZipOutcome;
    try {
      zipped = await writeZip(options, cut, controller, (work) => pending.push(work));
    } finally {
      // A read of the cut still under way closes the file once it has settled.
      cut.close();
    }
    const { zipLog, zipBytes, totals } = zipped;
    const log = await writeLog(options, zipLog);
    return {
      log,
      zipBytes,
      itemsExported: totals.itemsExported,
      unreadableItems: totals.unreadable,
    };
  } catch (error) {
    const failure = controller.signal.aborted
      ? (controller.signal.reason as ExportError)
      : error instanceof ExportError
        ? error
        : new ExportError('Internal', `job ${options.jobId}: ${String(error)}`, { cause: error });
    stop(failure);
    // The store removes what it began only once its put has settled, and the source may be
    // closed only once nothing reads it any more: wait for both.
    await Promise.allSettled(pending);
    throw failure;
  } finally {
    options.signal.removeEventListener('abort', cancel);
  }
}

interface ZipOutcome {
  readonly zipLog: Omit<ExportLog, 'endTime'>;
  readonly zipBytes: number;
  readonly totals: EntryTotals;
}

async function writeZip(
  options: ExportOptions,
  cut: Cut,
  controller: AbortController,
  track: (work: Promise<unknown>) => void,
): Promise<ZipOutcome> {
  const signal = controller.signal;
  const zip = new ZipWriter(options.compression ?? 'default');
  const progress = new ProgressReporter(
    options.onProgress,
    {
      foldersTotal: cut.placements.length,
      itemsTotal: cut.itemsTotal,
      bytesTotal: cut.bytesTotal,
    },
    options.progressEventMs,
  );
  // The zip hashes its own output (SHA-384) on its digest thread; here it is only counted.
  const counted = new ByteCounter((bytes) => {
    progress.counters.zipBytes = bytes;
  });
  zip.output.on('error', (error) => counted.destroy(error));
  zip.output.pipe(counted);
  // The store reads the zip once its put has set up (a bucket check, a file, an upload): a
  // failure before that reaches it through the destroyed stream, and must not be an 'error'
  // event without a listener, which would end the process.
  counted.on('error', () => undefined);

  const upload = options.objectStore.put({
    bucket: options.bucket,
    key: options.zipKey,
    body: counted,
    kmsKeyArn: options.kmsKeyArn,
    signal,
    contentType: 'application/zip',
  });
  track(upload);
  const stopped = new Promise<never>((_, reject) => {
    const onAbort = (): void => {
      counted.destroy(signal.reason as Error);
      zip.output.destroy(signal.reason as Error);
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  stopped.catch(() => undefined);
  upload.catch((error: unknown) => {
    if (!signal.aborted) controller.abort(asWriteFailure(error, options, options.zipKey));
  });

  const manifest = openManifest(options);
  try {
    const context = { options, outcomes: new InOrder(), cut, zip, manifest, progress, signal };
    const entries = writeEntries(context);
    track(entries);
    const totals = await Promise.race([entries, stopped]);
    await Promise.race([writeManifest(zip, manifest), stopped]);
    zip.finish();

    const stored = await Promise.race([upload, stopped]);
    if (stored.bytes !== counted.bytes) {
      const taken = `${stored.bytes} of ${counted.bytes} bytes`;
      const message = `job ${options.jobId}: the store took ${taken}`;
      throw new ExportError('WriteFailed', message);
    }
    progress.counters.zipBytes = counted.bytes;
    progress.flush();

    const zipLog = {
      totalNonExportableItems: String(manifest.nonExportable.length),
      totalMessages: String(totals.itemsExported),
      sha384Hash: zip.sha384,
      totalBytes: String(counted.bytes),
      totalFolders: String(cut.placements.length),
      startTime: epochSeconds(options.startTime),
    };
    return { zipLog, zipBytes: counted.bytes, totals };
  } catch (error) {
    // A zip that failed (a full temporary folder, a lost upload) fails what waits on it with
    // errors of their own, such as closed entry threads: its failure is the one that says why.
    throw zip.failure ?? error;
  } finally {
    closeManifest(manifest);
  }
}

/**
 * A zip without its export log is not an export: it is removed, so that a failed job leaves
 * no object. If even that fails, the error says which object to delete by hand.
 */
async function takeBackZip(options: ExportOptions, failure: ExportError): Promise<void> {
  try {
    await options.objectStore.delete(options.bucket, options.zipKey);
    failure.message += ` The zip ${options.zipKey} stored before it was deleted again.`;
  } catch (error) {
    failure.message +=
      ` The zip ${options.zipKey} was stored, and deleting it failed too ` +
      `(${(error as Error).message}): delete it by hand.`;
  }
}

async function writeLog(
  options: ExportOptions,
  zipLog: Omit<ExportLog, 'endTime'>,
): Promise<ExportLog> {
  const log: ExportLog = { ...zipLog, endTime: epochSeconds(new Date()) };
  try {
    await options.objectStore.put({
      bucket: options.bucket,
      key: options.logKey,
      body: Readable.from([Buffer.from(`${JSON.stringify(log, null, 2)}\n`)]),
      kmsKeyArn: options.kmsKeyArn,
      contentType: 'application/json',
    });
  } catch (error) {
    const failure = asWriteFailure(error, options, options.logKey);
    await takeBackZip(options, failure);
    throw failure;
  }
  return log;
}
