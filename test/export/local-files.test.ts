import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rename, rm, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  listAllItems,
  type MailboxSource,
  type SourceFolder,
  type SourceItem,
} from '../../src/core/source.js';
import { MailboxWriter, openMailboxDir, type StoredItem } from '../../src/store/index.js';
import { corpusRoot } from '../helpers/paths.js';
import { execFileAsync, exportSource, readManifest, readZip, sha256 } from './fixtures/helpers.js';

/**
 * The embedded source names the file of each small message, and the export reads those files
 * on its entry threads. A file renamed, deleted or unreadable between the listing and that
 * read must come out as the source itself would tell it: found again, deleted, or unreadable.
 */
describe('messages read from the files the source names', () => {
  let root: string;
  let corpus: Buffer[];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mbx-local-'));
    const dir = join(corpusRoot, 'mime');
    const names = (await readdir(dir)).filter((name) => name.endsWith('.eml')).sort();
    corpus = await Promise.all(names.map((name) => readFile(join(dir, name))));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('exports every message byte for byte, small and large in their order', async () => {
    const mailbox = join(root, 'all');
    const writer = await MailboxWriter.open(mailbox);
    for (const message of corpus) await writer.deliverMessage(['INBOX'], message);
    const named: string[] = [];
    const source = watched(openMailboxDir(mailbox), (file) => named.push(file));

    const run = await exportSource(join(root, 'all-store'), source);
    assert.equal(run.result.itemsExported, corpus.length);
    assert.ok(
      corpus.some((message) => message.length > 64 * 1024),
      'no large message',
    );
    assert.ok(named.length > 0 && named.length < corpus.length, `${named.length} files named`);

    const manifest = await readManifest(run.zipPath);
    const entries = await readZip(run.zipPath);
    const bySize = manifest.items.map((item) => [item.zipPath, item.size, item.sha256]);
    const byZip = manifest.items.map((item) => {
      const data = entries.get(item.zipPath)!;
      return [item.zipPath, data.length, sha256(data)];
    });
    assert.deepEqual(byZip, bySize);
    const stored = manifest.items.map((item) => item.sha256).sort();
    assert.deepEqual(stored, corpus.map((message) => sha256(message)).sort());
    await execFileAsync('unzip', ['-tq', run.zipPath]);
  });

  it('finds messages renamed since the listing and reports deleted and unreadable ones', async () => {
    const mailbox = join(root, 'moved');
    const writer = await MailboxWriter.open(mailbox);
    const small = corpus.filter((message) => message.length < 16 * 1024).slice(0, 7);
    const files: StoredItem[] = [];
    for (const message of small) files.push(await writer.deliverMessage(['INBOX'], message));
    const maildir = join(mailbox, 'Maildir');

    // What a mail server does to a Maildir while the export runs, once the cut is taken.
    const source = watched(
      openMailboxDir(mailbox),
      () => undefined,
      async () => {
        await unlink(files[0]!.file);
        await rename(files[1]!.file, join(maildir, 'cur', `${files[1]!.id}:2,RS`));
        await rename(files[2]!.file, join(maildir, 'new', files[2]!.id));
        await unlink(files[3]!.file);
        await symlink(files[3]!.file, files[3]!.file); // a link to itself: ELOOP
        // A FIFO would block a read for ever: it must be refused, not read.
        await unlink(files[4]!.file);
        await execFileAsync('mkfifo', [files[4]!.file]);
      },
    );

    const run = await exportSource(join(root, 'moved-store'), source, { badItemLimit: 2 });
    assert.equal(run.result.itemsExported, small.length - 3);
    assert.equal(run.result.unreadableItems, 2);
    const manifest = await readManifest(run.zipPath);
    assert.deepEqual(
      manifest.deleted.map((problem) => problem.sourceId),
      [files[0]!.id],
    );
    assert.deepEqual(
      manifest.unreadable.map((problem) => problem.sourceId),
      [files[3]!.id, files[4]!.id],
    );
    assert.match(manifest.unreadable[0]!.reason, /could not be read/);
    assert.match(manifest.unreadable[1]!.reason, /not a regular file/);
    assert.ok(!manifest.unreadable[1]!.reason.includes(root), 'a server path in the manifest');

    const entries = await readZip(run.zipPath);
    const names = [...entries.keys()].filter((name) => name.startsWith('INBOX/'));
    assert.deepEqual(names, ['INBOX/', ...[2, 3, 6, 7].map((n) => `INBOX/${entryName(n)}`)]);
    for (const [n, index] of [
      [2, 1],
      [3, 2],
      [6, 5],
      [7, 6],
    ] as const) {
      assert.deepEqual(entries.get(`INBOX/${entryName(n)}`), small[index]);
    }
    await execFileAsync('unzip', ['-tq', run.zipPath]);
  });
});

function entryName(sequence: number): string {
  return `${String(sequence).padStart(6, '0')}.eml`;
}

/** The source, with the files it names reported, and `afterListing` run after each listing. */
function watched(
  source: MailboxSource,
  onNamed: (file: string) => void,
  afterListing: () => Promise<void> = async () => undefined,
): MailboxSource {
  return {
    listFolders: (signal) => source.listFolders(signal),
    async *listItems(folder: SourceFolder, signal: AbortSignal): AsyncGenerator<SourceItem[]> {
      const items = await listAllItems(source, folder, signal);
      await afterListing();
      yield items;
    },
    readItems: (folder, items, signal) => source.readItems(folder, items, signal),
    localFile(folder, item) {
      const file = source.localFile?.(folder, item);
      if (file !== undefined) onNamed(file);
      return file;
    },
    close: () => source.close(),
  };
}
