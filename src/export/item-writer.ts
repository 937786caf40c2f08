import { Readable } from 'node:stream';
import { LIMITS } from '../core/limits.js';
import type { SourceItem } from '../core/source.js';
import { readCalendarFields, type CalendarFields } from './calendar-fields.js';
import {
  Base64Lines,
  STREAMED_FORM,
  calendarHeader,
  chooseBodyForm,
  type BodyForm,
} from './calendar-mime.js';
import { observeBody, type ReadOutcome } from './digest.js';
import { calendarTimeText, type ManifestItem, type PartialEntry } from './manifest.js';
import { HeaderCapture, parseHeaderFields } from './message-header.js';
import { EntryReadError, type EntryFacts, type EntryInput } from './entry-workers.js';
import type { ZipWriter } from './zip-writer.js';

/** Everything one item's writer needs; `onBytes` counts source bytes for progress. */
export interface ItemTarget {
  readonly zip: ZipWriter;
  readonly folder: string;
  readonly zipPath: string;
  readonly item: SourceItem;
  readonly signal: AbortSignal;
  readonly onBytes: (bytes: number) => void;
}

export type ItemOutcome =
  | { readonly ok: true; readonly record: ManifestItem }
  | { readonly ok: false; readonly error: Error; readonly partialEntry?: PartialEntry };

/** Destroys the streams when the job stops, so that no read waits for data that never comes. */
function releaseOnAbort(signal: AbortSignal, streams: readonly Readable[]): () => void {
  const release = (): void => {
    for (const stream of streams) stream.destroy(signal.reason as Error);
  };
  if (signal.aborted) release();
  signal.addEventListener('abort', release, { once: true });
  return () => signal.removeEventListener('abort', release);
}

function baseRecord(target: ItemTarget, read: ReadOutcome): ManifestItem {
  const { item } = target;
  return {
    zipPath: target.zipPath,
    folder: target.folder,
    sourceId: item.id,
    kind: item.kind === 'event' ? 'event' : 'message',
    size: read.bytes,
    sha256: read.sha256,
    flags: [...(item.flags ?? [])].sort(),
    ...(item.internalDate ? { internalDate: item.internalDate.toISOString() } : {}),
  };
}

/**
 * A message streamed, or given whole but larger than a small entry, goes into the zip byte for
 * byte; its header block is read on the way.
 */
export async function writeMessage(
  target: ItemTarget,
  body: Readable | Buffer,
): Promise<ItemOutcome> {
  if (Buffer.isBuffer(body)) body = Readable.from([body], { objectMode: false });

  const capture = new HeaderCapture();
  const observe = (chunk: Buffer): void => {
    capture.observe(chunk);
    target.onBytes(chunk.length);
  };
  // The entry holds the message's bytes as they are: the CRC-32 is read with its SHA-256.
  const { stream, outcome } = observeBody(body, observe, target.zip.digests);
  const unbind = releaseOnAbort(target.signal, [body, stream]);
  try {
    const crc32 = outcome.then((read) => read.crc32!);
    await target.zip.addFile(target.zipPath, stream, crc32);
    const read = await outcome;
    if (read.error !== undefined) {
      const partialEntry = { zipPath: target.zipPath, size: read.bytes, sha256: read.sha256 };
      return { ok: false, error: read.error, partialEntry };
    }

    const header = parseHeaderFields(capture.block());
    return { ok: true, record: { ...baseRecord(target, read), header } };
  } finally {
    unbind();
  }
}

/** What the entry threads work out for a message besides its entry. */
const MESSAGE_WORK = { sha256: true, header: true } as const;

/** A small message given whole, or whose whole file its source named. */
export interface WholeMessage {
  readonly target: ItemTarget;
  readonly input: EntryInput;
  /** Reads the message through its source, for a file that could not be read. */
  readonly reread: () => Promise<Buffer | Error>;
}

/**
 * Small messages, written with the same entries and records as streamed ones, with the
 * reading and the per-byte work done on the entry threads, and one promise for all of them.
 * A file those threads cannot read is read through its message's `reread` instead, which may
 * tell that the message is gone. Resolves once the zip has room for them; `outcomes` settles
 * once their facts are known, in the order of `messages`.
 */
export async function writeWholeMessages(
  zip: ZipWriter,
  messages: readonly WholeMessage[],
): Promise<{ readonly outcomes: Promise<ItemOutcome[]> }> {
  for (const { target, input } of messages) {
    target.onBytes(Buffer.isBuffer(input) ? input.length : input.size);
  }
  const { workers } = zip;
  const submitted = workers.submitAll(
    messages.map((message) => message.input),
    MESSAGE_WORK,
  );
  const known = submitted.then(async (results): Promise<(EntryFacts | Error)[]> => {
    const settled: (EntryFacts | Error)[] = [...results];
    // One at a time: after a mail client renamed a whole folder's files, each reread looks
    // for its file again, and a group of them at once would list the folder as often.
    for (const [index, result] of results.entries()) {
      if (!(result instanceof EntryReadError)) continue;
      const again = await messages[index]!.reread();
      settled[index] = Buffer.isBuffer(again) ? await workers.submit(again, MESSAGE_WORK) : again;
    }
    return settled;
  });
  await zip.addWholeFiles(
    messages.map(({ target }) => target.zipPath),
    known.then((list) => list.map((facts) => (facts instanceof Error ? undefined : facts))),
  );

  const outcomes = known.then((list) =>
    list.map((facts, index): ItemOutcome => {
      if (facts instanceof Error) return { ok: false, error: facts };
      const { target } = messages[index]!;
      const { size, sha256, header } = facts;
      if (sha256 === undefined || header === undefined) {
        throw new Error(`the entry threads left out the facts of ${target.zipPath}`);
      }
      return { ok: true, record: { ...baseRecord(target, { bytes: size, sha256 }), header } };
    }),
  );
  outcomes.catch(() => undefined);
  return { outcomes };
}

function calendarRecord(fields: CalendarFields, form: BodyForm): ManifestItem['calendar'] {
  const { dtstamp, dtstart, ...rest } = fields;
  return {
    ...rest,
    ...(dtstamp ? { dtstamp: calendarTimeText(dtstamp) } : {}),
    ...(dtstart ? { dtstart: calendarTimeText(dtstart) } : {}),
    encoding: form.encoding,
  };
}

/** Reads up to `limit` bytes and one chunk more; `done` when the body ended before that. */
async function readHead(
  chunks: AsyncIterator<Buffer>,
  limit: number,
): Promise<{ head: Buffer[]; done: boolean }> {
  const head: Buffer[] = [];
  let bytes = 0;
  while (bytes <= limit) {
    const next = await chunks.next();
    if (next.done === true) return { head, done: true };
    head.push(next.value);
    bytes += next.value.length;
  }
  return { head, done: false };
}

/**
 * A calendar item becomes one MIME message (calendar-mime.ts). Small items are read whole
 * first, to read their fields; larger ones are streamed as base64 behind a header made from
 * what is known before reading.
 */
export async function writeEvent(
  target: ItemTarget,
  content: Readable | Buffer,
): Promise<ItemOutcome> {
  const body = Buffer.isBuffer(content) ? Readable.from([content], { objectMode: false }) : content;
  const source = observeBody(body, (chunk) => target.onBytes(chunk.length));
  const chunks = source.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const unbind = releaseOnAbort(target.signal, [body, source.stream]);
  try {
    const { head, done } = await readHead(chunks, LIMITS.calendarItemBytesInMemory);
    let fields: CalendarFields;
    let form: BodyForm;
    let entryData: AsyncIterable<Buffer> | Buffer[];

    if (done) {
      const read = await source.outcome;
      if (read.error !== undefined) return { ok: false, error: read.error };

      const ics = Buffer.concat(head);
      fields = readCalendarFields(ics);
      form = chooseBodyForm(ics);
      const header = calendarHeader({ fields, form, identity: ics, ...dateOf(target.item) });
      const encoder = new Base64Lines();
      const text =
        form.encoding === '8bit' ? ics : Buffer.concat([encoder.push(ics), encoder.end()]);
      entryData = [header, text];
    } else {
      fields = {
        problem: `larger than ${LIMITS.calendarItemBytesInMemory} bytes; fields not read`,
      };
      form = STREAMED_FORM;
      const identity = `${target.folder}\n${target.item.id}`;
      const header = calendarHeader({ fields, form, identity, ...dateOf(target.item) });
      entryData = streamBase64(header, head, chunks);
    }

    const entry = observeBody(Readable.from(entryData, { objectMode: false }));
    const unbindEntry = releaseOnAbort(target.signal, [entry.stream]);
    try {
      await target.zip.addFile(target.zipPath, entry.stream);
    } finally {
      unbindEntry();
    }
    const [read, written] = await Promise.all([source.outcome, entry.outcome]);
    const entryFields = { entrySize: written.bytes, entrySha256: written.sha256 };
    if (read.error !== undefined) {
      const partialEntry = { zipPath: target.zipPath, size: written.bytes, sha256: written.sha256 };
      return { ok: false, error: read.error, partialEntry };
    }

    const calendar = calendarRecord(fields, form);
    return { ok: true, record: { ...baseRecord(target, read), ...entryFields, calendar } };
  } finally {
    unbind();
  }
}

function dateOf(item: SourceItem): { internalDate?: Date } {
  return item.internalDate ? { internalDate: item.internalDate } : {};
}

async function* streamBase64(
  header: Buffer,
  head: readonly Buffer[],
  rest: AsyncIterator<Buffer>,
): AsyncGenerator<Buffer> {
  yield header;
  const encoder = new Base64Lines();
  for (const chunk of head) {
    const lines = encoder.push(chunk);
    if (lines.length > 0) yield lines;
  }
  for (let next = await rest.next(); next.done !== true; next = await rest.next()) {
    const lines = encoder.push(next.value);
    if (lines.length > 0) yield lines;
  }
  const last = encoder.end();
  if (last.length > 0) yield last;
}
