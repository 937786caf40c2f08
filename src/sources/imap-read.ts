import { Readable } from 'node:stream';

import type { ImapFlow } from 'imapflow';

import { type ItemContent, ItemVanishedError, type SourceItem } from '../core/source.js';
import { FolderMissingError, type FolderSession } from './imap-session.js';

/**
 * Reading the raw bytes of listed messages from a selected folder. Small messages are fetched
 * many to one UID FETCH (bounded in bytes and count); large ones are streamed in partial
 * fetches, which can resume at their byte offset on a new connection. Every fetch uses
 * BODY.PEEK[] (RFC 3501 section 6.4.5), so reading never sets \Seen.
 */

export interface ReadLimits {
  readonly batchBytes: number;
  readonly batchMessages: number;
  readonly streamThreshold: number;
  readonly chunkBytes: number;
}

type Step =
  | { readonly kind: 'batch'; readonly items: readonly SourceItem[] }
  | { readonly kind: 'stream'; readonly item: SourceItem };

/** Groups consecutive small items into batches; large or unsized items are streamed alone. */
export function planReads(items: readonly SourceItem[], limits: ReadLimits): Step[] {
  const steps: Step[] = [];
  let batch: SourceItem[] = [];
  let bytes = 0;
  const flush = () => {
    if (batch.length > 0) steps.push({ kind: 'batch', items: batch });
    batch = [];
    bytes = 0;
  };
  for (const item of items) {
    const size = item.size;
    if (size === undefined || size > limits.streamThreshold) {
      flush();
      steps.push({ kind: 'stream', item });
      continue;
    }
    if (batch.length >= limits.batchMessages || bytes + size > limits.batchBytes) flush();
    batch.push(item);
    bytes += size;
  }
  flush();
  return steps;
}

export async function* readFolder(
  session: FolderSession,
  items: readonly SourceItem[],
  limits: ReadLimits,
  signal: AbortSignal,
): AsyncGenerator<ItemContent> {
  const readable = items.filter((item) => uidOf(item) !== undefined);
  const missing = items.filter((item) => uidOf(item) === undefined);
  for (const item of missing) {
    yield { item, error: new Error(`item id ${JSON.stringify(item.id)} is not an IMAP UID`) };
  }

  const done = new Set<SourceItem>();
  try {
    for await (const content of readSteps(session, readable, limits, signal)) {
      // Bodies of a batch are in memory already; an abort still stops before the next one.
      signal.throwIfAborted();
      done.add(content.item);
      yield content;
    }
  } catch (error) {
    if (!(error instanceof FolderMissingError)) throw error;
    // The folder was deleted after the cut: everything not yet read went with it.
    for (const item of readable) {
      if (done.has(item)) continue;
      yield { item, error: new ItemVanishedError(error.message, { cause: error }) };
    }
  }
}

type Batch = Awaited<ReturnType<typeof fetchBatch>>;

/**
 * Reads the planned steps in order. While the items of one batch go to the consumer, the next
 * batch is already being fetched: the server reads its files while we zip, instead of each
 * side waiting for the other. Commands still go one at a time on the connection: a batch is
 * fetched ahead only after the one before it arrived whole, and only when no item of that
 * batch must be streamed alone.
 */
async function* readSteps(
  session: FolderSession,
  items: readonly SourceItem[],
  limits: ReadLimits,
  signal: AbortSignal,
): AsyncGenerator<ItemContent> {
  const steps = planReads(items, limits);
  const fetchStep = (index: number): Promise<Batch> | undefined => {
    const step = steps[index];
    if (step?.kind !== 'batch') return undefined;
    const uids = step.items.map((item) => uidOf(item) as number);
    const fetched = session.run((c) => fetchBatch(c.client, uids, 2 * limits.batchBytes));
    // Taken where it is awaited; until then, a failure must not count as unhandled.
    fetched.catch(() => undefined);
    return fetched;
  };

  let ahead: Promise<Batch> | undefined;
  try {
    for (const [index, step] of steps.entries()) {
      signal.throwIfAborted();
      if (step.kind === 'stream') {
        yield* streamOne(session, step.item, limits);
        continue;
      }

      const { bodies, complete } = await (ahead ?? fetchStep(index)!);
      ahead = complete ? fetchStep(index + 1) : undefined;
      for (const item of step.items) {
        const body = bodies.get(uidOf(item) as number);
        if (body) {
          bodies.delete(uidOf(item) as number);
          yield { item, body };
        } else if (complete) {
          yield { item, error: vanished(session, item) };
        } else {
          yield* streamOne(session, item, limits);
        }
      }
    }
  } finally {
    // A consumer that stops early must not give the connection back with a fetch still on it.
    await ahead?.catch(() => undefined);
  }
}

/**
 * Fetches the given UIDs whole. Stops keeping bodies once `maxBytes` arrived (a server may
 * send more than the sizes it listed), and answers `complete: false` then, or when the server
 * answered NO: the items not in `bodies` must be read one by one to learn why.
 */
async function fetchBatch(
  client: ImapFlow,
  uids: readonly number[],
  maxBytes: number,
): Promise<{ bodies: Map<number, Buffer>; complete: boolean }> {
  const wanted = new Set(uids);
  const bodies = new Map<number, Buffer>();
  let bytes = 0;
  try {
    for await (const message of client.fetch(
      uidSet(uids),
      { uid: true, source: true },
      { uid: true },
    )) {
      if (!wanted.has(message.uid) || !message.source) continue;
      bodies.set(message.uid, message.source);
      bytes += message.source.length;
      if (bytes > maxBytes) return { bodies, complete: false };
    }
  } catch (error) {
    // A NO here (RFC 5530 EXPUNGEISSUED, or a message the server cannot read) leaves the
    // connection usable; the rest is sorted out per message.
    if (!client.usable || (error as { responseStatus?: string }).responseStatus !== 'NO') {
      throw error;
    }
    return { bodies, complete: false };
  }
  return { bodies, complete: true };
}

async function* streamOne(
  session: FolderSession,
  item: SourceItem,
  limits: ReadLimits,
): AsyncGenerator<ItemContent> {
  const uid = uidOf(item) as number;
  let first: Buffer | undefined;
  try {
    first = await session.run((c) => fetchChunk(c.client, uid, 0, limits.chunkBytes));
  } catch (error) {
    if ((error as { responseStatus?: string }).responseStatus !== 'NO') throw error;
    yield { item, error: unreadable(session, item, error) };
    return;
  }
  if (first === undefined) {
    yield { item, error: vanished(session, item) };
    return;
  }
  if (first.length < limits.chunkBytes) {
    yield { item, body: first };
    return;
  }

  const body = new ChunkStream(session, item, uid, first, limits.chunkBytes);
  yield { item, body };
  // The consumer is done with the body before it asks for the next item; one that is not
  // would otherwise race this stream for the connection.
  if (!body.readableEnded && !body.destroyed) {
    body.destroy(new Error(`the next item was asked for before UID ${uid} was read to its end`));
  }
  await body.settled();
}

/**
 * A large message, read one partial fetch at a time as the consumer pulls. After a dropped
 * connection the session reconnects and the next fetch starts at the byte offset reached.
 */
class ChunkStream extends Readable {
  #offset: number;
  #pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly session: FolderSession,
    private readonly item: SourceItem,
    private readonly uid: number,
    first: Buffer,
    private readonly chunkBytes: number,
  ) {
    super();
    this.#offset = first.length;
    this.push(first);
  }

  override _read(): void {
    this.#pending = this.#pull();
  }

  settled(): Promise<void> {
    return this.#pending;
  }

  async #pull(): Promise<void> {
    try {
      const chunk = await this.session.run((c) =>
        fetchChunk(c.client, this.uid, this.#offset, this.chunkBytes),
      );
      if (this.destroyed) return;
      if (chunk === undefined) {
        this.destroy(vanished(this.session, this.item));
        return;
      }
      this.#offset += chunk.length;
      if (chunk.length > 0) this.push(chunk);
      if (chunk.length < this.chunkBytes) this.push(null);
    } catch (error) {
      if (!this.destroyed) this.destroy(error as Error);
    }
  }
}

/** One partial fetch; undefined when the message no longer exists. */
async function fetchChunk(
  client: ImapFlow,
  uid: number,
  start: number,
  length: number,
): Promise<Buffer | undefined> {
  const message = await client.fetchOne(
    String(uid),
    { uid: true, source: { start, maxLength: length } },
    { uid: true },
  );
  if (!message || message.uid !== uid) return undefined;
  // BODY[]<offset> at or past the end is the empty string (RFC 3501 section 6.4.5).
  return message.source ?? Buffer.alloc(0);
}

/** A compact UID set: `3:7,9,12:13`. */
export function uidSet(uids: readonly number[]): string {
  const sorted = [...uids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) <= (sorted[j] as number) + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function uidOf(item: SourceItem): number | undefined {
  if (!/^[1-9][0-9]{0,9}$/.test(item.id)) return undefined;
  const uid = Number(item.id);
  return uid <= 0xffffffff ? uid : undefined;
}

function vanished(session: FolderSession, item: SourceItem): ItemVanishedError {
  return new ItemVanishedError(
    `message UID ${item.id} of folder ${session.label} was deleted after the export started`,
  );
}

function unreadable(session: FolderSession, item: SourceItem, cause: unknown): Error {
  const text = (cause as { responseText?: string }).responseText ?? (cause as Error).message;
  return new Error(
    `the server would not give message UID ${item.id} of folder ${session.label}: ${text}`,
    { cause },
  );
}
