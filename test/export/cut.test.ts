import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { setImmediate as nextTurn } from 'node:timers/promises';

import type {
  ItemContent,
  MailboxSource,
  SourceFolder,
  SourceItem,
} from '../../src/core/source.js';
import { CUT_CHUNK_ITEMS, Cut } from '../../src/export/cut.js';
import { orderItems } from '../../src/export/layout.js';
import { FixtureSource, type FixtureFolder } from './fixtures/file-source.js';
import { exportSource, readManifest, readZip } from './fixtures/helpers.js';

/**
 * The cut waits on disk and comes back a chunk at a time: what a source listed must come back
 * whole and in the export's order, and a folder larger than a chunk or a run of reads must be
 * exported whole.
 */

const ITEMS = 2 * CUT_CHUNK_ITEMS + 500;

/** Items listed out of order, with every field a source may give, some left out. */
function listed(count: number): SourceItem[] {
  return Array.from({ length: count }, (_, n) => {
    const id = String(count - n);
    if (n % 7 === 0) return { id, kind: 'contact', note: `contact ${id}\nwith a line break` };
    return {
      id,
      kind: 'message',
      size: n,
      flags: n % 2 === 0 ? ['\\Seen', 'ключ'] : [],
      internalDate: new Date(Date.UTC(2024, 0, 1) + n * 1001),
      locator: `cur/${id}:2,S`,
    };
  });
}

/** A source that lists what it is given and counts its reads. */
class ListingSource extends FixtureSource {
  readonly runs: number[] = [];

  constructor(
    folders: readonly FixtureFolder[],
    private readonly listing: readonly SourceItem[] = [],
  ) {
    super(folders);
  }

  override async *listItems(folder: SourceFolder): AsyncGenerator<SourceItem[]> {
    if (this.listing.length > 0) yield [...this.listing];
    else yield* super.listItems(folder);
  }

  override readItems(
    folder: SourceFolder,
    items: readonly SourceItem[],
    signal: AbortSignal,
  ): AsyncIterable<ItemContent> {
    this.runs.push(items.length);
    return super.readItems(folder, items, signal);
  }
}

describe('the cut', () => {
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-cut-'));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('gives back every item as listed, in the order of their ids, a chunk at a time', async () => {
    const items = listed(ITEMS);
    const source = new ListingSource([{ path: ['INBOX'], kind: 'mail', items: [] }], items);
    const cut = await Cut.take(source, 'job-1', new AbortController().signal);
    try {
      const [placement] = cut.placements;
      const chunks: SourceItem[][] = [];
      for await (const chunk of cut.items(placement!.folder)) chunks.push(chunk);

      assert.deepEqual(
        chunks.map((chunk) => chunk.length),
        [CUT_CHUNK_ITEMS, CUT_CHUNK_ITEMS, ITEMS - 2 * CUT_CHUNK_ITEMS],
      );
      const byId = [...items].sort((a, b) => Number(a.id) - Number(b.id));
      assert.deepEqual(chunks.flat(), byId);

      const messages = items.filter((item) => item.kind === 'message');
      assert.equal(cut.itemsTotal, messages.length);
      assert.equal(
        cut.bytesTotal,
        messages.reduce((sum, item) => sum + item.size!, 0),
      );
    } finally {
      cut.close();
    }
  });

  it('sorts folders larger than a run in runs, merged, while others are listed', async () => {
    // Ids of all shapes, in a scrambled order: numbers (sorted by value), names, repeats of
    // neither. Each folder comes in small chunks, a turn apart, so that listings interleave.
    const folders: SourceFolder[] = [0, 1, 2, 3, 4].map((n) => ({ path: [`F${n}`], kind: 'mail' }));
    const listings = new Map<SourceFolder, SourceItem[]>();
    folders.forEach((folder, n) => {
      const count = [0, 5, 16, 17, 300][n]!;
      const items = Array.from({ length: count }, (_, i): SourceItem => {
        const k = (i * 7919) % count;
        const id = k % 3 === 0 ? `m-${k}.host` : String(k * 13 + n);
        return { id, kind: 'message', size: k, locator: `cur/${id}` };
      });
      listings.set(folder, items);
    });
    const source: MailboxSource = {
      listFolders: async () => folders,
      async *listItems(folder) {
        const items = listings.get(folder)!;
        for (let i = 0; i < items.length; i += 5) {
          await nextTurn();
          yield items.slice(i, i + 5);
        }
      },
      readItems: () => {
        throw new Error('not read');
      },
      close: async () => undefined,
    };

    for (const runItems of [16, 4, 100_000]) {
      const cut = await Cut.take(source, 'job-1', new AbortController().signal, runItems);
      try {
        for (const placement of cut.placements) {
          const back: SourceItem[] = [];
          for await (const chunk of cut.items(placement.folder)) back.push(...chunk);
          assert.deepEqual(
            back,
            orderItems(listings.get(placement.folder)!),
            `runs of ${runItems}`,
          );
        }
        assert.equal(cut.itemsTotal, 5 + 16 + 17 + 300);
      } finally {
        cut.close();
      }
    }
  });

  it('counts no bytes when the source did not give every size', async () => {
    const items: SourceItem[] = [
      { id: '1', kind: 'message', size: 10 },
      { id: '2', kind: 'message' },
    ];
    const source = new ListingSource([{ path: ['INBOX'], kind: 'mail', items: [] }], items);
    const cut = await Cut.take(source, 'job-1', new AbortController().signal);
    cut.close();
    assert.equal(cut.itemsTotal, 2);
    assert.equal(cut.bytesTotal, 0);
  });

  it('exports a folder larger than a run of reads, every item once, in order', async () => {
    const items = Array.from({ length: ITEMS }, (_, n) => ({
      id: String(n + 1),
      kind: 'message' as const,
      text: `Subject: ${n + 1}\r\n\r\nbody ${n + 1}\r\n`,
      ...(n === CUT_CHUNK_ITEMS ? { fail: 'vanish' as const } : {}),
    }));
    const source = new ListingSource([{ path: ['INBOX'], kind: 'mail', items }]);
    const run = await exportSource(join(root, 'large'), source);

    // A run of reads is known whole before it starts: no run is longer than a chunk.
    assert.ok(source.runs.length >= 3, `runs: ${source.runs.join(', ')}`);
    assert.ok(source.runs.every((length) => length <= CUT_CHUNK_ITEMS));
    assert.equal(
      source.runs.reduce((sum, length) => sum + length, 0),
      ITEMS,
    );

    const manifest = await readManifest(run.zipPath);
    assert.deepEqual(
      manifest.deleted.map((problem) => problem.sourceId),
      [String(CUT_CHUNK_ITEMS + 1)],
    );
    assert.equal(manifest.items.length, ITEMS - 1);
    const zip = await readZip(run.zipPath);
    for (const item of manifest.items) {
      const sequence = Number(item.zipPath.slice('INBOX/'.length, -'.eml'.length));
      assert.equal(item.sourceId, String(sequence));
      assert.equal(
        zip.get(item.zipPath)?.toString(),
        `Subject: ${sequence}\r\n\r\nbody ${sequence}\r\n`,
      );
    }
  });
});
